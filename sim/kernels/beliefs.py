"""Bayesian updates of the investors who just learnt an item, and their believed values.

For each investor ``j`` of ``rows`` and each factor ``k`` the item speaks about (``has``):
``mu' = (tau mu + w pi s) / (tau + w pi)``, ``tau' = tau + w pi`` with trust ``w_j``, the item's
precision ``pi`` and the investor's reading ``s`` of the signal. Precisions are stored divided
by the common decay factor ``scale`` (see :class:`sim.beliefs.Beliefs`). Firm-level signals
update ``idio`` with the fixed precision ``idio_tau``. Then the believed log value gap
``(mu - consensus) @ exposures + idio`` of those investors is recomputed.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def update_rows(
    rows: np.ndarray,
    mu: np.ndarray,
    tau: np.ndarray,
    scale: float,
    trust: np.ndarray,
    signal: np.ndarray,
    has: np.ndarray,
    credibility: float,
) -> None:
    """Normal-normal update of ``mu``/``tau`` (rows x factors) for ``rows`` on factors ``has``."""
    f = mu.shape[1]
    for r in rows:
        wp = trust[r] * credibility
        for k in range(f):
            if has[k]:
                t = tau[r, k] * scale
                t_new = t + wp
                mu[r, k] = (t * mu[r, k] + wp * signal[k]) / t_new
                tau[r, k] = t_new / scale


@njit(cache=True)
def update_idio(
    rows: np.ndarray,
    idio: np.ndarray,
    idio_tau: np.ndarray,
    trust: np.ndarray,
    signal: np.ndarray,
    credibility: float,
) -> None:
    """Firm-level beliefs (rows x assets) move towards ``signal`` where it is not NaN."""
    a = idio.shape[1]
    for r in rows:
        w = trust[r] * credibility
        t = idio_tau[r]
        for i in range(a):
            s = signal[i]
            if not np.isnan(s):
                idio[r, i] = (t * idio[r, i] + w * s) / (t + w)


@njit(cache=True)
def refresh_rows(
    rows: np.ndarray,
    mu: np.ndarray,
    consensus: np.ndarray,
    exposures_t: np.ndarray,
    idio: np.ndarray,
    gap: np.ndarray,
) -> None:
    """``gap[r] = (mu[r] - consensus) @ exposures_t + idio[r]`` for ``rows``."""
    f, a = exposures_t.shape
    for r in rows:
        for i in range(a):
            v = idio[r, i]
            for k in range(f):
                v += (mu[r, k] - consensus[k]) * exposures_t[k, i]
            gap[r, i] = v
