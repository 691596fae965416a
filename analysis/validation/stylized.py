"""Estimators of the stylized facts of asset returns (Cont 2001, Quantitative Finance 1:223-236).

All functions take a one-dimensional sequence of returns ``r`` (numpy array, list or pandas
Series), normally log-returns expressed as a fraction per observation step (0.01 = 1 % per day
for daily data). NaN values are dropped before estimation, so a Series with gaps can be passed
as is; infinite values are rejected. Too-short or constant inputs raise ``ValueError``.

The same estimators are applied to real and simulated returns, so systematic finite-sample
biases (the Hill estimator under-reads Student-t tails, the biased ACF shrinks towards zero at
long lags) cancel when the two are compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.stats
from numpy.typing import ArrayLike

__all__ = [
    "STATISTICS",
    "Statistic",
    "statistic",
    "acf",
    "acf_abs_returns",
    "acf_returns",
    "acf_squared_returns",
    "aggregational_gaussianity",
    "excess_kurtosis",
    "hill_tail_index",
    "leverage_effect",
    "skewness",
    "summary",
    "volatility_clustering",
]

# Below ~10 order statistics the Hill estimate is dominated by noise, and below ~10 aggregated
# blocks a kurtosis is meaningless; both bounds make summary() need 200 observations.
_MIN_TAIL = 10
_MIN_BLOCKS = 10
_SUMMARY_MIN_OBS = 200


def _clean(r: ArrayLike, min_n: int, what: str) -> np.ndarray:
    """1-D float array with NaN removed, checked for length and finiteness."""
    a = np.asarray(r, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D series, got shape {a.shape}")
    a = a[~np.isnan(a)]
    if not np.isfinite(a).all():
        raise ValueError(f"{what}: input contains infinite values")
    if a.size < min_n:
        raise ValueError(f"{what}: need at least {min_n} non-NaN observations, got {a.size}")
    return a


def _require_variation(a: np.ndarray, what: str) -> None:
    if not np.ptp(a) > 0:
        raise ValueError(f"{what}: input is constant, the statistic is undefined")


def _cross_cov(x: np.ndarray, y: np.ndarray, max_lag: int) -> np.ndarray:
    """``sum_t x_t y_{t+k} / n`` for k = 0..max_lag, via FFT (x, y already demeaned)."""
    n = x.size
    # Padding to n + max_lag keeps the circular correlation free of wrap-around up to max_lag.
    size = scipy.fft.next_fast_len(n + max_lag, real=True)
    fx = scipy.fft.rfft(x, size)
    fy = fx if y is x else scipy.fft.rfft(y, size)
    return scipy.fft.irfft(np.conj(fx) * fy, size)[: max_lag + 1] / n


def excess_kurtosis(r: ArrayLike) -> float:
    """Sample excess kurtosis ``m4 / m2**2 - 3`` (dimensionless; 0 for a Gaussian).

    Moment (biased) estimator, as ``scipy.stats.kurtosis(r, fisher=True, bias=True)``. Positive
    values mean fat tails; daily equity returns typically show 3-20.
    """
    a = _clean(r, 4, "excess_kurtosis")
    _require_variation(a, "excess_kurtosis")
    return float(scipy.stats.kurtosis(a, fisher=True, bias=True))


def skewness(r: ArrayLike) -> float:
    """Sample skewness ``m3 / m2**1.5`` (dimensionless; 0 for a symmetric distribution)."""
    a = _clean(r, 3, "skewness")
    _require_variation(a, "skewness")
    return float(scipy.stats.skew(a, bias=True))


def hill_tail_index(r: ArrayLike, tail_fraction: float = 0.05) -> float:
    """Hill estimate of the tail index alpha of ``|r|`` (both tails pooled; dimensionless).

    With ``X_(1) >= X_(2) >= ...`` the order statistics of ``|r|`` and
    ``k = floor(tail_fraction * n)``::

        alpha = 1 / ( (1/k) * sum_{i=1..k} ln(X_(i) / X_(k+1)) )

    ``P(|r| > x) ~ x**-alpha``: a Student-t with nu degrees of freedom has alpha = nu, a Gaussian
    alpha = infinity (large estimates), daily stock returns usually 2-5. For Student-t data the
    estimate at the default 5 % is biased low (about 3.2 for nu = 4); smaller fractions reduce
    the bias but need more data. Scale-invariant, so it does not matter whether ``r`` is in
    fractions or percent.

    Raises ``ValueError`` if ``tail_fraction`` is outside (0, 1), if fewer than 10 observations
    fall in the tail, or if the threshold ``X_(k+1)`` is zero.
    """
    if not 0.0 < tail_fraction < 1.0:
        raise ValueError(f"hill_tail_index: tail_fraction must be in (0, 1), got {tail_fraction}")
    a = np.abs(_clean(r, 1, "hill_tail_index"))
    n = a.size
    k = int(np.floor(tail_fraction * n))
    if k < _MIN_TAIL:
        raise ValueError(
            f"hill_tail_index: tail_fraction={tail_fraction} of {n} observations leaves {k} in "
            f"the tail, need at least {_MIN_TAIL}"
        )
    # A partial sort is enough: only the k + 1 largest values matter.
    part = np.partition(a, n - k - 1)
    threshold = part[n - k - 1]
    if threshold <= 0:
        raise ValueError("hill_tail_index: tail threshold |r| is 0 (too many zero returns)")
    mean_log_excess = float(np.mean(np.log(part[n - k :] / threshold)))
    if mean_log_excess <= 0:
        raise ValueError("hill_tail_index: all tail values are tied, the index is undefined")
    return 1.0 / mean_log_excess


def acf(x: ArrayLike, max_lag: int = 100) -> np.ndarray:
    """Sample autocorrelation of ``x`` at lags 1..max_lag (dimensionless, in [-1, 1]).

    Standard biased estimator on the demeaned series::

        rho_k = sum_{t=1..n-k} (x_t - m)(x_{t+k} - m) / sum_{t=1..n} (x_t - m)**2

    computed by FFT in O(n log n). Element ``i`` of the result is the lag ``i + 1``. Under the
    null of i.i.d. data each value is approximately N(0, 1/n).
    """
    if max_lag < 1:
        raise ValueError(f"acf: max_lag must be >= 1, got {max_lag}")
    a = _clean(x, max_lag + 1, "acf")
    _require_variation(a, "acf")
    d = a - a.mean()
    c = _cross_cov(d, d, max_lag)
    return c[1:] / c[0]


def acf_returns(r: ArrayLike, max_lag: int = 100) -> np.ndarray:
    """ACF of raw returns at lags 1..max_lag; near zero for liquid assets (no linear drift)."""
    return acf(r, max_lag)


def acf_abs_returns(r: ArrayLike, max_lag: int = 100) -> np.ndarray:
    """ACF of ``|r|`` at lags 1..max_lag; positive, slowly decaying under volatility clustering."""
    return acf(np.abs(_clean(r, 1, "acf_abs_returns")), max_lag)


def acf_squared_returns(r: ArrayLike, max_lag: int = 100) -> np.ndarray:
    """ACF of ``r**2`` at lags 1..max_lag; positive under volatility clustering (noisier)."""
    return acf(_clean(r, 1, "acf_squared_returns") ** 2, max_lag)


def volatility_clustering(r: ArrayLike, lags: Iterable[int] = range(1, 21)) -> float:
    """Mean ACF of ``|r|`` over ``lags`` (default 1..20; dimensionless).

    Near 0 for i.i.d. returns; daily equity returns typically give 0.1-0.3.
    """
    lag_arr = np.fromiter(lags, dtype=np.int64)
    if lag_arr.size == 0 or lag_arr.min() < 1:
        raise ValueError("volatility_clustering: lags must be a non-empty set of integers >= 1")
    rho = acf_abs_returns(r, int(lag_arr.max()))
    return float(rho[lag_arr - 1].mean())


def leverage_effect(r: ArrayLike, max_lag: int = 20) -> np.ndarray:
    """Correlation between ``r_t`` and future squared returns ``r_{t+k}**2``, k = 1..max_lag.

    Dimensionless, in [-1, 1]; negative for equities (falls raise later volatility), about zero
    for symmetric volatility models. Same biased normalisation as :func:`acf`: full-sample means
    and standard deviations, with the lag-k sum divided by n::

        L_k = sum_{t=1..n-k} (r_t - m)(r_{t+k}**2 - m2) / (n * sd(r) * sd(r**2))
    """
    if max_lag < 1:
        raise ValueError(f"leverage_effect: max_lag must be >= 1, got {max_lag}")
    a = _clean(r, max_lag + 1, "leverage_effect")
    _require_variation(a, "leverage_effect")
    sq = a**2
    x = a - a.mean()
    y = sq - sq.mean()
    return _cross_cov(x, y, max_lag)[1:] / (x.std() * y.std())


def aggregational_gaussianity(
    r: ArrayLike, horizons: Iterable[int] = (1, 5, 20)
) -> dict[int, float]:
    """Excess kurtosis of returns summed over non-overlapping blocks of each horizon.

    Maps horizon ``h`` (observation steps, e.g. trading days) to the excess kurtosis of the
    ``floor(n / h)`` block sums (the trailing remainder is dropped). Summing log-returns gives
    the h-step log-return, whose kurtosis should fall towards 0 as h grows. Needs at least 10
    blocks per horizon.
    """
    a = _clean(r, 1, "aggregational_gaussianity")
    out: dict[int, float] = {}
    for h in horizons:
        h = int(h)
        if h < 1:
            raise ValueError(f"aggregational_gaussianity: horizons must be >= 1, got {h}")
        m = a.size // h
        if m < _MIN_BLOCKS:
            raise ValueError(
                f"aggregational_gaussianity: {a.size} observations give {m} blocks of {h}, "
                f"need at least {_MIN_BLOCKS}"
            )
        out[h] = excess_kurtosis(a[: m * h].reshape(m, h).sum(axis=1))
    return out


@dataclass(frozen=True)
class Statistic:
    """One stylized statistic of a return series: ``compute(a)`` on a cleaned 1-D array.

    ``compute`` raises ``ValueError`` when the series is too short for it.
    """

    name: str
    unit: str
    description: str
    compute: Callable[[np.ndarray], float]


#: Every stylized statistic, by name: calibration targets, validation reports and
#: :func:`summary` look them up here.
STATISTICS: dict[str, Statistic] = {
    s.name: s
    for s in (
        Statistic("n_obs", "count", "number of returns", lambda a: float(a.size)),
        Statistic(
            "daily_volatility",
            "fraction per step",
            "std of log returns (ddof=1; per day for daily data)",
            lambda a: float(a.std(ddof=1)),
        ),
        Statistic("skewness", "dimensionless", "skewness", skewness),
        Statistic(
            "excess_kurtosis", "dimensionless", "excess kurtosis (0 for a normal)", excess_kurtosis
        ),
        Statistic(
            "hill_tail_index",
            "dimensionless",
            "Hill tail index of |r| at 5 % (lower = fatter)",
            lambda a: hill_tail_index(a, 0.05),
        ),
        Statistic(
            "acf_returns_lag1",
            "correlation",
            "ACF of returns at lag 1",
            lambda a: float(acf(a, 1)[0]),
        ),
        Statistic(
            "acf_abs_returns_mean_1_20",
            "correlation",
            "mean ACF of |r|, lags 1-20",
            lambda a: volatility_clustering(a, range(1, 21)),
        ),
        Statistic(
            "acf_squared_returns_mean_1_20",
            "correlation",
            "mean ACF of r^2, lags 1-20",
            lambda a: float(acf_squared_returns(a, 20).mean()),
        ),
        Statistic(
            "leverage_mean_1_10",
            "correlation",
            "mean corr(r_t, r_{t+k}^2), k = 1-10",
            lambda a: float(leverage_effect(a, 10).mean()),
        ),
        Statistic(
            "kurtosis_h5",
            "dimensionless",
            "excess kurtosis of non-overlapping 5-step sums",
            lambda a: aggregational_gaussianity(a, (5,))[5],
        ),
        Statistic(
            "kurtosis_h20",
            "dimensionless",
            "excess kurtosis of non-overlapping 20-step sums",
            lambda a: aggregational_gaussianity(a, (20,))[20],
        ),
    )
}


def statistic(name: str, r: ArrayLike) -> float:
    """Statistic ``name`` of :data:`STATISTICS` on returns ``r`` (NaN dropped)."""
    if name not in STATISTICS:
        raise ValueError(f"unknown statistic {name!r}; known: {', '.join(STATISTICS)}")
    a = np.asarray(r, dtype=np.float64)
    return float(STATISTICS[name].compute(a[~np.isnan(a)]))


def reference_table() -> str:
    """Markdown table of every registered statistic."""
    rows = ["| statistic | unit | meaning |", "| --- | --- | --- |"]
    for s in STATISTICS.values():
        meaning = s.description.replace("|", "\\|")  # a bare | would end the cell
        rows.append(f"| `{s.name}` | {s.unit} | {meaning} |")
    return "\n".join(rows)


def summary(r: ArrayLike) -> dict[str, float]:
    """Every statistic of :data:`STATISTICS` on ``r``, as a flat dict of floats.

    Needs at least 200 non-NaN observations (fewer raise ``ValueError``); see each
    :class:`Statistic`'s description for its meaning and unit.
    """
    a = _clean(r, _SUMMARY_MIN_OBS, "summary")
    _require_variation(a, "summary")
    return {name: float(s.compute(a)) for name, s in STATISTICS.items()}
