"""Price formation: the only place where prices change.

Two mechanisms, chosen by ``price_formation.mechanism``:

* ``batch_auction`` (Walrasian call auction, every step; the open is the same auction over the
  orders accumulated while the market was closed). Each belief-driven cohort submits a demand
  *schedule* and the other cohorts submit market orders; the market maker quotes an inventory-
  averse, price-elastic schedule. For every asset we find the log price at which the net order
  flow is zero with scipy's vectorised bracketing root finder (Chandrupatla), all assets at
  once. The excess demand is monotone decreasing in price.

* ``market_maker`` (square-root impact): all orders are market orders at the last price; the
  market maker absorbs the net flow ``Q`` and moves the price by the empirical square-root law
  ``dp/p = Y * sigma_daily * sign(Q) * sqrt(|Q| / V_daily)`` (Bouchaud et al., "Trades, quotes
  and prices", 2018; Y of order 1).

A belief-driven cohort's schedule is exact in its investors but evaluated through sufficient
statistics: investors are binned by their value gap ``u = E[log V] - log p_ref`` per asset and
each bin keeps its wealth and wealth-weighted gap. Within the linear (unclipped) region the
aggregate is exact; only bins that straddle a position limit are approximated (error below one
bin width). One evaluation therefore costs O(assets x bins), independent of the population, and
the execution step then applies each investor's exact demand at the clearing price; the
market maker absorbs the (tiny) difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import elementwise


@dataclass
class ElasticSchedule:
    """Aggregated demand schedule of one belief-driven cohort.

    Per investor the target fraction of wealth in asset ``i`` at log price ``l`` is
    ``f = clip(base_i + (u - x) * inv_g_i, lo_i, hi_i)`` with ``x = l - l_ref`` and target
    holdings ``T(l) = W f / p``. Within a step investors respond to the price by a share
    ``kappa_p`` of the change in their target (their resting orders) and close a share ``kappa``
    of the gap between their target at the last price ``T_ref`` and their holdings ``h``::

        order = kappa_p (T(l) - T_ref) + kappa (T_ref - h) = kappa_p T(l) - offset

    summed over members, with ``offset = (kappa_p - kappa) T_ref + kappa h``.
    """

    scale: float  # kappa_p
    offset: np.ndarray  # (A,) shares
    w: np.ndarray  # (A, B) wealth per bin, USD
    wu: np.ndarray  # (A, B) wealth x value gap per bin
    base: np.ndarray  # (A,) fraction
    inv_g: np.ndarray  # (A,) 1 / (gamma sigma^2)
    lo: np.ndarray  # (A,) fraction
    hi: np.ndarray  # (A,) fraction
    # (A, B) wealth-weighted mean gap per bin, derived on creation
    ubar: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # the root finder evaluates the schedule ~10 times a step: the bin means are fixed
        with np.errstate(invalid="ignore", divide="ignore"):
            self.ubar = np.where(self.w > 0, self.wu / self.w, 0.0)

    @classmethod
    def from_investors(
        cls,
        wealth: np.ndarray,
        gap: np.ndarray,
        scale: float,
        offset: np.ndarray,
        base: np.ndarray,
        inv_g: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        bins: int,
    ) -> ElasticSchedule:
        """Bin investors (``wealth`` (n,), ``gap`` (n, A)) by value gap, per asset."""
        n, a = gap.shape
        umin = gap.min(axis=0)
        umax = gap.max(axis=0)
        width = np.maximum(umax - umin, 1e-12) / bins
        pos = np.subtract(gap, umin)
        pos /= width
        idx = pos.astype(np.int64)
        np.clip(idx, 0, bins - 1, out=idx)
        idx += np.arange(a, dtype=np.int64) * bins
        flat = idx.ravel()
        wb = np.broadcast_to(wealth[:, None], gap.shape).ravel()
        w = np.bincount(flat, weights=wb, minlength=a * bins).reshape(a, bins)
        wgap = np.multiply(gap, wealth[:, None], out=pos)
        wu = np.bincount(flat, weights=wgap.ravel(), minlength=a * bins)
        return cls(scale, offset, w, wu.reshape(a, bins), base, inv_g, lo, hi)

    def shares(self, x: np.ndarray, idx: np.ndarray, lp_ref: np.ndarray) -> np.ndarray:
        """Net order (shares) at relative log prices ``x`` for assets ``idx``."""
        w = self.w[idx]
        ubar = self.ubar[idx]
        f = np.subtract(ubar, x[:, None])
        f *= self.inv_g[idx, None]
        f += self.base[idx, None]
        np.maximum(f, self.lo[idx, None], out=f)  # clip to the position limits
        np.minimum(f, self.hi[idx, None], out=f)
        f *= w
        dollars = f.sum(axis=1)
        return self.scale * dollars * np.exp(-(lp_ref[idx] + x)) - self.offset[idx]


@dataclass
class MarketMakerQuote:
    """Inventory-averse liquidity: buys below the reference price, sheds inventory.

    Order in shares at relative log price ``x``:
    ``clip(-depth * x - aversion * inventory, -limit - inventory, limit - inventory)``.
    """

    inventory: np.ndarray  # (A,) shares relative to the market maker's neutral position
    depth: np.ndarray  # (A,) shares per unit log price
    limit: np.ndarray  # (A,) max |inventory|, shares
    aversion: float

    def shares(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        inv = self.inventory[idx]
        raw = -self.depth[idx] * x - self.aversion * inv
        return np.clip(raw, -self.limit[idx] - inv, self.limit[idx] - inv)


@dataclass
class ClearingResult:
    lp: np.ndarray  # (A,) new log prices
    at_limit: np.ndarray  # (A,) bool: no root inside the bracket (price capped at the bound)
    n_eval: int  # function evaluations of the root finder
    excess_at_root: np.ndarray  # (A,) aggregate net order at the clearing price, shares


def excess_demand(
    x: np.ndarray,
    idx: np.ndarray,
    lp_ref: np.ndarray,
    schedules: list[ElasticSchedule],
    fixed: np.ndarray,
    mm: MarketMakerQuote | None,
) -> np.ndarray:
    """Net order flow (shares) for assets ``idx`` at log prices ``lp_ref[idx] + x``."""
    total = fixed[idx].astype(float, copy=True)
    for s in schedules:
        total += s.shares(x, idx, lp_ref)
    if mm is not None:
        total += mm.shares(x, idx)
    return total


def batch_auction(
    lp_ref: np.ndarray,
    schedules: list[ElasticSchedule],
    fixed: np.ndarray,
    mm: MarketMakerQuote | None,
    bracket: float = 0.7,
    tol: float = 1e-10,
) -> ClearingResult:
    """Clear every asset at once: find ``l`` with zero net order flow, within ``+-bracket``.

    A narrow bracket (``+-inner``) is tried first, as a 5-minute move is usually small; assets
    whose root lies outside it are bracketed by the full ``+-bracket``.
    """
    a = lp_ref.size
    idx_all = np.arange(a)
    inner = min(0.02, bracket)
    edges = np.array([-bracket, -inner, inner, bracket])
    # the four edges of every asset in one evaluation
    vals = excess_demand(
        np.repeat(edges, a), np.tile(idx_all, edges.size), lp_ref, schedules, fixed, mm
    )
    f_lo, f_in_lo, f_in_hi, f_hi = vals.reshape(edges.size, a)
    x = np.zeros(a)
    at_limit = np.zeros(a, dtype=bool)
    # no root inside the full bracket: the price stops at the bound (a trading limit)
    down = f_lo <= 0
    up = f_hi >= 0
    x[down] = -bracket
    x[up & ~down] = bracket
    at_limit[down | up] = True
    solve = ~(down | up)
    narrow = solve & (f_in_lo > 0) & (f_in_hi < 0)
    lo = np.where(narrow, -inner, np.where(f_in_lo <= 0, -bracket, inner))
    hi = np.where(narrow, inner, np.where(f_in_lo <= 0, -inner, bracket))
    # an exact zero at an inner edge is already the answer
    exact_lo = solve & (f_in_lo == 0)
    exact_hi = solve & (f_in_hi == 0)
    x[exact_lo] = -inner
    x[exact_hi] = inner
    solve &= ~(exact_lo | exact_hi)
    n_eval = 4
    if solve.any():
        idx = idx_all[solve]
        x[solve], nfev = _find_root(lp_ref, schedules, fixed, mm, lo[solve], hi[solve], idx, tol)
        n_eval += nfev
    lp = lp_ref + x
    excess = excess_demand(x, idx_all, lp_ref, schedules, fixed, mm)
    return ClearingResult(lp=lp, at_limit=at_limit, n_eval=n_eval, excess_at_root=excess)


def _find_root(
    lp_ref: np.ndarray,
    schedules: list[ElasticSchedule],
    fixed: np.ndarray,
    mm: MarketMakerQuote | None,
    lo: np.ndarray,
    hi: np.ndarray,
    idx: np.ndarray,
    tol: float,
) -> tuple[np.ndarray, int]:
    """Roots in ``[lo, hi]`` for assets ``idx``, and the most evaluations any asset needed."""

    # the root finder hands back only the still-active assets, so the asset index rides along
    # as an elementwise argument
    def f(x: np.ndarray, ix: np.ndarray) -> np.ndarray:
        return excess_demand(x, ix.astype(np.int64), lp_ref, schedules, fixed, mm)

    # scipy's result object: arrays ``x`` (the roots) and ``nfev`` (evaluations per asset)
    res: Any = elementwise.find_root(
        f, (lo, hi), args=(idx,), tolerances={"xatol": tol, "xrtol": 0.0, "fatol": 0.0}
    )
    return np.asarray(res.x), int(np.max(res.nfev))


def sqrt_impact(
    net_shares: np.ndarray, adv: np.ndarray, daily_vol: np.ndarray, y: float
) -> np.ndarray:
    """Log-price change from net order flow by the square-root law.

    ``dp/p = Y * sigma_daily * sign(Q) * sqrt(|Q| / V_daily)``; returned as ``log(1 + dp/p)``
    (floored at -99%) so prices stay positive.
    """
    rel = y * daily_vol * np.sign(net_shares) * np.sqrt(np.abs(net_shares) / adv)
    return np.log1p(np.maximum(rel, -0.99))
