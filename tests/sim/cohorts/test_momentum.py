"""Trend followers: they buy what has risen and sell what has fallen."""

from __future__ import annotations

import numpy as np

from tests.sim.cohorts.conftest import asset, quiet_model, record_prices


def _orders(model) -> np.ndarray:
    c = model.cohorts["momentum"]
    c.active[:] = True  # every member trades (the switching rate is set to 0 below)
    c.submit()
    return c.delta.sum(axis=0)


def _model():
    # the rule at the schema's default tilt (aggressiveness 1): a member's target weight moves
    # with the trend by more than its holding's weight drifts with the price. (With the shipped
    # tilt of 0.3, a 200-step trend of +49 % saturates the tilt below the drift and the member
    # rebalances, selling part of the winner: a tilted benchmark, not a pure trend follower.)
    return quiet_model(
        population__cohorts__momentum__switch_rate=0.0,
        population__cohorts__momentum__aggressiveness=1.0,
    )


def test_flat_prices_no_trade():
    model = _model()
    orders = _orders(model)
    held = model.cohorts["momentum"].holdings.sum(axis=0)
    assert np.all(np.abs(orders) <= 1e-9 * held)


def test_rising_price_is_bought_falling_price_is_sold():
    model = _model()
    moves = np.zeros(model.universe.n_assets)
    up, down = asset(model, "NVDA"), asset(model, "AAPL")
    moves[up], moves[down] = 0.002, -0.002
    record_prices(model, moves, 200)
    orders = _orders(model)
    assert orders[up] > 0 > orders[down]


def test_inactive_members_do_not_trade():
    model = _model()
    moves = np.full(model.universe.n_assets, 0.002)
    record_prices(model, moves, 100)
    c = model.cohorts["momentum"]
    c.active[:] = False
    c.submit()
    assert not c.delta.any() and not c.fixed.any()
