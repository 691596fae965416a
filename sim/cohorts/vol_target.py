"""Volatility targeters / risk parity: exposure scaled by target over realised volatility."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from sim.cohorts.base import Cohort, CohortConfig
from sim.cohorts.registry import register

if TYPE_CHECKING:
    from sim.model import MoatshockModel


class VolTargetConfig(CohortConfig):
    target_volatility: float = Field(0.10, ge=1e-3, le=5, description="annualised target")
    max_leverage: float = Field(1.5, ge=0.01, le=20, description="cap on exposure / benchmark")
    ewma_halflife_steps: float = Field(390.0, ge=1, le=1e6, description="their realised-vol memory")
    adjust_per_day: float = Field(0.3, ge=1e-3, le=1, description="share of the gap closed per day")
    rebalance_steps: int = Field(
        12, ge=1, le=1000, description="they trade over this many last steps of each session"
    )


@register(
    "vol_target",
    VolTargetConfig,
    order=2,
    description="volatility targeters / risk parity",
)
class VolTarget(Cohort):
    """Volatility targeters / risk parity: exposure ~ target vol / realised vol (capped).

    They keep their own slow EWMA of squared step returns and, over the last
    ``rebalance_steps`` steps of each session, move ``adjust_per_day`` of the way to
    ``w_b * min(L, s*/s_hat) / min(L, s*/s_normal)``.
    """

    amplifiers: ClassVar[tuple[str, ...]] = ("max_leverage", "adjust_per_day")

    def __init__(
        self, model: MoatshockModel, rows: slice, cfg: VolTargetConfig, rng: np.random.Generator
    ) -> None:
        super().__init__(model, rows, cfg, rng)
        self.var = model.market.normal_step_var.copy()
        self.alpha = 1.0 - 0.5 ** (1.0 / cfg.ewma_halflife_steps)
        self._seen = model.market.k

    def submit(self) -> None:
        m = self.model.market
        c = self.cfg
        if m.k > self._seen:
            r = m.lp - m.lp_ago(1)
            self.var += self.alpha * (r * r - self.var)
            self._seen = m.k
        # they rebalance over the last hour of the session, not in one closing print
        steps_left = self.model.steps_to_close()
        self.idle = steps_left >= c.rebalance_steps
        if not self.idle:
            self.mark_to_market()
            ann = np.sqrt(self.var * m.steps_per_session * 252.0)
            ann0 = np.sqrt(m.normal_step_var * m.steps_per_session * 252.0)
            scale = np.minimum(c.max_leverage, c.target_volatility / ann)
            scale0 = np.minimum(c.max_leverage, c.target_volatility / ann0)
            frac = self.bench * scale / scale0
            # spread the day's adjustment evenly over the remaining steps of the window
            k = 1.0 - (1.0 - c.adjust_per_day) ** (1.0 / c.rebalance_steps)
            self._rebalance_to(frac[None, :], k, m.lp)
            self.fixed = self.delta.sum(axis=0)
        else:
            self.fixed = np.zeros_like(self.fixed)
