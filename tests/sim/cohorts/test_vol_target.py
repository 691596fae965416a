"""Volatility targeters: they cut exposure when realised volatility rises, near the close."""

from __future__ import annotations

import numpy as np

from tests.sim.cohorts.conftest import quiet_model


def _last_step(model) -> None:
    """Move the model to the session's last trading tick (their rebalancing window)."""
    day = model.ticks.day[model.tick - 1]
    model.tick = int(np.searchsorted(model.ticks.day, day, side="right"))


def test_idle_before_the_rebalancing_window(model):
    c = model.cohorts["vol_target"]
    c.var *= 16.0
    c.submit()
    assert c.idle and not c.fixed.any()


def test_normal_volatility_no_trade(model):
    _last_step(model)
    c = model.cohorts["vol_target"]
    c.submit()
    assert not c.idle
    held = c.holdings.sum(axis=0)
    assert np.all(np.abs(c.fixed) <= 1e-9 * held)


def test_high_volatility_sells_low_volatility_buys():
    high, low = quiet_model(), quiet_model()
    for m, factor in ((high, 4.0), (low, 0.25)):
        _last_step(m)
        m.cohorts["vol_target"].var *= factor
        m.cohorts["vol_target"].submit()
    assert np.all(high.cohorts["vol_target"].fixed < 0)
    assert np.all(low.cohorts["vol_target"].fixed > 0)
