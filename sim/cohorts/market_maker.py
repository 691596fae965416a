"""Market makers: inventory-averse liquidity, the auction's residual counterparty."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field

from sim.clearing import MarketMakerQuote
from sim.cohorts.base import Cohort, CohortConfig
from sim.cohorts.registry import register

if TYPE_CHECKING:
    from sim.model import MoatshockModel


class MarketMakerConfig(CohortConfig):
    depth: float = Field(
        1.0, ge=1e-3, le=1e4, description="orders of ADV/steps moving price one step-vol"
    )
    inventory_limit_adv: float = Field(
        0.5, ge=1e-3, le=100, description="max |inventory|, days of ADV"
    )
    inventory_aversion: float = Field(0.05, ge=0, le=1, description="share shed per step")
    vol_widening: float = Field(1.0, ge=0, le=10, description="depth ~ (vol0/vol)^widening")
    requote: float = Field(
        0.0,
        ge=0,
        le=2,
        description="share of the change in the market makers' own believed value (from news "
        "they heard) by which they move their quotes before trading; 0: quotes stay centred "
        "on the last price",
    )


@register(
    "market_maker",
    MarketMakerConfig,
    order=6,
    description="liquidity providers; residual counterparty of the auction",
    required=True,
)
class MarketMaker(Cohort):
    """Liquidity providers: absorb imbalance with inventory aversion; depth shrinks with vol.

    Depth is ``depth * (V_daily / steps) / sigma_step`` shares per unit log price at normal
    volatility, scaled by ``(vol_normal / vol)^widening``. The market maker is also the
    residual counterparty of the auction, so the market always clears exactly.

    Re-quoting (Glosten and Milgrom 1985; Kyle 1985): market makers hear news like everybody
    (their own beliefs, :mod:`sim.beliefs`) and centre their quotes on the last price moved by
    ``requote`` x the change in their wealth-weighted mean believed log value since their last
    quote. Public news then moves the price with no trade; over a weekend the changes add up
    and the opening auction opens at the revised quotes.
    """

    amplifiers: ClassVar[tuple[str, ...]] = ("depth", "vol_widening", "inventory_limit_adv")

    market_maker = True

    def __init__(
        self, model: MoatshockModel, rows: slice, cfg: MarketMakerConfig, rng: np.random.Generator
    ) -> None:
        super().__init__(model, rows, cfg, rng)
        u = model.universe
        steps = model.ticks.steps_per_session
        self.neutral = self.holdings.sum(axis=0).copy()
        self.depth0 = cfg.depth * (u.adv / steps) / np.sqrt(model.market.normal_step_var)
        self.limit = cfg.inventory_limit_adv * u.adv
        w = self.wealth
        self.split = w / w.sum() if w.sum() > 0 else np.full(self.n, 1.0 / max(self.n, 1))
        self.quote_error = np.zeros(u.n_assets)
        self.valued = self.believed_value()  # believed log value at the last quote

    def believed_value(self) -> np.ndarray:
        """Members' wealth-weighted mean believed log value gap per asset (log units)."""
        return self.split @ self.model.beliefs.gap[self.rows]

    @property
    def inventory(self) -> np.ndarray:
        return self.holdings.sum(axis=0) - self.neutral

    def quote(self) -> MarketMakerQuote:
        vr = self.model.market.realised_vol_ratio()
        depth = self.depth0 * np.power(np.maximum(vr, 1e-6), -self.cfg.vol_widening)
        centre = None
        if self.cfg.requote > 0:
            value = self.believed_value()
            centre = self.cfg.requote * (value - self.valued)
            self.valued = value
        return MarketMakerQuote(
            self.inventory, depth, self.limit, self.cfg.inventory_aversion, centre
        )

    def absorb(self, others_flow: np.ndarray, lp_exec: np.ndarray, quoted: np.ndarray) -> None:
        """Take the other side of every other trade (the market clears exactly)."""
        total = -others_flow
        self.quote_error = total - quoted
        np.multiply(self.split[:, None], total[None, :], out=self.delta)
        self.execute(lp_exec)
