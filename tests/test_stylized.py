"""Stylized-fact estimators against series whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.validation import stylized as sf

N = 100_000


def _garch(n: int, seed: int, gamma: float = 0.0) -> np.ndarray:
    """GARCH(1,1) (GJR when gamma > 0) with unit unconditional variance, Gaussian shocks.

    alpha=0.1, beta=0.85 has a finite fourth moment: excess kurtosis 0.77 in theory.
    """
    alpha, beta = 0.1 - gamma / 2, 0.85
    omega = 1.0 - alpha - beta - gamma / 2
    z = np.random.default_rng(seed).standard_normal(n + 1000)
    r = np.empty_like(z)
    s2 = 1.0
    # The variance recursion is inherently sequential; this loop is test-data generation only.
    for t in range(z.size):
        r[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (r[t] < 0)) * r[t] ** 2 + beta * s2
    return r[1000:]  # drop burn-in


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    return np.random.default_rng(11).standard_normal(N)


@pytest.fixture(scope="module")
def garch() -> np.ndarray:
    return _garch(50_000, seed=12)


# --- i.i.d. Gaussian: no fat tails, no autocorrelation of any kind -------------------------------


def test_gaussian_excess_kurtosis_near_zero(gaussian: np.ndarray) -> None:
    se = np.sqrt(24 / N)
    assert abs(sf.excess_kurtosis(gaussian)) < 4 * se


def test_gaussian_acfs_within_white_noise_band(gaussian: np.ndarray) -> None:
    # Each rho_k ~ N(0, 1/n). A 3-sigma band checked on 80 values at once would fail ~20 % of
    # seeds by chance, so the 3/sqrt(n) band is applied to the first lags, a 4.5/sqrt(n) band
    # to all, and the joint size is checked with the Box-Pierce statistic n * sum(rho^2).
    sigma = 1 / np.sqrt(N)
    box_pierce_limit = scipy.stats.chi2.ppf(0.999, 20)
    series = {
        "r": sf.acf_returns(gaussian, 20),
        "|r|": sf.acf_abs_returns(gaussian, 20),
        "r^2": sf.acf_squared_returns(gaussian, 20),
        "leverage": sf.leverage_effect(gaussian, 20),
    }
    for name, rho in series.items():
        assert rho.shape == (20,), name
        assert np.all(np.abs(rho[:3]) < 3 * sigma), name
        assert np.all(np.abs(rho) < 4.5 * sigma), name
        assert N * np.sum(rho**2) < box_pierce_limit, name
    assert abs(sf.volatility_clustering(gaussian)) < 3 * sigma


# --- heavy tails ---------------------------------------------------------------------------------


def test_hill_recovers_pareto_index() -> None:
    # |r| exactly Pareto(alpha=3) above 1: the Hill estimator is unbiased-ish, se = alpha/sqrt(k).
    rng = np.random.default_rng(21)
    mag = rng.pareto(3.0, N) + 1.0
    r = mag * rng.choice([-1.0, 1.0], N)
    assert sf.hill_tail_index(r, 0.05) == pytest.approx(3.0, abs=0.15)  # k=5000, se=0.04


def test_hill_student_t_near_degrees_of_freedom() -> None:
    # Student-t tails are only asymptotically Pareto, so Hill is biased low at large fractions;
    # with 400k draws and a 0.5 % tail (k=2000) the estimate is within 0.5 of nu=4 (~3.75).
    r = np.random.default_rng(22).standard_t(4, 400_000)
    assert sf.hill_tail_index(r, 0.005) == pytest.approx(4.0, abs=0.5)
    # The default 5 % fraction reads lower still, but stays in the "fat tail" range.
    assert 2.8 < sf.hill_tail_index(r) < 4.0


def test_student_t_excess_kurtosis_positive() -> None:
    r = np.random.default_rng(23).standard_t(5, N)  # theoretical excess kurtosis 6
    assert sf.excess_kurtosis(r) > 2.0


def test_aggregational_gaussianity_laplace() -> None:
    # i.i.d. Laplace has excess kurtosis 3; a sum of h i.i.d. terms has 3/h.
    r = np.random.default_rng(24).laplace(size=200_000)
    k = sf.aggregational_gaussianity(r, (1, 5, 20))
    assert list(k) == [1, 5, 20]
    assert k[1] == pytest.approx(3.0, abs=0.3)
    assert k[5] == pytest.approx(0.6, abs=0.2)
    assert k[20] == pytest.approx(0.15, abs=0.15)
    assert k[1] > k[5] > k[20]


def test_aggregation_uses_non_overlapping_leading_blocks() -> None:
    r = np.random.default_rng(25).standard_normal(103)
    k = sf.aggregational_gaussianity(r, (1, 10))
    assert k[1] == pytest.approx(sf.excess_kurtosis(r))
    assert k[10] == pytest.approx(sf.excess_kurtosis(r[:100].reshape(10, 10).sum(axis=1)))


# --- GARCH: uncorrelated returns, clustered volatility, fat tails --------------------------------


def test_garch_volatility_clustering(garch: np.ndarray) -> None:
    assert np.all(sf.acf_abs_returns(garch, 20) > 0)
    assert np.all(sf.acf_squared_returns(garch, 20) > 0)
    assert sf.volatility_clustering(garch) > 0.05


def test_garch_returns_uncorrelated(garch: np.ndarray) -> None:
    # GARCH inflates the sampling variance of the return ACF, hence a wider band than 3/sqrt(n).
    assert np.all(np.abs(sf.acf_returns(garch, 20)) < 5 / np.sqrt(garch.size))


def test_garch_excess_kurtosis_positive(garch: np.ndarray) -> None:
    assert sf.excess_kurtosis(garch) > 0.3


def test_leverage_negative_for_gjr_garch_and_zero_for_symmetric(garch: np.ndarray) -> None:
    gjr = _garch(50_000, seed=13, gamma=0.15)
    lev = sf.leverage_effect(gjr, 10)
    assert lev.shape == (10,)
    # r_t < 0 raises sigma_{t+1}^2, so every lag is negative; averaging over lags tames the
    # heavy-tailed noise of the single-lag estimates.
    assert lev[0] < 0
    assert lev.mean() < -0.025
    assert abs(sf.leverage_effect(garch, 10).mean()) < 0.02


# --- ACF closed forms and reference implementations ----------------------------------------------


def test_acf_ar1_matches_phi_to_the_k() -> None:
    phi = 0.6
    e = np.random.default_rng(31).standard_normal(N + 500)
    x = scipy.signal.lfilter([1.0], [1.0, -phi], e)[500:]
    rho = sf.acf(x, 10)
    np.testing.assert_allclose(rho, phi ** np.arange(1, 11), atol=0.02)


def test_acf_and_leverage_match_direct_sums() -> None:
    r = np.random.default_rng(32).standard_t(5, 500)
    n = r.size
    d = r - r.mean()
    ref_acf = [np.sum(d[:-k] * d[k:]) / np.sum(d * d) for k in range(1, 31)]
    np.testing.assert_allclose(sf.acf(r, 30), ref_acf, atol=1e-12)
    s = r**2 - np.mean(r**2)
    ref_lev = [np.sum(d[:-k] * s[k:]) / (n * d.std() * s.std()) for k in range(1, 11)]
    np.testing.assert_allclose(sf.leverage_effect(r, 10), ref_lev, atol=1e-12)


def test_nan_values_are_dropped() -> None:
    r = np.random.default_rng(33).standard_normal(400)
    with_gaps = np.insert(r, [10, 200, 399], np.nan)
    np.testing.assert_allclose(sf.acf(with_gaps, 5), sf.acf(r, 5))
    assert sf.summary(with_gaps) == pytest.approx(sf.summary(r))


# --- summary -------------------------------------------------------------------------------------

SUMMARY_KEYS = {
    "excess_kurtosis",
    "hill_tail_index",
    "acf_returns_lag1",
    "acf_abs_returns_mean_1_20",
    "acf_squared_returns_mean_1_20",
    "leverage_mean_1_10",
    "kurtosis_h5",
    "kurtosis_h20",
    "daily_volatility",
    "skewness",
}


def test_summary_keys_and_values(garch: np.ndarray) -> None:
    r = 0.01 * garch  # 1 % daily volatility
    s = sf.summary(r)
    assert SUMMARY_KEYS <= set(s)
    assert all(isinstance(v, float) and np.isfinite(v) for v in s.values())
    assert s["n_obs"] == r.size
    assert s["daily_volatility"] == pytest.approx(0.01, rel=0.05)
    assert s["acf_abs_returns_mean_1_20"] == pytest.approx(sf.volatility_clustering(r))
    assert s["kurtosis_h20"] == pytest.approx(sf.aggregational_gaussianity(r, (20,))[20])


# --- input validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sf.summary(np.arange(199.0)), "at least 200"),
        (lambda: sf.acf(np.arange(5.0), 5), "at least 6"),
        (lambda: sf.acf(np.arange(50.0), 0), "max_lag"),
        (lambda: sf.acf(np.full(50, 2.0), 5), "constant"),
        (lambda: sf.acf(np.array([1.0, np.inf, 2.0, 3.0]), 1), "infinite"),
        (lambda: sf.acf(np.ones((10, 2)), 1), "1-D"),
        (lambda: sf.excess_kurtosis([1.0, np.nan, 2.0]), "at least 4"),
        (lambda: sf.hill_tail_index(np.arange(1.0, 100.0)), "need at least 10"),
        (lambda: sf.hill_tail_index(np.arange(1.0, 100.0), 1.5), "tail_fraction"),
        (lambda: sf.hill_tail_index(np.r_[np.zeros(990), np.arange(1.0, 11.0)]), "zero"),
        (lambda: sf.aggregational_gaussianity(np.arange(100.0), (20,)), "5 blocks"),
        (lambda: sf.volatility_clustering(np.arange(100.0), []), "lags"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --- properties ----------------------------------------------------------------------------------

_series = arrays(
    np.float64,
    st.integers(30, 300),
    elements=st.floats(-100, 100, allow_nan=False, allow_subnormal=False),
)


@settings(max_examples=60, deadline=None)
@given(
    x=_series,
    scale=st.floats(0.01, 100) | st.floats(-100, -0.01),
    shift=st.floats(-1000, 1000),
)
def test_acf_and_kurtosis_invariant_under_affine_maps(x: np.ndarray, scale: float, shift: float):
    assume(np.std(x) > 1e-2)
    y = scale * x + shift
    np.testing.assert_allclose(sf.acf(y, 10), sf.acf(x, 10), atol=1e-7)
    assert sf.excess_kurtosis(y) == pytest.approx(sf.excess_kurtosis(x), abs=1e-7)
    assert np.all(np.abs(sf.acf(x, 10)) <= 1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(
        np.float64, st.integers(200, 1000), elements=st.floats(0.01, 100, allow_subnormal=False)
    ),
    scale=st.floats(1e-4, 1e4),
    seed=st.integers(0, 2**32 - 1),
)
def test_hill_invariant_under_scaling_and_sign_flips(x: np.ndarray, scale: float, seed: int):
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], x.size)
    y = scale * signs * x
    try:
        expected = sf.hill_tail_index(x)
    except ValueError:  # tied tail: the transformed series must be rejected the same way
        with pytest.raises(ValueError, match="tied"):
            sf.hill_tail_index(y)
        return
    # Near-tied tails give huge alphas whose relative rounding error grows like alpha * eps.
    assume(expected < 1e6)
    assert sf.hill_tail_index(y) == pytest.approx(expected, rel=1e-6)
