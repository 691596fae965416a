"""The passes over a belief-driven cohort's members: gap bounds, schedule, orders and booking.

A member ``j`` with believed log value minus log price ``g_ji`` (the "gap": its beliefs' gap
plus the common ``shift = anchor + log p0 - log p``) targets the fraction of wealth
``f_ji = clip(base_i + g_ji inv_g_i, lo_i, hi_i)``; an underweight in the other names is partly
held in the rest of the market (``rest``, ``rotation``). Within a step it orders
``kp T(l) - carry`` where ``T(l)`` is its target in shares at log price ``l`` and
``carry = (kp - k) T_ref + k h`` (see :class:`sim.clearing.ElasticSchedule`).

Three passes, each over the members' rows once, on both cores (chunks of
:data:`sim.kernels.CHUNK`, partial sums added in chunk order; see :data:`sim.kernels.CHUNK`
for why a chunk accumulates into its own small arrays):

1. :func:`gap_bounds`: per asset, the range of gaps (the schedule's bin edges);
2. :func:`schedule_pass`: marks wealth to market (USD), and accumulates per asset the
   wealth and wealth-weighted gap in each gap bin (the schedule) and the carry (shares);
3. :func:`order_pass`: each member's order at the decision price, booked at the execution
   price (holdings in shares, cash in USD) unless ``book`` is false; returns net shares
   bought and shares traded per asset. Inactive members (a levered fund under a margin call)
   trade their forced sale instead, scaled by the rationing factor of a limit move.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.kernels import dual


@njit(cache=True, inline="always")
def _row(
    bgap: np.ndarray,
    shift: np.ndarray,
    base: np.ndarray,
    inv_g: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rest: int,
    rotation: float,
    g: np.ndarray,
    f: np.ndarray,
) -> None:
    """One member's gaps ``g`` (with the rotation into the rest) and target fractions ``f``."""
    a = g.size
    under = 0.0
    for i in range(a):
        gi = bgap[i] + shift[i]
        g[i] = gi
        fi = min(max(base[i] + gi * inv_g[i], lo[i]), hi[i])
        f[i] = fi
        if i != rest:
            under += base[i] - fi
    if rest >= 0 and rotation > 0.0:
        g[rest] += rotation * under / inv_g[rest]
        f[rest] = min(max(base[rest] + g[rest] * inv_g[rest], lo[rest]), hi[rest])


#: ``review`` states of a member in a step: out of the book, resting orders only (price
#: response, no gap closed), re-optimising (both).
OUT, RESTING, REVIEW = 0, 1, 2


@njit(cache=True, inline="always")
def in_band(f: float, h: float, price: float, w: float, band: float) -> bool:
    """No-trade band: the target fraction ``f`` of wealth ``w`` (USD) is within ``band``
    (fraction of wealth) of the holding ``h`` (shares at ``price`` USD). With proportional
    costs the investor leaves such a small mismatch alone (Constantinides 1986; Davis and
    Norman 1990). A band of 0 never holds (every member trades)."""
    return band > 0.0 and abs(f * w - h * price) <= band * abs(w)


@njit(cache=True, inline="always")
def carry(
    f: float,
    h: float,
    price: float,
    w: float,
    band: float,
    still: bool,
    k: float,
    kp: float,
    kp_rest: float,
    carry_t: float,
) -> float:
    """The part of a member's order (shares) that does not depend on the clearing price: a
    member not reviewing (``still``) keeps resting orders scaled by ``kp_rest``, one inside its
    no-trade band by ``kp``; otherwise it also closes ``k`` of its gap. ``carry_t`` is
    ``(kp - k) / price``. The same rule for the schedule and for the orders."""
    if still:
        return f * w * kp_rest / price
    if in_band(f, h, price, w, band):
        return f * w * kp / price
    return f * w * carry_t + h * k


@dual
def gap_bounds(
    bounds: np.ndarray,
    bgap: np.ndarray,
    shift: np.ndarray,
    base: np.ndarray,
    inv_g: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rest: int,
    rotation: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest gap per asset over all members."""
    nc = bounds.size - 1
    a = shift.size
    mins = np.full((nc, a), np.inf)
    maxs = np.full((nc, a), -np.inf)
    for c in prange(nc):
        g = np.empty(a)
        f = np.empty(a)
        lo_c = np.full(a, np.inf)  # the chunk's own accumulators (see CHUNK_LOCAL)
        hi_c = np.full(a, -np.inf)
        for j in range(bounds[c], bounds[c + 1]):
            _row(bgap[j], shift, base, inv_g, lo, hi, rest, rotation, g, f)
            for i in range(a):
                if g[i] < lo_c[i]:
                    lo_c[i] = g[i]
                if g[i] > hi_c[i]:
                    hi_c[i] = g[i]
        for i in range(a):
            mins[c, i] = lo_c[i]
            maxs[c, i] = hi_c[i]
    umin = np.full(a, np.inf)
    umax = np.full(a, -np.inf)
    for c in range(nc):
        for i in range(a):
            umin[i] = min(umin[i], mins[c, i])
            umax[i] = max(umax[i], maxs[c, i])
    return umin, umax


@dual
def schedule_pass(
    bounds: np.ndarray,
    holdings: np.ndarray,
    cash: np.ndarray,
    wealth: np.ndarray,
    bgap: np.ndarray,
    shift: np.ndarray,
    base: np.ndarray,
    inv_g: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rest: int,
    rotation: float,
    price: np.ndarray,
    k: float,
    kp: float,
    active: np.ndarray,
    band: np.ndarray,
    review: np.ndarray,
    kp_rest: float,
    umin: np.ndarray,
    width: np.ndarray,
    nbins: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wealth of every member (written into ``wealth``); per asset and gap bin, the active
    members' wealth ``w`` and wealth x gap ``wu`` (A, B), and their summed carry (A,).

    A member whose target at the last price is within ``band`` (A,, fraction of wealth) of its
    holdings in an asset closes none of that gap this step (:func:`in_band`: its ``k`` is 0
    there), nor does a member not reviewing its portfolio this session (``review`` is
    :data:`RESTING`); their resting orders still respond to the price, by ``kp`` for a member
    in its band and by ``kp_rest`` for a resting member (its wealth enters the bins scaled by
    ``kp_rest / kp``, which is exact: the schedule is linear in wealth). A member whose
    ``review`` is :data:`OUT` is out of the book this step."""
    nc = bounds.size - 1
    a = shift.size
    wb = np.zeros((nc, a, nbins))
    wub = np.zeros((nc, a, nbins))
    off = np.zeros((nc, a))
    inv_width = 1.0 / width
    carry_t = (kp - k) / price  # carry per unit of target fraction x wealth
    for c in prange(nc):
        g = np.empty(a)
        f = np.empty(a)
        for j in range(bounds[c], bounds[c + 1]):
            w = cash[j]
            for i in range(a):
                w += holdings[j, i] * price[i]
            wealth[j] = w
            if not active[j] or review[j] == OUT:
                continue
            _row(bgap[j], shift, base, inv_g, lo, hi, rest, rotation, g, f)
            still = review[j] == RESTING
            ws = w * kp_rest / kp if still else w  # wealth as the schedule's scale kp sees it
            for i in range(a):
                off[c, i] += carry(
                    f[i], holdings[j, i], price[i], w, band[i], still, k, kp, kp_rest, carry_t[i]
                )
                b = int((g[i] - umin[i]) * inv_width[i])
                if b < 0:
                    b = 0
                elif b >= nbins:
                    b = nbins - 1
                wb[c, i, b] += ws
                wub[c, i, b] += ws * g[i]
    w_out = np.zeros((a, nbins))
    wu_out = np.zeros((a, nbins))
    offset = np.zeros(a)
    for c in range(nc):
        w_out += wb[c]
        wu_out += wub[c]
        offset += off[c]
    return w_out, wu_out, offset


@dual
def order_pass(
    bounds: np.ndarray,
    holdings: np.ndarray,
    cash: np.ndarray,
    wealth: np.ndarray,
    bgap: np.ndarray,
    shift: np.ndarray,
    base: np.ndarray,
    inv_g: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rest: int,
    rotation: float,
    price: np.ndarray,
    k: float,
    kp: float,
    active: np.ndarray,
    band: np.ndarray,
    review: np.ndarray,
    kp_rest: float,
    forced: np.ndarray,
    phi: np.ndarray,
    x: np.ndarray,
    lp_decide: np.ndarray,
    price_exec: np.ndarray,
    book: bool,
    delta_out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Every member's order at log prices ``lp_decide`` (``x = lp_decide - lp``), booked at
    ``price_exec`` if ``book``; written into ``delta_out`` too when it has a row per member.

    Returns (net shares bought, shares traded) per asset. ``forced`` holds the market orders
    of inactive members (one row per member, or none), scaled by ``phi``. A member inside its
    no-trade ``band`` in an asset, or not reviewing (as in :func:`schedule_pass`), only
    responds to the price.
    """
    nc = bounds.size - 1
    a = shift.size
    store = delta_out.shape[0] == holdings.shape[0]
    has_forced = forced.shape[0] == holdings.shape[0]
    flow_c = np.zeros((nc, a))
    vol_c = np.zeros((nc, a))
    carry_t = (kp - k) / price
    kp_p = kp * np.exp(-lp_decide)  # target shares per unit of fraction x wealth, scaled
    for c in prange(nc):
        g = np.empty(a)
        f = np.empty(a)
        d = np.empty(a)
        flow_j = np.zeros(a)
        vol_j = np.zeros(a)
        for j in range(bounds[c], bounds[c + 1]):
            if active[j] and review[j] != OUT:
                w = wealth[j]
                _row(bgap[j], shift, base, inv_g, lo, hi, rest, rotation, g, f)
                still = review[j] == RESTING
                ws = w * kp_rest / kp if still else w
                for i in range(a):
                    ci = carry(
                        f[i], holdings[j, i], price[i], w, band[i], still, k, kp, kp_rest,
                        carry_t[i],
                    )  # fmt: skip
                    ft = min(max(base[i] + (g[i] - x[i]) * inv_g[i], lo[i]), hi[i])
                    d[i] = ft * ws * kp_p[i] - ci
            elif has_forced and not active[j]:
                for i in range(a):
                    d[i] = forced[j, i] * phi[i]
            else:
                for i in range(a):
                    d[i] = 0.0
            spent = 0.0
            for i in range(a):
                di = d[i]
                flow_j[i] += di
                vol_j[i] += abs(di)
                if book:
                    holdings[j, i] += di
                    spent += di * price_exec[i]
                if store:
                    delta_out[j, i] = di
            if book:
                cash[j] -= spent
        for i in range(a):
            flow_c[c, i] = flow_j[i]
            vol_c[c, i] = vol_j[i]
    flow = np.zeros(a)
    vol = np.zeros(a)
    for c in range(nc):
        flow += flow_c[c]
        vol += vol_c[c]
    return flow, vol


@dual
def target_fractions(
    bounds: np.ndarray,
    bgap: np.ndarray,
    shift: np.ndarray,
    base: np.ndarray,
    inv_g: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rest: int,
    rotation: float,
    out: np.ndarray,
) -> None:
    """Every member's target fractions of wealth at the last price, into ``out`` (n, A)."""
    nc = bounds.size - 1
    a = shift.size
    for c in prange(nc):
        g = np.empty(a)
        f = np.empty(a)
        for j in range(bounds[c], bounds[c + 1]):
            _row(bgap[j], shift, base, inv_g, lo, hi, rest, rotation, g, f)
            for i in range(a):
                out[j, i] = f[i]
