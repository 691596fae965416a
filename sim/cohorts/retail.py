"""Retail / noise traders: idiosyncratic and common noise, a shared mood, dip buying."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from sim.cohorts.base import Cohort, CohortConfig
from sim.cohorts.registry import register
from sim.kernels import orders
from sim.sampling import bernoulli_subset, switch

if TYPE_CHECKING:
    from sim.model import MoatshockModel


class RetailConfig(CohortConfig):
    noise_volume_share: float = Field(
        0.6, ge=0, le=100, description="noise trading as a fraction of normal volume"
    )
    dip_buying: float = Field(
        0.5,
        ge=0,
        le=100,
        description="fraction of wealth bought per unit log drop since prior close",
    )
    sentiment_weight: float = Field(0.2, ge=0, le=1, description="mood part of noise orders")
    common_noise: float = Field(
        0.6, ge=0, le=1, description="market-wide liquidity-shock part of noise orders"
    )
    herding: float = Field(0.6, ge=0, le=100, description="Kirman: switch hazard from neighbours")
    autonomous_switch: float = Field(0.01, ge=0, le=1, description="Kirman epsilon per step")
    return_feedback: float = Field(
        5.0, ge=0, le=1000, description="pessimism from losses (per log-ret)"
    )
    max_cash_use: float = Field(
        0.5, ge=1e-3, le=1, description="largest fraction of cash spent in one step"
    )
    activity: float = Field(
        0.1, ge=1e-3, le=1, description="probability that a member trades in a given step"
    )


@register(
    "retail",
    RetailConfig,
    order=5,
    description="retail / noise traders",
)
class Retail(Cohort):
    """Retail / noise traders: idiosyncratic noise orders, a shared mood, and dip buying.

    Members are optimists or pessimists; they switch with Lux-Marchesi rates ``nu exp(+-U)``,
    ``U = alpha_h x + alpha_r r_day`` where ``x`` is the population opinion index (a population
    share, so herding survives at any size) and ``r_day`` today's average return. Orders per step
    are ``zeta W (omega x + c xi + (1 - omega - c) eps) / p`` plus dip buying in proportion to the
    drop since the previous close; sales never exceed holdings. ``xi`` is a market-wide liquidity
    shock per asset and step shared by all members (noise-trader risk, De Long et al. 1990): the
    idiosyncratic ``eps`` averages away in a large crowd, the shared part does not.
    """

    amplifiers: ClassVar[tuple[str, ...]] = ("noise_volume_share", "dip_buying", "common_noise")

    def __init__(
        self, model: MoatshockModel, rows: slice, cfg: RetailConfig, rng: np.random.Generator
    ) -> None:
        super().__init__(model, rows, cfg, rng)
        u = model.universe
        steps = model.ticks.steps_per_session
        w_total = max(float(self.wealth.sum()), 1.0)
        idio = max(1.0 - cfg.sentiment_weight - cfg.common_noise, 1e-6)
        mix = (idio + cfg.common_noise) * np.sqrt(2.0 / np.pi)
        # per-step noise turnover (fraction of wealth) that yields the configured noise volume
        self.zeta = cfg.noise_volume_share * u.adv * u.price0 / (steps * w_total * mix)
        self.optimist = rng.random(self.n) < 0.5
        self.opinion = float(2 * self.optimist.mean() - 1) if self.n else 0.0
        self.act = np.zeros(0, dtype=np.int64)
        self.d_act = np.zeros((0, u.n_assets))

    def _switch(self) -> None:
        c = self.cfg
        m = self.model.market
        r_day = float(np.mean(m.lp - m.lp_prev_close))
        u = c.herding * self.opinion + c.return_feedback * r_day
        p_up = min(c.autonomous_switch * np.exp(u), 1.0)
        p_down = min(c.autonomous_switch * np.exp(-u), 1.0)
        switch(self.stream, self.optimist, p_down, p_up)
        self.opinion = float(2 * self.optimist.mean() - 1) if self.n else 0.0

    def submit(self) -> None:
        c = self.cfg
        m = self.model.market
        self._switch()
        # only a random few members trade in a given step; their orders are scaled up so the
        # expected flow is unchanged (and the cost of a step is proportional to who trades)
        act = bernoulli_subset(self.stream, self.n, c.activity)
        self.act = act
        a = self.holdings.shape[1]
        eps = self.stream.standard_normal((act.size, a), dtype=np.float32)
        xi = self.stream.standard_normal(a)
        idio_w = max(1.0 - c.sentiment_weight - c.common_noise, 0.0)
        common = c.sentiment_weight * self.opinion + c.common_noise * xi
        drop = np.maximum(m.lp_prev_close - m.lp, 0.0)
        dip = c.dip_buying * drop * self.bench / m.steps_per_session
        self.d_act = np.empty((act.size, a))
        self.fixed = orders.retail_orders(
            act, self.holdings, self.cash, eps, common, self.zeta, dip, m.price,
            idio_w, 1.0 / c.activity, c.max_cash_use, self.d_act,
        )  # fmt: skip

    def settle(self, lp_exec: np.ndarray, phi: np.ndarray | None, lp_decide: np.ndarray) -> None:
        ones = np.ones(lp_exec.size) if phi is None else phi
        self.flow, self.volume = orders.book_rows(
            self.act, self.d_act, ones, self.holdings, self.cash, np.exp(lp_exec)
        )

    def reporters(self) -> dict[str, Callable[[], Any]]:
        return {"retail_opinion": lambda: self.opinion}
