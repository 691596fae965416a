"""Index funds: inflows buy the index and outflows sell it, at the close only."""

from __future__ import annotations

import numpy as np

from tests.sim.cohorts.conftest import quiet_model


def _at_close_with_flow(flow: float):
    model = quiet_model()
    c = model.cohorts["passive"]
    model.market.is_open_tick = False
    model.market.is_last_tick = True
    c.today_flow = flow
    c.submit()
    return c


def test_no_flow_no_trade():
    assert _at_close_with_flow(0.0).idle


def test_inflow_buys_every_name_in_proportion_outflow_sells():
    buy, sell = _at_close_with_flow(0.01), _at_close_with_flow(-0.01)
    held = buy.holdings.sum(axis=0)
    np.testing.assert_allclose(buy.fixed, 0.01 * held)
    np.testing.assert_allclose(sell.fixed, -0.01 * held)


def test_no_trade_before_the_close(model):
    c = model.cohorts["passive"]
    model.market.is_last_tick = False
    c.today_flow = 0.02
    c.submit()
    assert c.idle and not c.fixed.any()
