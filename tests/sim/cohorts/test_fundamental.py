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
    nvda, meta = asset(model, "NVDA"), asset(model, "META")
    assert rel[nvda] > 1e-4
    # the more exposed a name, the more of it is bought; META (no compute revenue, a big
    # buyer of compute) is sold
    assert rel[nvda] == rel.max() and rel[meta] == rel.min() < 0


def test_worse_compute_outlook_sells_the_compute_names():
    model = quiet_model()
    shift_beliefs(model, "compute_demand", -0.5)
    rel = _orders(model) / _held(model)
    for t in ("NVDA", "AVGO", "TSM"):
        assert rel[asset(model, t)] < -1e-4, t
    assert rel[asset(model, "NVDA")] == rel.min() and rel[asset(model, "META")] > 0


def test_demand_falls_with_the_price():
    model = quiet_model()
    c = model.cohorts["fundamental"]
    c.submit()
    sched = c.schedule()
    nvda = np.array([asset(model, "NVDA")])
    lp = model.market.lp
    low, high = (sched.shares(np.array([x]), nvda, lp)[0] for x in (-0.05, 0.05))
    assert low > high
