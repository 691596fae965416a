"""Active funds: they buy what they come to value more, sell what they value less."""

from __future__ import annotations

import numpy as np

from tests.sim.cohorts.conftest import asset, quiet_model, shift_beliefs


def _orders(model, name: str = "fundamental") -> np.ndarray:
    """Net shares the cohort orders per asset at the current price."""
    c = model.cohorts[name]
    c.submit()
    c.schedule()
    c.prepare(model.market.lp)
    return c.delta.sum(axis=0)


def _held(model, name: str = "fundamental") -> np.ndarray:
    return model.cohorts[name].holdings.sum(axis=0)


def test_no_news_no_trade(model):
    orders = _orders(model)
    assert np.all(np.abs(orders) <= 1e-9 * _held(model))


def test_better_compute_outlook_buys_the_compute_names():
    model = quiet_model()
    shift_beliefs(model, "compute_demand", +0.5)
    rel = _orders(model) / _held(model)
    nvda = asset(model, "NVDA")
    assert rel[nvda] > 1e-4
    # the more exposed a name per unit of variance (the mean-variance tilt), the more of it is
    # bought
    assert _rank_corr(rel, _compute_exposure(model)) > 0.9
    assert rel[asset(model, "NVDA")] > rel[asset(model, "AAPL")]


def _rank_corr(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])


def _compute_exposure(model) -> np.ndarray:
    """Compute-demand exposure per unit of return variance (what the tilt is proportional to)."""
    u = model.universe
    return u.exposures[:, u.factor_names.index("compute_demand")] / u.daily_vol**2


def test_worse_compute_outlook_sells_the_compute_names():
    model = quiet_model()
    shift_beliefs(model, "compute_demand", -0.5)
    rel = _orders(model) / _held(model)
    for t in ("NVDA", "AVGO", "TSM", "VRT", "ANET"):
        assert rel[asset(model, t)] < -1e-4, t
    assert _rank_corr(rel, _compute_exposure(model)) < -0.9
    assert rel[asset(model, "AAPL")] > rel[asset(model, "NVDA")]


def test_demand_falls_with_the_price():
    model = quiet_model()
    c = model.cohorts["fundamental"]
    c.submit()
    sched = c.schedule()
    nvda = np.array([asset(model, "NVDA")])
    lp = model.market.lp
    low, high = (sched.shares(np.array([x]), nvda, lp)[0] for x in (-0.05, 0.05))
    assert low > high
