"""Bayesian updating: the closed form, sequential consistency, Jevons reading, forgetting."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim.beliefs import Beliefs, bayes_update
from sim.scenario import BeliefsConfig

FACTORS = ["compute_demand", "frontier_moat", "cost_of_intelligence"]

finite = st.floats(-5, 5, allow_nan=False)
positive = st.floats(0.01, 50, allow_nan=False)


@given(mu=finite, tau=positive, s=finite, pi=positive, w=st.floats(0.01, 3))
def test_update_matches_closed_form(mu, tau, s, pi, w):
    m, t = bayes_update(np.array(mu), np.array(tau), np.array(s), np.array(pi), np.array(w))
    assert np.isclose(t, tau + w * pi)
    assert np.isclose(m, (tau * mu + w * pi * s) / (tau + w * pi))
    # the posterior mean lies between prior mean and signal
    assert min(mu, s) - 1e-9 <= m <= max(mu, s) + 1e-9


@given(mu=finite, tau=positive, s1=finite, s2=finite, p1=positive, p2=positive)
def test_two_signals_equal_one_pooled_signal(mu, tau, s1, s2, p1, p2):
    m1, t1 = bayes_update(mu, tau, s1, p1, 1.0)
    m2, t2 = bayes_update(m1, t1, s2, p2, 1.0)
    pooled = (p1 * s1 + p2 * s2) / (p1 + p2)
    m, t = bayes_update(mu, tau, pooled, p1 + p2, 1.0)
    assert np.isclose(m2, m, atol=1e-9) and np.isclose(t2, t)


def _beliefs(n=2000, **cfg):
    b = Beliefs(
        BeliefsConfig(**cfg),
        n,
        exposures=np.eye(3),
        consensus=np.zeros(3),
        factor_names=FACTORS,
        reaction=np.ones(n),
        rng=np.random.default_rng(0),
    )
    return b


def test_population_update_uses_each_investors_trust():
    b = _beliefs(trust_dispersion=0.5, jevons_share=0.0)
    mu0, tau0 = b.mu.copy(), b.tau.copy()
    rows = np.arange(0, 2000, 2)
    signal = np.array([-1.0, 0.0, 0.0])
    has = np.array([True, False, False])
    b.update(rows, signal, has, credibility=2.0)
    w = b.trust[rows]
    expect = (tau0[rows, 0] * mu0[rows, 0] + w * 2.0 * -1.0) / (tau0[rows, 0] + w * 2.0)
    np.testing.assert_allclose(b.mu[rows, 0], expect)
    # silent factors and uninformed investors are untouched
    np.testing.assert_array_equal(b.mu[rows, 1:], mu0[rows, 1:])
    np.testing.assert_array_equal(b.mu[1::2], mu0[1::2])


def test_jevons_investors_read_cheaper_compute_as_more_demand():
    b = _beliefs(jevons_share=0.5, jevons_elasticity=0.6, prior_dispersion=0.0, bull_bear_gap=0.0)
    rows = np.arange(2000)
    # DeepSeek-like news: less compute demand and cheaper intelligence
    b.update(rows, np.array([-1.0, 0.0, -1.0]), np.array([True, False, True]), 1.0)
    cd = b.mu[:, 0]
    assert (cd[b.jevons] > 0).all() and (cd[~b.jevons] < 0).all()


def test_precision_fades_with_half_life():
    b = _beliefs(memory_half_life_days=2.0)
    tau0 = b.tau.copy()
    b.decay(48.0)
    np.testing.assert_allclose(b.tau, tau0 / 2)
