"""Hedge funds: belief-driven like funds, and a margin call forces them to sell."""

from __future__ import annotations

import numpy as np

from tests.sim.cohorts.conftest import asset, quiet_model, shift_beliefs
from tests.sim.cohorts.test_fundamental import _held, _orders


def test_no_news_no_trade(model):
    orders = _orders(model, "leveraged")
    assert np.all(np.abs(orders) <= 1e-9 * np.abs(_held(model, "leveraged")) + 1e-9)


def test_belief_up_buys_belief_down_sells():
    up, down = quiet_model(), quiet_model()
    shift_beliefs(up, "compute_demand", +0.5)
    shift_beliefs(down, "compute_demand", -0.5)
    nvda = asset(up, "NVDA")
    assert _orders(up, "leveraged")[nvda] > 0 > _orders(down, "leveraged")[nvda]


def test_margin_call_forces_sales_of_every_long():
    model = quiet_model()
    c = model.cohorts["leveraged"]
    # a loss wipes out most of the equity: equity / gross falls below the maintenance margin
    c.cash -= 0.95 * c.wealth
    model.wealth_update()
    c.submit()
    assert c.margin_calls > 0 and not c.active.any()
    longs = c.holdings.sum(axis=0) > 0
    assert np.all(c.fixed[longs] < 0)  # market orders to sell, before any clearing
    c.schedule()
    c.prepare(model.market.lp)
    np.testing.assert_allclose(c.delta.sum(axis=0), c.fixed)
