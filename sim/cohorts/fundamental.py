"""Active funds: mean-variance tilts around the benchmark on believed values, long-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from sim.clearing import ElasticSchedule
from sim.cohorts.base import CohortConfig, ElasticCohort
from sim.cohorts.registry import register
from sim.kernels import chunks, elastic

if TYPE_CHECKING:
    from sim.model import MoatshockModel


class GapClosingConfig(CohortConfig):
    """Belief-driven cohorts: they close belief gaps gradually and respond to the price."""

    if TYPE_CHECKING:
        # every subclass defines these fields (with its own defaults and descriptions); they
        # are declared here for the type checker only, so the schema's field order is unchanged
        risk_aversion: float
        horizon_days: float
        adjust_per_step: float
        open_adjust: float
        price_response_per_step: float

    no_trade_band: float = Field(
        0.0,
        ge=0,
        le=10,
        description="no-trade band: a member trades an asset only when its target departs from "
        "its holding by more than this multiple of its neutral weight (fraction of wealth; "
        "transaction costs, Constantinides 1986); 0: trade every gap",
    )

    review_share: float = Field(
        1.0,
        gt=0,
        le=1,
        description="investor inertia: share of members who re-optimise in a session (drawn "
        "afresh at each open); the others close no gap that day, only their resting orders "
        "respond to price changes (by price_response_per_step, also at the open)",
    )

    resting_share: float = Field(
        1.0,
        ge=0,
        le=1,
        description="share of the per-step price response (price_response_per_step) that "
        "members not re-optimising that day keep as resting orders; 0: out of the book",
    )

    @model_validator(mode="after")
    def _stable(self) -> GapClosingConfig:
        # closing the belief gap faster than responding to the price is a cobweb: it diverges
        if self.adjust_per_step > self.price_response_per_step:
            raise ValueError(
                f"adjust_per_step ({self.adjust_per_step}) must not exceed "
                f"price_response_per_step ({self.price_response_per_step})"
            )
        return self


class FundamentalConfig(GapClosingConfig):
    risk_aversion: float = Field(
        2.0, ge=0.01, le=1000, description="gamma in x=(E logV - log p)/(gamma s2)"
    )
    horizon_days: float = Field(250.0, ge=1, le=2520, description="sigma^2 is over this horizon")
    adjust_per_step: float = Field(
        0.02, ge=1e-4, le=1, description="kappa: share of the belief gap closed per step"
    )
    open_adjust: float = Field(0.6, ge=1e-4, le=1, description="kappa at the opening auction")
    price_response_per_step: float = Field(
        0.02, ge=1e-4, le=1, description="kappa_p: share of a price-driven target change traded"
    )
    max_weight_multiple: float = Field(
        3.0, ge=1.01, le=100, description="position limit: k x benchmark"
    )
    reaction: float = Field(1.0, ge=0.01, le=100, description="over(>1)/under(<1)-reaction to news")


@register(
    "fundamental",
    FundamentalConfig,
    order=0,
    description="active funds: mean-variance on believed values, long-only",
)
class Fundamental(ElasticCohort):
    """Active funds: mean-variance on believed values, long-only with position limits.

    Target fraction of wealth, as an active manager's tilt around the benchmark weight ``w_b``::

        f = clip(w_b (1 + (E[log V] - log p) / (gamma sigma_h^2)), 0, k w_b)

    i.e. the mean-variance demand ``(E[log V] - log p) / (gamma sigma^2)`` measured in units of the
    benchmark weight, with ``sigma_h^2`` the return variance over the investment horizon. Money
    leaving the AI names partly rotates into the rest of the market.
    """

    amplifiers: ClassVar[tuple[str, ...]] = ("risk_aversion", "price_response_per_step", "reaction")

    leverage = 1.0

    @classmethod
    def news_reaction(cls, cfg: Any) -> float:
        return float(cfg.reaction)

    def __init__(
        self,
        model: MoatshockModel,
        rows: slice,
        cfg: GapClosingConfig,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(model, rows, cfg, rng)
        u = model.universe
        var_h = u.daily_vol**2 * cfg.horizon_days
        # leverage scales the position, not the conviction: the tilt per unit of mispricing is
        # the same as an unlevered fund's, so more leverage means larger swings in equity
        self.base = self.leverage * self.bench
        self.inv_g = self.bench / (cfg.risk_aversion * var_h)
        self.lo = self._lower()
        self.hi = self._upper()
        self.active = np.ones(self.n, dtype=bool)
        self.forced = np.zeros((0, u.n_assets))  # market orders of inactive members (none)
        self.bounds = chunks(self.n)
        self.k, self.kp = 1.0, 1.0
        self.shift = np.zeros(u.n_assets)
        self.band = np.zeros(u.n_assets)  # no-trade band this step, fraction of wealth
        self.reviewing = np.ones(self.n, dtype=bool)  # members re-optimising this session
        self.review = np.full(self.n, elastic.REVIEW, dtype=np.int8)  # this step's state
        # price response of the resting orders of members not re-optimising (per step)
        self.kp_rest = cfg.price_response_per_step * cfg.resting_share

    def _lower(self) -> np.ndarray:
        return np.zeros_like(self.bench)

    def _upper(self) -> np.ndarray:
        return self.cfg.max_weight_multiple * self.bench

    def kappa(self) -> tuple[float, float]:
        """(gap-closing share, price-response share) for this step; the open takes more."""
        c = self.cfg
        if self.model.market.is_open_tick:
            return c.open_adjust, max(c.open_adjust, c.price_response_per_step)
        return c.adjust_per_step, c.price_response_per_step

    def _rule(self) -> tuple:
        """The arguments every pass shares: members' belief gaps and the target rule."""
        u = self.model.universe
        rest = -1 if u.rest is None else u.rest
        return (
            self.model.beliefs.gap[self.rows], self.shift, self.base, self.inv_g,
            self.lo, self.hi, rest, self.model.rotation,
        )  # fmt: skip

    def fractions(self) -> np.ndarray:
        out = np.empty_like(self.holdings)
        elastic.target_fractions(self.bounds, *self._rule(), out)
        return out

    def submit(self) -> None:
        m = self.model.market
        # believed log value minus log price: beliefs' gap plus the anchor, less the move so far
        self.shift = self.model.anchor + m.lp0 - m.lp
        self.fixed[:] = 0.0
        if m.is_open_tick and self.cfg.review_share < 1.0:
            # inertia (Calvo 1983; Duffie 2010, slow-moving capital): who looks today
            self.reviewing = self.stream.random(self.n) < self.cfg.review_share
        if self.cfg.review_share < 1.0:
            # the others' resting orders respond to price changes by the per-step share, also
            # at the open (where those who look today take open_adjust)
            self.review = np.where(self.reviewing, elastic.REVIEW, elastic.RESTING).astype(np.int8)

    def schedule(self, kappa: tuple[float, float] | None = None) -> ElasticSchedule:
        self.k, self.kp = self.kappa() if kappa is None else kappa
        bins = self.model.scn.price_formation.bins
        umin, umax = elastic.gap_bounds(self.bounds, *self._rule())
        width = np.maximum(umax - umin, 1e-12) / bins
        # the anchor's calibration (kappa given) asks for every member's full demand
        self.band = self.cfg.no_trade_band * np.abs(self.base) * (kappa is None)
        review = self.review if kappa is None else np.full(self.n, elastic.REVIEW, np.int8)
        w, wu, offset = elastic.schedule_pass(
            self.bounds, self.holdings, self.cash, self.wealth, *self._rule(),
            self.model.market.price, self.k, self.kp, self.active, self.band, review,
            self.kp_rest, umin, width, bins,
        )  # fmt: skip
        return ElasticSchedule(self.kp, offset, w, wu, self.base, self.inv_g, self.lo, self.hi)

    def orders(
        self,
        lp_decide: np.ndarray,
        lp_exec: np.ndarray | None = None,
        phi: np.ndarray | None = None,
        store: bool = False,
    ) -> None:
        m = self.model.market
        a = m.lp.size
        if store:
            self.delta = np.empty_like(self.holdings)
        self.flow, self.volume = elastic.order_pass(
            self.bounds, self.holdings, self.cash, self.wealth, *self._rule(), m.price,
            self.k, self.kp, self.active, self.band, self.review,
            self.kp_rest, self.forced,
            np.ones(a) if phi is None else phi, lp_decide - m.lp, lp_decide,
            np.exp(lp_decide if lp_exec is None else lp_exec), lp_exec is not None,
            self.delta if store else np.empty((0, a)),
        )  # fmt: skip
