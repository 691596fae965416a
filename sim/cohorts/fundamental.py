"""Active funds: mean-variance tilts around the benchmark on believed values, long-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from sim.clearing import ElasticSchedule
from sim.cohorts.base import CohortConfig, ElasticCohort
from sim.cohorts.registry import register

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
        self.gap = np.zeros_like(self.holdings)
        self.active = np.ones(self.n, dtype=bool)
        self.t_ref = np.zeros_like(self.holdings)
        self.carry = np.zeros_like(self.holdings)
        self.kp = 1.0

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

    def fractions(self, x: np.ndarray | float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
        """Target fractions at log price ``lp_ref + x`` (x per asset), into ``out`` if given."""
        # clip(base + (gap - x) inv_g, lo, hi), in place: the same arithmetic, one buffer
        f = np.subtract(self.gap, x, out=out)
        f *= self.inv_g
        f += self.base
        np.maximum(f, self.lo, out=f)
        return np.minimum(f, self.hi, out=f)

    def submit(self) -> None:
        m = self.model.market
        # believed log value minus log price: beliefs' gap plus the anchor, less the move so far
        np.add(self.model.beliefs.gap[self.rows], self.model.anchor + m.lp0 - m.lp, out=self.gap)
        self.f0 = f = self.fractions()  # target fractions at the last price
        rest = self.model.universe.rest
        if rest is not None and self.model.rotation > 0:
            # an underweight in the other names is partly held in the rest of the market
            under = (self.base - f).sum(axis=1) - (self.base[rest] - f[:, rest])
            self.gap[:, rest] += self.model.rotation * under / self.inv_g[rest]
            f[:, rest] = np.clip(
                self.base[rest] + self.gap[:, rest] * self.inv_g[rest], self.lo[rest], self.hi[rest]
            )
        self.fixed[:] = 0.0

    def schedule(self, kappa: tuple[float, float] | None = None) -> ElasticSchedule:
        k, kp = self.kappa() if kappa is None else kappa
        p = self.model.market.price
        t_ref = np.divide(self.f0, p, out=self.t_ref)
        t_ref *= self.wealth[:, None]  # targets at the last price, shares
        self.kp = kp
        # what members order regardless of the clearing price (see ElasticSchedule), built in
        # place; ``delta`` is free scratch until ``prepare`` fills it
        carry = np.multiply(t_ref, kp - k, out=self.carry)
        carry += np.multiply(self.holdings, k, out=self.delta)
        if self.active.all():
            w = self.wealth
            offset = carry.sum(axis=0)
        else:
            w = np.where(self.active, self.wealth, 0.0)
            offset = carry[self.active].sum(axis=0)
        return ElasticSchedule.from_investors(
            w, self.gap, kp, offset, self.base, self.inv_g, self.lo, self.hi,
            self.model.scn.price_formation.bins,
        )  # fmt: skip

    def ration(self, phi: np.ndarray) -> None:
        """Schedules are filled in full at the limit price; nothing to ration."""

    def prepare(self, lp_decide: np.ndarray) -> None:
        """Each member's order at log prices ``lp_decide`` (the clearing price in an auction)."""
        x = lp_decide - self.model.market.lp
        target = self.fractions(x, out=self.delta)
        target *= self.wealth[:, None]
        target *= np.exp(-lp_decide)
        target *= self.kp
        np.subtract(target, self.carry, out=self.delta)
        self.delta[~self.active] = 0.0
