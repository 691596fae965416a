"""Hedge funds: belief-driven, levered, may short; margin calls force sales."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from sim.cohorts.fundamental import Fundamental, GapClosingConfig
from sim.cohorts.registry import register

if TYPE_CHECKING:
    from sim.model import MoatshockModel
    from sim.universe import Universe


class LeveragedConfig(GapClosingConfig):
    leverage: float = Field(3.0, ge=1, le=20, description="gross exposure / equity at target")
    risk_aversion: float = Field(
        2.0, ge=0.01, le=1000, description="gamma of the tilt (as for fundamental)"
    )
    horizon_days: float = Field(
        120.0, ge=1, le=2520, description="horizon of sigma^2, trading days"
    )
    adjust_per_step: float = Field(
        0.02, ge=1e-4, le=1, description="kappa: share of the belief gap closed per step"
    )
    open_adjust: float = Field(0.7, ge=1e-4, le=1, description="kappa at the opening auction")
    price_response_per_step: float = Field(
        0.02, ge=1e-4, le=1, description="kappa_p: price response per step"
    )
    maintenance_margin: float = Field(0.15, ge=0.01, lt=1, description="equity/gross floor")
    initial_margin: float = Field(0.2, ge=0.01, lt=1, description="equity/gross restored")
    forced_sale_per_step: float = Field(
        0.1, ge=1e-3, le=1, description="share of a margin call's cut sold per step"
    )
    var_sensitivity: float = Field(
        0.5,
        ge=0,
        le=10,
        description="neutral book scaled by (vol/normal vol)^-this when vol is high",
    )
    margin_vol_sensitivity: float = Field(
        1.0,
        ge=0,
        le=10,
        description="margins scale with (vol/normal vol)^this, when vol is above normal",
    )
    short_limit: float = Field(1.0, ge=0, le=10, description="max short, multiple of benchmark")
    crowding: float = Field(
        1.0, ge=0, le=100, description="overweight of compute-exposed names in their neutral book"
    )
    reaction: float = Field(1.0, ge=0.01, le=100, description="over(>1)/under(<1)-reaction to news")

    @model_validator(mode="after")
    def _margins(self) -> LeveragedConfig:
        if self.initial_margin <= self.maintenance_margin:
            raise ValueError("initial_margin must exceed maintenance_margin")
        return self


@register(
    "leveraged",
    LeveragedConfig,
    order=3,
    description="hedge funds: levered, may short, margin calls",
)
class Leveraged(Fundamental):
    """Hedge funds: belief-driven like funds but levered and allowed to short; margin calls.

    When equity falls below ``maintenance_margin`` x gross exposure, positions are cut (a market
    order at the next step) until equity is ``initial_margin`` x gross: forced selling into a
    falling market, the fire-sale channel. Brokers raise margins with volatility (the margin
    spiral of Brunnermeier and Pedersen, 2009): each position's margin is scaled by
    ``max(1, vol / vol_normal) ** margin_vol_sensitivity``, so the more levered a fund, the
    sooner a volatility spike forces it to sell. Before any margin call, risk limits already
    make leverage procyclical (a value-at-risk rule, Adrian and Shin 2010): the neutral book is
    scaled by ``min(1, vol / vol_normal) ** -var_sensitivity``, so when volatility jumps the
    funds de-gross, and the more levered they are the more they sell.
    """

    amplifiers: ClassVar[tuple[str, ...]] = (
        "leverage",
        "crowding",
        "forced_sale_per_step",
        "margin_vol_sensitivity",
    )

    crowded = True

    @classmethod
    def target_leverage(cls, cfg: Any) -> float:
        return float(cfg.leverage)

    @classmethod
    def neutral_book(cls, universe: Universe, w0: np.ndarray, cfg: Any) -> np.ndarray:
        """The crowded book, per unit of leverage: market weights ``w0`` tilted by ``crowding``
        towards the names most exposed to compute demand (rescaled to invest as much)."""
        z = np.clip(universe.exposures[:, universe.factor_names.index("compute_demand")], 0, None)
        z = z / z.max() if z.max() > 0 else z
        tilt = w0 * (1.0 + cfg.crowding * z)
        return tilt * w0.sum() / tilt.sum()

    def __init__(
        self,
        model: MoatshockModel,
        rows: slice,
        cfg: LeveragedConfig,
        rng: np.random.Generator,
    ) -> None:
        self.leverage = cfg.leverage
        super().__init__(model, rows, cfg, rng)
        self.forced = np.zeros_like(self.holdings)  # forced sales of members under a call
        self.margin_calls = 0

    def _lower(self) -> np.ndarray:
        return -self.cfg.short_limit * self.bench

    def _upper(self) -> np.ndarray:
        return 3.0 * self.leverage * self.bench

    def submit(self) -> None:
        m = self.model.market
        vr = np.maximum(m.realised_vol_ratio(), 1.0)
        self.base = self.leverage * self.bench * vr ** (-self.cfg.var_sensitivity)
        super().submit()
        self.mark_to_market()
        haircut = vr**self.cfg.margin_vol_sensitivity
        gross = np.abs(self.holdings) @ (m.price * haircut)
        equity = self.wealth
        cfg = self.cfg
        call = equity < cfg.maintenance_margin * gross
        self.active = ~call
        self.forced[:] = 0.0
        if call.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                cut = np.where(
                    equity[call] > 0, 1.0 - equity[call] / (cfg.initial_margin * gross[call]), 1.0
                )
            # brokers liquidate over several steps, not in one block
            cut = np.clip(cut, 0.0, 1.0) * np.where(equity[call] > 0, cfg.forced_sale_per_step, 1.0)
            self.forced[call] = -cut[:, None] * self.holdings[call]
            self.margin_calls += int(call.sum())
        self.fixed = self.forced.sum(axis=0)

    def reporters(self) -> dict[str, Callable[[], Any]]:
        return {"margin_calls": lambda: self.margin_calls}

    def diagnostics(self) -> dict[str, Any]:
        return {"margin_calls": int(self.margin_calls)}
