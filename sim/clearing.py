"""Price formation: the only place where prices change.

Two mechanisms, chosen by ``price_formation.mechanism``:

* ``batch_auction`` (Walrasian call auction, every step; the open is the same auction over the
  orders accumulated while the market was closed). Each belief-driven cohort submits a demand
  *schedule* and the other cohorts submit market orders; the market maker quotes an inventory-
  averse, price-elastic schedule. For every asset we find the log price at which the net order
  flow is zero with Chandrupatla's bracketing root finder (compiled with numba). The excess
  demand is monotone decreasing in price.

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

import numpy as np
from numba import njit


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
    """Inventory-averse liquidity: buys below its reference value, sheds inventory.

    Order in shares at relative log price ``x``:
    ``clip(-depth * (x - centre) - aversion * inventory, -limit - inventory, limit - inventory)``
    where ``centre`` (log price, relative to the last price) is where the market maker's quotes
    are centred: 0 quotes around the last trade, a revised value re-quotes on news (see
    :class:`sim.cohorts.market_maker.MarketMaker`).
    """

    inventory: np.ndarray  # (A,) shares relative to the market maker's neutral position
    depth: np.ndarray  # (A,) shares per unit log price
    limit: np.ndarray  # (A,) max |inventory|, shares
    aversion: float
    centre: np.ndarray | None = None  # (A,) log price relative to the last price; None: 0

    def shares(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        inv = self.inventory[idx]
        c = 0.0 if self.centre is None else self.centre[idx]
        raw = -self.depth[idx] * (x - c) - self.aversion * inv
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

    For each asset the root of its (monotone decreasing) excess demand is bracketed, first in
    a narrow band (``+-0.02``: a 5-minute move is usually small) and else in the full
    ``+-bracket``, and found by Chandrupatla's method to ``tol`` in log price. An asset whose
    excess demand does not change sign within the bracket stops at the bound (a trading limit).
    """
    a = lp_ref.size
    s = len(schedules)
    nb = schedules[0].w.shape[1] if s else 1
    w = np.zeros((s, a, nb))
    ubar = np.zeros((s, a, nb))
    scale = np.zeros(s)
    coef = np.zeros((5, s, a))  # offset, base, inv_g, lo, hi
    for k, sc in enumerate(schedules):
        w[k], ubar[k], scale[k] = sc.w, sc.ubar, sc.scale
        coef[:, k] = sc.offset, sc.base, sc.inv_g, sc.lo, sc.hi
    if mm is None:
        mm_arr = np.zeros((4, a))
        aversion, has_mm = 0.0, False
    else:
        centre = np.zeros(a) if mm.centre is None else mm.centre
        mm_arr = np.stack([mm.inventory, mm.depth, mm.limit, centre]).astype(np.float64)
        aversion, has_mm = float(mm.aversion), True
    x, at_limit, excess, n_eval = _clear(
        lp_ref.astype(np.float64), w, ubar, scale, coef, fixed.astype(np.float64),
        mm_arr, aversion, has_mm, float(bracket), float(tol),
    )  # fmt: skip
    return ClearingResult(lp=lp_ref + x, at_limit=at_limit, n_eval=n_eval, excess_at_root=excess)


@njit(cache=True)
def _excess(
    i: int,
    x: float,
    lp_ref: np.ndarray,
    w: np.ndarray,
    ubar: np.ndarray,
    scale: np.ndarray,
    coef: np.ndarray,
    fixed: np.ndarray,
    mm: np.ndarray,
    aversion: float,
    has_mm: bool,
) -> float:
    """Net order flow of asset ``i`` (shares) at log price ``lp_ref[i] + x``."""
    total = fixed[i]
    e = np.exp(-(lp_ref[i] + x))
    for k in range(scale.size):
        off, base, inv_g, lo, hi = (
            coef[0, k, i],
            coef[1, k, i],
            coef[2, k, i],
            coef[3, k, i],
            coef[4, k, i],
        )
        dollars = 0.0
        for b in range(w.shape[2]):
            wb = w[k, i, b]
            if wb != 0.0:
                f = min(max(base + (ubar[k, i, b] - x) * inv_g, lo), hi)
                dollars += f * wb
        total += scale[k] * dollars * e - off
    if has_mm:
        inv, depth, limit, centre = mm[0, i], mm[1, i], mm[2, i], mm[3, i]
        total += min(max(-depth * (x - centre) - aversion * inv, -limit - inv), limit - inv)
    return total


@njit(cache=True)
def _clear(
    lp_ref: np.ndarray,
    w: np.ndarray,
    ubar: np.ndarray,
    scale: np.ndarray,
    coef: np.ndarray,
    fixed: np.ndarray,
    mm: np.ndarray,
    aversion: float,
    has_mm: bool,
    bracket: float,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per asset: the bracketed root of the excess demand (see :func:`batch_auction`)."""
    a = lp_ref.size
    x = np.zeros(a)
    at_limit = np.zeros(a, dtype=np.bool_)
    excess = np.zeros(a)
    inner = min(0.02, bracket)
    n_max = 0
    for i in range(a):
        args = (lp_ref, w, ubar, scale, coef, fixed, mm, aversion, has_mm)
        f_lo = _excess(i, -bracket, *args)
        f_hi = _excess(i, bracket, *args)
        n = 2
        if f_lo <= 0.0:  # no root inside the bracket: the price stops at the bound
            x[i], at_limit[i] = -bracket, True
        elif f_hi >= 0.0:
            x[i], at_limit[i] = bracket, True
        else:
            fi_lo = _excess(i, -inner, *args)
            fi_hi = _excess(i, inner, *args)
            n += 2
            if fi_lo == 0.0:
                x[i] = -inner
            elif fi_hi == 0.0:
                x[i] = inner
            else:
                if fi_lo > 0.0 and fi_hi < 0.0:
                    a0, fa, b0, fb = -inner, fi_lo, inner, fi_hi
                elif fi_lo <= 0.0:
                    a0, fa, b0, fb = -bracket, f_lo, -inner, fi_lo
                else:
                    a0, fa, b0, fb = inner, fi_hi, bracket, f_hi
                x[i], used = _chandrupatla(i, a0, fa, b0, fb, tol, args)
                n += used
        excess[i] = _excess(i, x[i], *args)
        n_max = max(n_max, n)
    return x, at_limit, excess, n_max


@njit(cache=True)
def _chandrupatla(
    i: int, x1: float, f1: float, x2: float, f2: float, atol: float, args: tuple
) -> tuple[float, int]:
    """Chandrupatla's bracketing root finder (as in scipy's ``elementwise.find_root``)."""
    x3, f3 = x1, f1
    t = 0.5
    n = 0
    xm, fm = (x1, f1) if abs(f1) < abs(f2) else (x2, f2)
    for _ in range(200):
        xt = x1 + t * (x2 - x1)
        ft = _excess(i, xt, *args)
        n += 1
        if (ft > 0.0) == (f1 > 0.0):
            x3, f3 = x1, f1
            x1, f1 = xt, ft
        else:
            x3, f3 = x2, f2
            x2, f2 = x1, f1
            x1, f1 = xt, ft
        xm, fm = (x1, f1) if abs(f1) < abs(f2) else (x2, f2)
        tol = 4.0 * 2.220446049250313e-16 * abs(xm) + atol
        tl = tol / abs(x2 - x1)
        if tl > 0.5 or fm == 0.0:
            break
        xi = (x1 - x2) / (x3 - x2)
        ph = (f1 - f2) / (f3 - f2)
        if ph * ph < xi and (1.0 - ph) * (1.0 - ph) < 1.0 - xi:
            t = f1 / (f2 - f1) * f3 / (f2 - f3) + (x3 - x1) / (x2 - x1) * f1 / (f3 - f1) * f2 / (
                f3 - f2
            )
        else:
            t = 0.5
        t = min(max(t, tl), 1.0 - tl)
    return xm, n


def sqrt_impact(
    net_shares: np.ndarray, adv: np.ndarray, daily_vol: np.ndarray, y: float
) -> np.ndarray:
    """Log-price change from net order flow by the square-root law.

    ``dp/p = Y * sigma_daily * sign(Q) * sqrt(|Q| / V_daily)``; returned as ``log(1 + dp/p)``
    (floored at -99%) so prices stay positive.
    """
    rel = y * daily_vol * np.sign(net_shares) * np.sqrt(np.abs(net_shares) / adv)
    return np.log1p(np.maximum(rel, -0.99))
