"""Quantiles of a large sample from a histogram: two passes over it, no sorting."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def histogram_quantiles(x: np.ndarray, qs: np.ndarray, bins: int) -> np.ndarray:
    """Quantiles ``qs`` of each column of ``x`` (rows x columns) -> (len(qs), columns).

    The linear interpolation of the empirical distribution within a histogram bin of width
    ``(max - min) / bins``: within one bin width of the exact sample quantile.
    """
    n, k = x.shape
    out = np.empty((qs.size, k))
    for c in range(k):
        lo = np.inf
        hi = -np.inf
        for j in range(n):
            v = x[j, c]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        width = (hi - lo) / bins
        if width <= 0.0:
            out[:, c] = lo
            continue
        counts = np.zeros(bins, dtype=np.int64)
        for j in range(n):
            b = int((x[j, c] - lo) / width)
            counts[min(b, bins - 1)] += 1
        cum = 0
        b = 0
        for qi in range(qs.size):
            target = qs[qi] * n
            while b < bins - 1 and cum + counts[b] < target:
                cum += counts[b]
                b += 1
            inside = (target - cum) / counts[b] if counts[b] > 0 else 0.0
            out[qi, c] = lo + (b + min(max(inside, 0.0), 1.0)) * width
    return out
