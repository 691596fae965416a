"""Market makers: they sell into rising prices, buy into falling ones, and shed inventory."""

from __future__ import annotations

import numpy as np

from tests.sim.cohorts.conftest import quiet_model


def test_quote_leans_against_the_price_move(model):
    q = model.mm.quote()
    idx = np.arange(model.universe.n_assets)
    up = q.shares(np.full(idx.size, 0.01), idx)
    down = q.shares(np.full(idx.size, -0.01), idx)
    flat = q.shares(np.zeros(idx.size), idx)
    assert np.all(up < 0) and np.all(down > 0) and np.all(flat == 0)


def test_long_inventory_is_offered():
    model = quiet_model()
    mm = model.mm
    mm.holdings += mm.split[:, None] * (0.1 * mm.limit)[None, :]
    q = mm.quote()
    idx = np.arange(model.universe.n_assets)
    assert np.all(q.shares(np.zeros(idx.size), idx) < 0)


def test_absorbs_the_other_side_of_every_trade():
    model = quiet_model()
    mm = model.mm
    before = mm.holdings.sum(axis=0).copy()
    others = np.linspace(-1e5, 1e5, model.universe.n_assets)
    mm.absorb(others, model.market.lp, np.zeros_like(others))
    np.testing.assert_allclose(mm.holdings.sum(axis=0) - before, -others)
