"""Approximate Bayesian computation on a table of prior-predictive simulations (numpy only).

The table holds one row per simulation: parameters drawn from the prior, here given in the
unit cube ``[0, 1]^D`` (the calibration's search space, log-transformed where its parameters
are searched in log space, so a uniform prior there is uniform in the cube), and the
simulated summaries ``S`` (one column per target). With the observed summaries ``s_obs``, the
scales ``s_k`` and weights ``w_k`` of the calibration's objective, the distance of run ``i``
is

    d_i = sqrt( sum_k w_k ((S_ik - s_obs_k) / s_k)^2 )

so ``d_i^2`` is the calibration's objective J of that one run. :func:`abc_posterior`:

* **rejection**: the runs with ``d_i <= delta``, ``delta`` the ``quantile`` of the distances,
  are accepted (Pritchard et al. 1999);
* **local-linear regression adjustment** (Beaumont, Zhang & Balding 2002, Genetics 162:2025):
  with Epanechnikov weights ``K_i = 1 - (d_i / delta)^2``, a weighted least-squares regression
  of ``phi(theta)`` on ``S_i - s_obs`` over the accepted runs, and each accepted
  ``phi(theta_i)`` moved to ``phi(theta_i) - (S_i - s_obs) beta``. ``phi`` is the logit of
  the unit coordinate (Hamilton et al. 2005), so adjusted values stay inside the prior's
  bounds.

:func:`recovery` holds out runs of the table one at a time as pseudo-observed data and checks
how often the true parameters fall in the posterior's 90 % interval (coverage), and the bias.
No libraries beyond numpy: pyabc and elfi bring databases and samplers that a fixed table
does not need, sbi needs torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "AbcResult",
    "abc_posterior",
    "distances",
    "prior_predictive_check",
    "recovery",
    "weighted_corr",
    "weighted_quantile",
]

_EPS = 1e-6


def distances(
    S: np.ndarray, s_obs: np.ndarray, scales: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Scaled Euclidean distance of each row of ``S`` (n x k) from ``s_obs`` (k)."""
    z = (np.asarray(S, float) - np.asarray(s_obs, float)) / np.asarray(scales, float)
    w = np.ones(z.shape[1]) if weights is None else np.asarray(weights, float)
    return np.sqrt((w * z**2).sum(axis=1))


def _logit(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, _EPS, 1 - _EPS)
    return np.log(u / (1 - u))


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles ``q`` (in [0, 1]) of the sample ``x`` with weights ``w`` (interpolated on
    the midpoints of the cumulative weights, so equal weights give the usual quantiles)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    order = np.argsort(x)
    x, w = x[order], w[order]
    cw = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.asarray(q, float), cw, x)


def weighted_corr(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted Pearson correlation matrix of the columns of ``X`` (n x D)."""
    X, w = np.asarray(X, float), np.asarray(w, float)
    w = w / w.sum()
    m = w @ X
    Xc = X - m
    cov = (Xc * w[:, None]).T @ Xc
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    return np.clip(corr, -1.0, 1.0)


@dataclass(frozen=True)
class AbcResult:
    """An ABC posterior: accepted rows of the table, their parameters and weights.

    ``index``: row numbers of the accepted runs in the table; ``unit``: their parameters in
    the unit cube, regression-adjusted if ``adjusted``; ``raw_unit``: before adjustment;
    ``weights``: posterior weights (sum 1; Epanechnikov with the adjustment, equal without);
    ``distance``: their ``d_i``; ``delta``: the tolerance; ``r2``: with the adjustment, the
    weighted R^2 of each parameter's regression on the summaries (NaN without).
    """

    index: np.ndarray
    unit: np.ndarray
    raw_unit: np.ndarray
    weights: np.ndarray
    distance: np.ndarray
    delta: float
    adjusted: bool
    r2: np.ndarray

    @property
    def n_accepted(self) -> int:
        return len(self.index)

    def quantiles(self, q: Sequence[float]) -> np.ndarray:
        """Weighted quantiles (len(q) x D) of the unit-cube parameters."""
        return np.column_stack(
            [weighted_quantile(self.unit[:, j], self.weights, q) for j in range(self.unit.shape[1])]
        )

    def corr(self) -> np.ndarray:
        """Weighted posterior correlation (D x D) of the unit-cube parameters."""
        return weighted_corr(self.unit, self.weights)


def abc_posterior(
    theta: np.ndarray,
    S: np.ndarray,
    s_obs: np.ndarray,
    scales: np.ndarray,
    weights: np.ndarray | None = None,
    quantile: float = 0.1,
    adjust: bool = True,
) -> AbcResult:
    """Rejection ABC with optional local-linear regression adjustment (module docstring).

    ``theta``: n x D parameters in the unit cube; ``S``: n x k simulated summaries;
    ``s_obs``: k observed summaries; ``scales``, ``weights``: k scales (in the summaries'
    units) and weights of the distance; ``quantile``: share of the runs accepted (with the
    adjustment at least ``4 (k + 1)``, so that the regression is well determined).
    """
    theta, S = np.asarray(theta, float), np.asarray(S, float)
    if theta.ndim != 2 or S.ndim != 2 or len(theta) != len(S):
        raise ValueError("theta and S must be 2-D with one row per simulation")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    n, d = theta.shape
    k = S.shape[1]
    dist = distances(S, s_obs, scales, weights)
    # enough accepted runs that the regression (k + 1 coefficients) is well determined
    n_acc = min(n, max(int(round(quantile * n)), d + 2, 4 * (k + 1) if adjust else 2))
    order = np.argsort(dist, kind="stable")
    idx = np.sort(order[:n_acc])
    # delta just above the largest accepted distance, so every accepted run has K > 0
    delta = float(dist[order[n_acc - 1]]) * (1 + 1e-9) + 1e-300
    raw = theta[idx]
    r2 = np.full(d, np.nan)
    if not adjust:
        w = np.full(n_acc, 1.0 / n_acc)
        return AbcResult(idx, raw.copy(), raw, w, dist[idx], delta, False, r2)
    kern = 1.0 - (dist[idx] / delta) ** 2
    X = np.column_stack([np.ones(n_acc), (S[idx] - np.asarray(s_obs, float))])
    sw = np.sqrt(kern)
    Y = _logit(raw)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], Y * sw[:, None], rcond=None)
    adj = Y - X[:, 1:] @ beta[1:]
    resid = Y - X @ beta
    kw = kern / kern.sum()
    var = kw @ (Y - kw @ Y) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - (kw @ resid**2) / var
    return AbcResult(idx, _expit(adj), raw, kw, dist[idx], delta, True, r2)


def recovery(
    theta: np.ndarray,
    S: np.ndarray,
    scales: np.ndarray,
    weights: np.ndarray | None = None,
    quantile: float = 0.1,
    adjust: bool = True,
    n_points: int = 50,
    seed: int = 0,
    level: float = 0.9,
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Parameter recovery by leave-one-out on the table.

    ``n_points`` rows (drawn without replacement with ``seed``) are each taken as the
    observed data, removed from the table, and the posterior is computed from the rest.
    Returns arrays of shape (n_points, D) in unit-cube coordinates: ``truth``, ``median``,
    ``low``, ``high`` (the central ``level`` interval) and ``covered`` (bool), plus
    ``rows`` (the held-out row numbers). ``groups`` (one label per row, e.g. the sweep's
    design point) removes every row of the held-out row's group, so that other seeds at the
    same parameters do not make the recovery look better than it is.
    """
    theta, S = np.asarray(theta, float), np.asarray(S, float)
    n = len(theta)
    m = min(n_points, n)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False))
    a = (1 - level) / 2
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("median", "low", "high")}
    for r in rows:
        keep = np.arange(n) != r if groups is None else np.asarray(groups) != groups[r]
        res = abc_posterior(theta[keep], S[keep], S[r], scales, weights, quantile, adjust)
        lo, med, hi = res.quantiles([a, 0.5, 1 - a])
        out["low"].append(lo)
        out["median"].append(med)
        out["high"].append(hi)
    truth = theta[rows]
    low, high = np.array(out["low"]), np.array(out["high"])
    return {
        "rows": rows,
        "truth": truth,
        "median": np.array(out["median"]),
        "low": low,
        "high": high,
        "covered": (truth >= low) & (truth <= high),
    }


def prior_predictive_check(S: np.ndarray, s_obs: np.ndarray) -> dict[str, Any]:
    """Does the model produce data like the observed at all (at any parameters of the table)?

    ``percentile``: per summary, the share of runs below the observed value (each target on
    its own); ``mahalanobis``: the observed summaries' Mahalanobis distance from the runs'
    mean (their covariance; pseudo-inverse); ``share_farther``: the share of runs at least
    as far. A share near 0 means the observed data lie outside the cloud of simulations
    jointly, even if each target is inside on its own: a regression adjustment then
    extrapolates.
    """
    S, s_obs = np.asarray(S, float), np.asarray(s_obs, float)
    # standardised first: summaries in dollars next to ones in percent would leave the
    # pseudo-inverse only the dollar direction
    mu, sd = S.mean(axis=0), S.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    inv = np.linalg.pinv(np.atleast_2d(np.cov(((S - mu) / sd).T)))

    def maha(x: np.ndarray) -> np.ndarray:
        z = (x - mu) / sd
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", z, inv, z), 0.0))

    m_obs = float(maha(s_obs))
    return {
        "percentile": (S < s_obs).mean(axis=0),
        "mahalanobis": m_obs,
        "share_farther": float((maha(S) >= m_obs).mean()),
    }
