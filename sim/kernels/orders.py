"""Market orders of the cohorts that trade at the last price, and their booking.

* :func:`tilt_orders`: members move ``kappa`` of the way from their holdings to a target
  fraction of wealth that depends only on which group (e.g. momentum horizon) they are in;
  inactive members do not trade. Marks members' wealth (USD) on the way.
* :func:`retail_orders`: noise, mood and dip-buying orders of the members active this step,
  without short sales and within the cash they are willing to use.
* :func:`book_rows`: books orders of a subset of members (rows) at the execution price.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.kernels import dual


@dual
def tilt_orders(
    bounds: np.ndarray,
    holdings: np.ndarray,
    cash: np.ndarray,
    wealth: np.ndarray,
    group: np.ndarray,
    frac: np.ndarray,
    active: np.ndarray,
    price: np.ndarray,
    kappa: float,
    delta: np.ndarray,
) -> np.ndarray:
    """Orders (shares) into ``delta``: ``kappa (W f_g / p - h)`` for active members, else 0.

    ``frac`` (groups x assets) are target fractions of wealth; returns the summed orders.
    """
    nc = bounds.size - 1
    a = price.size
    fixed_c = np.zeros((nc, a))
    for c in prange(nc):
        acc = np.zeros(a)  # the chunk's own sums (see sim.kernels.CHUNK)
        for j in range(bounds[c], bounds[c + 1]):
            w = cash[j]
            for i in range(a):
                w += holdings[j, i] * price[i]
            wealth[j] = w
            if active[j]:
                g = group[j]
                for i in range(a):
                    d = kappa * (w * frac[g, i] / price[i] - holdings[j, i])
                    delta[j, i] = d
                    acc[i] += d
            else:
                for i in range(a):
                    delta[j, i] = 0.0
        for i in range(a):
            fixed_c[c, i] = acc[i]
    fixed = np.zeros(a)
    for c in range(nc):
        fixed += fixed_c[c]
    return fixed


@njit(cache=True)
def retail_orders(
    act: np.ndarray,
    holdings: np.ndarray,
    cash: np.ndarray,
    eps: np.ndarray,
    common: np.ndarray,
    zeta: np.ndarray,
    dip: np.ndarray,
    price: np.ndarray,
    idio_weight: float,
    scale_up: float,
    max_cash_use: float,
    out: np.ndarray,
) -> np.ndarray:
    """Orders (shares) of the active members ``act`` into ``out`` (len(act) x assets).

    Dollar order per unit of wealth: ``zeta_i (idio_weight eps_ji + common_i) + dip_i``,
    scaled by the member's wealth over the activity rate (``scale_up``); sales never exceed
    holdings, buys never exceed ``max_cash_use`` of cash. Returns the summed orders.
    """
    a = price.size
    acc = np.zeros(a)  # local sums and row: stores into ``out`` may alias nothing we read
    d = np.empty(a)
    for r in range(act.size):
        j = act[r]
        w = cash[j]
        for i in range(a):
            w += holdings[j, i] * price[i]
        buys = 0.0
        for i in range(a):
            dollars = (zeta[i] * (idio_weight * eps[r, i] + common[i]) + dip[i]) * w * scale_up
            di = max(dollars / price[i], -holdings[j, i])
            d[i] = di
            if di > 0.0:
                buys += di * price[i]
        budget = max(cash[j], 0.0) * max_cash_use
        if buys > budget:
            s = budget / max(buys, 1e-12)
            for i in range(a):
                if d[i] > 0.0:
                    d[i] *= s
        for i in range(a):
            out[r, i] = d[i]
            acc[i] += d[i]
    fixed = np.zeros(a)
    fixed += acc
    return fixed


@njit(cache=True)
def book_rows(
    rows: np.ndarray,
    delta: np.ndarray,
    phi: np.ndarray,
    holdings: np.ndarray,
    cash: np.ndarray,
    price_exec: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Book ``delta`` (len(rows) x assets, scaled by ``phi``) for ``rows``; (flow, volume)."""
    a = price_exec.size
    fl = np.zeros(a)
    vo = np.zeros(a)
    for r in range(rows.size):
        j = rows[r]
        spent = 0.0
        for i in range(a):
            d = delta[r, i] * phi[i]
            delta[r, i] = d
            holdings[j, i] += d
            spent += d * price_exec[i]
            fl[i] += d
            vo[i] += abs(d)
        cash[j] -= spent
    return fl.copy(), vo.copy()
