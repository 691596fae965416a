"""Price discovery without trade: no-trade bands, investor inertia, re-quoting market makers;
and the volume outputs (volume multiples against real, volume by investor type)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis import vs_real
from sim import clearing
from sim.kernels import elastic
from tests.conftest import small_run

# ------------------------------------------------------------------------ the mathematics


def test_in_band_is_a_band_around_the_holding_in_fractions_of_wealth():
    # target 10 % of $1000 = $100; holding 9 shares at $10 = $90: 1 % of wealth apart
    assert elastic.in_band.py_func(0.10, 9.0, 10.0, 1000.0, 0.011)
    assert not elastic.in_band.py_func(0.10, 9.0, 10.0, 1000.0, 0.009)
    assert not elastic.in_band.py_func(0.10, 10.0, 10.0, 1000.0, 0.0)  # band 0: always trade


def _cohort_inputs(band: float, n: int = 400, a: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    price = rng.uniform(20, 200, a)
    base = np.full(a, 0.2)
    inv_g = base / 0.3
    wealth0 = rng.pareto(1.5, n) + 1.0
    frac = base * (1 + rng.normal(0, 0.05, (n, a)))
    holdings = wealth0[:, None] * frac / price
    cash = wealth0 - holdings @ price
    bgap = rng.normal(0, 0.02, (n, a))
    rule = (bgap, np.zeros(a), base, inv_g, np.zeros(a), 3 * base, -1, 0.0)
    return holdings, cash, np.empty(n), rule, price, np.full(a, band * 0.2)


@pytest.mark.parametrize("band", [0.0, 0.05, 0.2])
def test_schedule_and_orders_agree_with_a_band(band):
    """The aggregated schedule (bins) and the members' exact orders agree at any price, with
    or without a band: the auction clears what the members then trade."""
    holdings, cash, wealth, rule, price, bw = _cohort_inputs(band)
    n, a = holdings.shape
    bounds = np.array([0, n], dtype=np.int64)
    active = np.ones(n, dtype=bool)
    # members of every review state: out of the book, resting orders only, re-optimising
    review = (np.arange(n) % 3).astype(np.int8)
    k, kp, bins = 0.1, 0.3, 256
    umin, umax = elastic.gap_bounds.serial(bounds, *rule)
    width = np.maximum(umax - umin, 1e-12) / bins
    w, wu, off = elastic.schedule_pass.serial(
        bounds,
        holdings,
        cash,
        wealth,
        *rule,
        price,
        k,
        kp,
        active,
        bw,
        review,
        0.05,
        umin,
        width,
        bins,
    )
    sched = clearing.ElasticSchedule(kp, off, w, wu, rule[2], rule[3], rule[4], rule[5])
    lp = np.log(price)
    for x in (-0.02, 0.0, 0.015):
        xs = np.full(a, x)
        agg = sched.shares(xs, np.arange(a), lp + 0 * xs)
        flow, _ = elastic.order_pass.serial(
            bounds, holdings.copy(), cash.copy(), wealth, *rule, price, k, kp, active, bw, review, 0.05,
            np.zeros((0, a)), np.ones(a), xs, lp + xs, price, False, np.empty((0, a)),
        )  # fmt: skip
        # within the bins the schedule is exact; sub-bin error only at the position limits
        np.testing.assert_allclose(agg, flow, rtol=1e-6, atol=1e-6 * np.abs(holdings).sum())


def test_a_wider_band_trades_less_at_the_last_price():
    vols = []
    for band in (0.0, 0.05, 0.2):
        holdings, cash, wealth, rule, price, bw = _cohort_inputs(band)
        n, a = holdings.shape
        bounds = np.array([0, n], dtype=np.int64)
        np.matmul(holdings, price, out=wealth)
        wealth += cash
        _, vol = elastic.order_pass.serial(
            bounds, holdings, cash, wealth, *rule, price, 0.1, 0.3, np.ones(n, dtype=bool), bw,
            np.full(n, elastic.REVIEW, dtype=np.int8), 0.3,
            np.zeros((0, a)), np.ones(a), np.zeros(a), np.log(price), price, False,
            np.empty((0, a)),
        )  # fmt: skip
        vols.append(vol.sum())
    assert vols[0] > vols[1] > vols[2]


def test_a_requoting_market_maker_is_centred_on_its_revised_value():
    q = clearing.MarketMakerQuote(
        np.zeros(2), np.full(2, 100.0), np.full(2, 1e9), 0.0, np.array([-0.1, 0.05])
    )
    idx = np.arange(2)
    np.testing.assert_allclose(q.shares(np.array([-0.1, 0.05]), idx), 0.0)  # no trade there
    np.testing.assert_allclose(q.shares(np.zeros(2), idx), [-10.0, 5.0])
    # the compiled auction agrees: with nothing else in the market it clears at the centre
    res = clearing.batch_auction(np.log([100.0, 50.0]), [], np.zeros(2), q)
    np.testing.assert_allclose(res.lp - np.log([100.0, 50.0]), [-0.1, 0.05], atol=1e-9)


def test_real_volume_multiple_uses_the_sessions_before_the_event():
    days = pd.bdate_range("2024-10-01", periods=70)
    vol = np.r_[np.full(64, 100.0), [400.0, 250.0], np.full(4, 100.0)]
    bars = pd.DataFrame({"close": 1.0, "volume": vol}, index=days)
    event = days[64].date()
    out = vs_real.real_volume_multiples(bars, [event, days[65].date()], event)
    assert out == {event: 4.0, days[65].date(): 2.5}
    assert vs_real.real_volume_multiples(bars, [event], days[10].date()) == {}  # too short


# ------------------------------------------------------------------------ behaviour
def _shock(result) -> tuple[float, float]:
    """NVDA's 27 Jan return (%) and volume in multiples of its ADV."""
    d = result.daily[(result.daily["ticker"] == "NVDA")]
    d = d[d["date"] == pd.Timestamp(dt.date(2025, 1, 27))].iloc[0]
    adv = next(a.adv_shares for a in result.scenario.universe.assets if a.ticker == "NVDA")
    return float(d["return_pct"]), float(d["volume"]) / adv


def _quiet_volume(result) -> float:
    """Mean daily volume of all names before the weekend, in multiples of ADV."""
    d = result.daily[result.daily["date"] < pd.Timestamp("2025-01-25")]
    adv = {a.ticker: a.adv_shares for a in result.scenario.universe.assets}
    return float((d["volume"] / d["ticker"].map(adv)).mean())


def test_a_larger_no_trade_band_lowers_volume_but_keeps_the_move():
    narrow = small_run("deepseek_2025.yaml", **{
        "population__cohorts__fundamental__no_trade_band": 0.0,
        "population__cohorts__leveraged__no_trade_band": 0.0,
    })  # fmt: skip
    wide = small_run("deepseek_2025.yaml", **{
        "population__cohorts__fundamental__no_trade_band": 0.6,
        "population__cohorts__leveraged__no_trade_band": 0.6,
    })  # fmt: skip
    assert _quiet_volume(wide) < 0.8 * _quiet_volume(narrow)
    r_n, _ = _shock(narrow)
    r_w, _ = _shock(wide)
    assert r_w < -8 and abs(r_w - r_n) < 0.35 * abs(r_n)


def test_requoting_market_makers_carry_the_weekend_news_into_the_open():
    """Over the weekend the market makers hear the news through their own beliefs; at the
    opening auction their quotes are centred on the change of their believed value since
    Friday's last quote (times ``requote``), and with ``requote`` 0 on the last price."""
    from sim.model import MoatshockModel
    from sim.scenario import load_scenario
    from tests.conftest import SCENARIOS

    for rq in (0.0, 0.7):
        scn = load_scenario(
            SCENARIOS / "deepseek_2025.yaml",
            {"population.size": 800, "population.cohorts.market_maker.requote": rq},
        )
        m = MoatshockModel(scn, seed=2)
        while m.ticks.start[m.tick] < np.datetime64("2025-01-24T16:00"):
            m.step()
        friday = m.mm.believed_value()  # after Friday's last quote
        if rq > 0:
            np.testing.assert_allclose(m.mm.valued, friday)
        while m.ticks.start[m.tick] < np.datetime64("2025-01-27T09:30"):
            m.step()  # the weekend: news spreads, no quote
        m._news(m.tick)  # what the open's step does first: news up to the open, then quotes
        moved = m.mm.believed_value() - friday
        assert np.abs(moved).max() > 0.005  # the weekend story reached the market makers
        q = m.mm.quote()
        centre = np.zeros_like(moved) if q.centre is None else q.centre
        np.testing.assert_allclose(centre, rq * moved, atol=1e-12)


def test_inertia_lowers_shock_day_volume():
    all_look = small_run("deepseek_2025.yaml", **{
        "population__cohorts__fundamental__review_share": 1.0,
        "population__cohorts__leveraged__review_share": 1.0,
    })  # fmt: skip
    few_look = small_run("deepseek_2025.yaml", **{
        "population__cohorts__fundamental__review_share": 0.2,
        "population__cohorts__leveraged__review_share": 0.2,
    })  # fmt: skip
    assert _shock(few_look)[1] < 0.8 * _shock(all_look)[1]


def test_volume_shares_by_type_add_up_and_the_outputs_exist(tmp_path):
    from analysis.outputs import write_run

    res = small_run("deepseek_2025.yaml")
    vb = vs_real.volume_by_type(res)
    tot = vb.groupby(["date", "ticker"])["share_pct"].sum()
    np.testing.assert_allclose(tot[tot > 0], 100.0)
    # the market's volume is half the sum of both sides
    vol2 = vb.groupby(["date", "ticker"])["volume"].sum() / 2
    d = res.daily.assign(date=res.daily["date"].dt.date).set_index(["date", "ticker"])["volume"]
    np.testing.assert_allclose(vol2.reindex(d.index).to_numpy(), d.to_numpy(), rtol=1e-9)
    summary = write_run(res, tmp_path, skip=("plots",))
    for f in ("volume.csv", "volume_by_type.csv", "closes.csv"):
        assert (tmp_path / f).exists()
    assert "2025-01-28" in summary["vs_real"]["volume_multiple"]
