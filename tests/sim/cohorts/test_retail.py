"""Retail: noise around zero, and dip buying when prices fall below the previous close."""

from __future__ import annotations

import numpy as np

from tests.sim.cohorts.conftest import asset, quiet_model, record_prices

NO_NOISE = {"population__cohorts__retail__noise_volume_share": 0.0}


def test_no_move_no_dip_buying():
    model = quiet_model(**NO_NOISE)
    c = model.cohorts["retail"]
    c.submit()
    assert not np.any(c.fixed)


def test_a_drop_is_bought():
    model = quiet_model(**NO_NOISE)
    moves = np.zeros(model.universe.n_assets)
    nvda = asset(model, "NVDA")
    moves[nvda] = -0.01
    record_prices(model, moves, 10)
    c = model.cohorts["retail"]
    c.submit()
    assert c.fixed[nvda] > 0
    assert np.all(np.delete(c.fixed, nvda) == 0)


def test_noise_orders_average_near_zero_and_never_short():
    model = quiet_model()
    c = model.cohorts["retail"]
    gross = net = 0.0
    for _ in range(200):  # 29 assets: enough orders that every one averages out
        c.submit()
        net += c.fixed
        gross += np.abs(c.d_act).sum(axis=0)
        assert np.all(c.holdings[c.act] + c.d_act >= -1e-9)
    assert np.all(np.abs(net) < 0.5 * gross)
