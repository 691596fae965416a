"""Trend followers (CTAs) with Franke-Westerhoff switching between active and inactive."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from sim.cohorts.base import Cohort, CohortConfig
from sim.cohorts.registry import register
from sim.kernels import chunks, orders
from sim.sampling import switch

if TYPE_CHECKING:
    from sim.model import MoatshockModel
    from sim.universe import Universe


class MomentumConfig(CohortConfig):
    horizons_steps: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: [39, 78, 234, 390],
        min_length=1,
        max_length=50,
        description="look-backs, steps (each 1 to 100,000)",
    )
    aggressiveness: float = Field(1.0, ge=0, le=10, description="max tilt, multiple of benchmark")
    signal_scale: float = Field(
        0.05, ge=1e-4, le=10, description="log-return that saturates the tilt"
    )
    adjust_per_step: float = Field(
        0.01, ge=1e-4, le=1, description="share of the gap to target traded per step"
    )
    switch_rate: float = Field(
        0.02, ge=0, le=1, description="Franke-Westerhoff base switching/step"
    )
    herding: float = Field(1.0, ge=0, le=100, description="alpha_n: pull of the active share")
    volatility_attraction: float = Field(
        2.0, ge=0, le=100, description="alpha_v: recent |returns| in units of normal vol attract"
    )
    predisposition: float = Field(
        -0.5, ge=-100, le=100, description="alpha_0: <0 means mostly inactive"
    )
    crowding: float = Field(
        0.0,
        ge=0,
        le=100,
        description="tilt of the neutral book per unit of crowding score (universe.positioning): "
        "trend followers start long last year's winners",
    )


@register(
    "momentum",
    MomentumConfig,
    order=1,
    description="trend followers (CTAs) with Franke-Westerhoff activity switching",
)
class Momentum(Cohort):
    """Trend followers (CTAs): tilt away from the benchmark with the return over their horizon.

    Target ``f = w_b (1 + a tanh(r_h / s))`` for active members. Members switch between active and
    inactive with Franke-Westerhoff-style rates ``nu exp(+-A)``, where the attractiveness
    ``A = alpha_0 + alpha_n (2 n_active - 1) + alpha_v (vol_ratio - 1)`` depends on population
    shares and observed volatility, so the herding survives any population size.
    """

    crowded = True

    @classmethod
    def neutral_book(cls, universe: Universe, w0: np.ndarray, cfg: Any) -> np.ndarray:
        """Trend followers' book at the start: last year's winners overweighted
        (:func:`sim.cohorts.leveraged.crowded_book`)."""
        from sim.cohorts.leveraged import crowded_book

        return crowded_book(universe, w0, cfg.crowding)

    amplifiers: ClassVar[tuple[str, ...]] = (
        "aggressiveness",
        "signal_scale",
        "adjust_per_step",
        "herding",
    )

    def __init__(
        self, model: MoatshockModel, rows: slice, cfg: MomentumConfig, rng: np.random.Generator
    ) -> None:
        super().__init__(model, rows, cfg, rng)
        self.horizons = np.array(cfg.horizons_steps)
        self.h_idx = rng.integers(0, len(self.horizons), size=self.n)
        self.bounds = chunks(self.n)
        self.active = rng.random(self.n) < 0.5 * (1 + np.tanh(cfg.predisposition))
        self.active_share = float(self.active.mean()) if self.n else 0.0

    def _switch(self) -> None:
        c = self.cfg
        vol = float(np.mean(self.model.market.realised_vol_ratio()))
        attract = c.predisposition + c.herding * (2 * self.active_share - 1)
        attract += c.volatility_attraction * (vol - 1.0)
        p_on = min(c.switch_rate * np.exp(attract), 1.0)
        p_off = min(c.switch_rate * np.exp(-attract), 1.0)
        switch(self.stream, self.active, p_off, p_on)
        self.active_share = float(self.active.mean()) if self.n else 0.0

    def submit(self) -> None:
        m = self.model.market
        self._switch()
        c = self.cfg
        # returns over each horizon (aggregate); each member reads its own horizon's row
        r = np.stack([m.lp - m.lp_ago(int(h)) for h in self.horizons])  # (H, A)
        frac = self.bench * (1.0 + c.aggressiveness * np.tanh(r / c.signal_scale))
        self.fixed = orders.tilt_orders(
            self.bounds, self.holdings, self.cash, self.wealth, self.h_idx, frac,
            self.active, m.price, c.adjust_per_step, self.delta,
        )  # fmt: skip

    def reporters(self) -> dict[str, Callable[[], Any]]:
        return {"momentum_active": lambda: self.active_share}
