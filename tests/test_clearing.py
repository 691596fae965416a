"""Price formation: the auction clears, impact follows the square-root law, shares add up."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import clearing
from sim.model import MoatshockModel
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS


def _random_market(seed: int, a: int = 6, n: int = 3000):
    rng = np.random.default_rng(seed)
    lp_ref = np.log(rng.uniform(20, 500, a))
    scheds = []
    for _ in range(2):
        wealth = rng.pareto(1.5, n) + 1.0
        gap = rng.normal(rng.normal(0, 0.05, a), 0.05, (n, a))
        base = np.full(a, 0.05)
        held = (wealth.sum() * base / np.exp(lp_ref)) * rng.uniform(0.8, 1.2, a)
        scheds.append(
            clearing.ElasticSchedule.from_investors(
                wealth, gap, 0.3, 0.3 * held, base, base / 0.3, np.zeros(a), 3 * base, 128
            )
        )
    fixed = rng.normal(0, 50, a)
    mm = clearing.MarketMakerQuote(np.zeros(a), np.full(a, 1e3), np.full(a, 1e4), 0.05)
    return lp_ref, scheds, fixed, mm


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_batch_auction_hits_zero_excess_demand(seed):
    lp_ref, scheds, fixed, mm = _random_market(seed)
    res = clearing.batch_auction(lp_ref, scheds, fixed, mm, bracket=0.7, tol=1e-12)
    ok = ~res.at_limit
    scale = sum(np.abs(s.offset) for s in scheds) + 1.0
    assert np.all(np.abs(res.excess_at_root[ok]) / scale[ok] < 1e-8)


def test_excess_demand_is_decreasing_in_price():
    lp_ref, scheds, fixed, mm = _random_market(3)
    xs = np.linspace(-0.5, 0.5, 201)
    a = lp_ref.size
    vals = np.array(
        [clearing.excess_demand(np.full(a, x), np.arange(a), lp_ref, scheds, fixed, mm) for x in xs]
    )
    assert np.all(np.diff(vals, axis=0) <= 1e-9)


def test_no_root_in_bracket_stops_at_the_limit():
    lp_ref, scheds, fixed, mm = _random_market(5)
    fixed = np.full(lp_ref.size, -1e15)  # an impossible sell order
    res = clearing.batch_auction(lp_ref, scheds, fixed, mm, bracket=0.3)
    assert res.at_limit.all()
    np.testing.assert_allclose(res.lp - lp_ref, -0.3)


def test_sqrt_impact_scales_with_square_root_of_size():
    adv = np.array([1e6, 5e7])
    vol = np.array([0.02, 0.01])
    q = np.array([1e4, 2e5])
    small = np.expm1(clearing.sqrt_impact(q, adv, vol, 1.0))
    big = np.expm1(clearing.sqrt_impact(4 * q, adv, vol, 1.0))
    np.testing.assert_allclose(big / small, 2.0)
    np.testing.assert_allclose(small, vol * np.sqrt(q / adv))
    sell = np.expm1(clearing.sqrt_impact(-q, adv, vol, 1.0))
    np.testing.assert_allclose(sell, -small)
    # at the day's whole volume the move is Y daily sigmas
    np.testing.assert_allclose(np.expm1(clearing.sqrt_impact(adv, adv, vol, 0.7)), 0.7 * vol)


def _model(mechanism: str) -> MoatshockModel:
    scn = load_scenario(
        SCENARIOS / "deepseek_2025.yaml",
        {"population.size": 800, "price_formation.mechanism": mechanism},
    )
    return MoatshockModel(scn, seed=3)


def test_every_share_is_held_after_every_step_in_both_mechanisms():
    for mech in ("batch_auction", "market_maker"):
        m = _model(mech)
        for _ in range(300):
            m.step()
            np.testing.assert_allclose(
                m.population.holdings.sum(axis=0), m.universe.shares, rtol=1e-9
            )


def test_investor_level_execution_matches_the_aggregated_schedule():
    m = _model("batch_auction")
    while m.running:
        m.step()
    # the market maker absorbs what binning approximated: tiny next to daily volume
    assert m.max_abs_quote_error < 1e-3
