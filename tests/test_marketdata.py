"""Company data from price files: windows, the derived table, merging by ticker, the
characteristic dictionary, bad data, positioning and the cross-section report."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.marketdata import MarketDataError, Windows, derive, read_derived
from sim.scenario import ScenarioError, load_scenario
from tests.conftest import MARKET_DATA, ROOT, SCENARIOS

BASE = SCENARIOS / "deepseek_2025.yaml"
SHIPPED_STARTS = ["deepseek_2025.yaml", "calm_2024.yaml", "calibration/tiny_week.yaml"]
needs_data = pytest.mark.skipif(not MARKET_DATA.is_dir(), reason="../shared/market-data absent")


def _prices(tmp_path, name, closes, volumes=None, start="2024-01-01"):
    dates = pd.bdate_range(start, periods=len(closes))
    df = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "close": closes})
    if volumes is not None:
        df["volume"] = volumes
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p, dates


def test_windows_math(tmp_path):
    n = 30
    closes = 100 * np.exp(np.cumsum(np.r_[0, np.linspace(-0.02, 0.03, n - 1)]))
    vols = np.arange(1, n + 1) * 1000.0
    f, dates = _prices(tmp_path, "A.csv", closes, vols)
    m, _ = _prices(tmp_path, "M.csv", np.linspace(50, 60, n), np.zeros(n))
    start = (dates[20] + pd.Timedelta(days=1)).date()  # the day after session 20
    w = Windows(5, 4, 10, dates[3].date(), 7)
    got = derive(f, start, w, pd.read_csv(m, index_col=0, parse_dates=True), m)
    assert got["as_of"] == dates[20].date() and got["price"] == pytest.approx(closes[20])
    assert got["adv_shares"] == pytest.approx(vols[16:21].mean())
    r = np.diff(np.log(closes[16:21]))
    assert got["daily_volatility"] == pytest.approx(np.std(r, ddof=1))
    mk = np.linspace(50, 60, n)
    assert got["relative_return_12m"] == pytest.approx(
        np.log(closes[20] / closes[10]) - np.log(mk[20] / mk[10])
    )
    assert got["relative_runup"] == pytest.approx(
        np.log(closes[20] / closes[3]) - np.log(mk[20] / mk[3])
    )


def test_a_file_that_does_not_cover_the_start_is_refused(tmp_path):
    f, dates = _prices(tmp_path, "A.csv", np.linspace(10, 20, 40), np.ones(40))
    late = (dates[-1] + pd.Timedelta(days=30)).date()
    with pytest.raises(MarketDataError, match="does not cover the start"):
        derive(f, late, Windows(5, 5, 10, dates[0].date(), 7), None, None)


def _load_without_data(tmp_path, monkeypatch, path=BASE, **ov):
    empty = tmp_path / "no-market-data"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("MOATSHOCK_MARKET_DATA", str(empty))
    return load_scenario(path, ov or None)


@pytest.mark.parametrize("name", SHIPPED_STARTS)
def test_shipped_scenarios_load_without_the_price_files(tmp_path, monkeypatch, name):
    scn = _load_without_data(tmp_path, monkeypatch, SCENARIOS / name)
    assert all(a.price is not None and a.adv_shares for a in scn.universe.assets)


@needs_data
@pytest.mark.parametrize("name", SHIPPED_STARTS)
def test_price_files_and_derived_table_agree(tmp_path, monkeypatch, name):
    from_files = load_scenario(SCENARIOS / name)
    from_table = _load_without_data(tmp_path, monkeypatch, SCENARIOS / name)
    for a, b in zip(from_files.universe.assets, from_table.universe.assets, strict=True):
        for f in ("price", "adv_shares", "daily_volatility", "relative_return_12m"):
            assert getattr(a, f) == pytest.approx(getattr(b, f), rel=1e-8, abs=1e-12), (a.ticker, f)
        assert a.relative_runup == pytest.approx(b.relative_runup, rel=1e-8, abs=1e-12)


@needs_data
def test_prices_start_at_the_close_before_the_calendar():
    scn = load_scenario(BASE)
    nvda = next(a for a in scn.universe.assets if a.ticker == "NVDA")
    assert nvda.price_as_of == dt.date(2025, 1, 17) and nvda.price == pytest.approx(137.71)
    table = read_derived(ROOT / "scenarios/universe/derived_inputs.csv")
    assert (pd.to_datetime(table["as_of"]) < pd.to_datetime(table["calendar_start"])).all()


def _child(tmp_path, body: dict, name="child.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump({"extends": str(BASE), "name": "child", **body}))
    return p


def test_extends_adds_changes_and_removes_assets_by_ticker(tmp_path, monkeypatch):
    new = {
        "ticker": "NEWCO", "group": "chips", "price": 10.0, "shares_outstanding": 1e9,
        "adv_shares": 1e6, "daily_volatility": 0.02,
        "characteristics": {"ai_infrastructure_revenue_share": 0.5},
    }  # fmt: skip
    p = _child(
        tmp_path,
        {"universe": {
            "assets_add": [new, {"ticker": "NVDA", "characteristics": {"ai_capex_to_revenue": 0.1}}],
            "assets_remove": ["IBM"],
        }},
    )  # fmt: skip
    parent = _load_without_data(tmp_path, monkeypatch)
    scn = _load_without_data(tmp_path, monkeypatch, p)
    assert scn.tickers == [t for t in parent.tickers if t != "IBM"] + ["NEWCO"]
    nvda = next(a for a in scn.universe.assets if a.ticker == "NVDA")
    assert nvda.characteristics["ai_capex_to_revenue"] == 0.1
    assert nvda.characteristics["ai_share_of_expected_growth"] == 0.95  # the rest kept
    assert nvda.price == next(a for a in parent.universe.assets if a.ticker == "NVDA").price


def _bad(tmp_path, monkeypatch, asset_edit: dict, match: str):
    p = _child(tmp_path, {"universe": {"assets_add": [{"ticker": "NVDA", **asset_edit}]}})
    with pytest.raises(ScenarioError, match=match) as err:
        _load_without_data(tmp_path, monkeypatch, p)
    return str(err.value)


def test_characteristic_not_in_the_dictionary_is_refused(tmp_path, monkeypatch):
    msg = _bad(tmp_path, monkeypatch, {"characteristics": {"vibes": 0.5}}, "not in the dictionary")
    assert "child.yaml" in msg and "(NVDA)" in msg and "vibes" in msg


def test_characteristic_out_of_its_range_is_refused(tmp_path, monkeypatch):
    msg = _bad(tmp_path, monkeypatch, {"characteristics": {"ai_capex_to_revenue": 1.5}}, "outside")
    assert "(NVDA)" in msg and "ai_capex_to_revenue" in msg


def test_negative_share_count_names_file_company_and_field(tmp_path, monkeypatch):
    msg = _bad(tmp_path, monkeypatch, {"shares_outstanding": -5}, "shares_outstanding")
    assert "child.yaml" in msg and "(NVDA)" in msg


def test_loading_on_an_unknown_characteristic_is_refused(tmp_path, monkeypatch):
    p = _child(tmp_path, {"universe": {"exposures": {"compute_demand": {"hype": 1.0}}}})
    with pytest.raises(ScenarioError, match="'hype' is not in the dictionary"):
        _load_without_data(tmp_path, monkeypatch, p)


def test_old_characteristic_name_is_renamed_with_a_warning(tmp_path, monkeypatch):
    from sim.scenario.assets import CharacteristicRenamed

    p = _child(
        tmp_path,
        {"universe": {"assets_add": [
            {"ticker": "NVDA", "characteristics": {"ai_compute_revenue_share": 0.5}}
        ]}},
    )  # fmt: skip
    with pytest.warns(CharacteristicRenamed):
        scn = _load_without_data(tmp_path, monkeypatch, p)
    nvda = next(a for a in scn.universe.assets if a.ticker == "NVDA")
    assert nvda.characteristics["ai_infrastructure_revenue_share"] == 0.5


def test_missing_price_file_without_a_table_row_names_the_file(tmp_path, monkeypatch):
    msg = _bad(tmp_path, monkeypatch, {"price_file": "ohlcv_raw/NOPE.csv", "price": None},
               "NOPE.csv")  # fmt: skip
    assert "(NVDA)" in msg and "price_file" in msg


def test_cli_refuses_bad_company_data_with_exit_2_and_writes_nothing(tmp_path):
    import subprocess
    import sys

    p = _child(
        tmp_path, {"universe": {"assets_add": [{"ticker": "NVDA", "shares_outstanding": -1}]}}
    )
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "run", str(p), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "(NVDA)" in r.stderr + r.stdout and not out.exists()


def test_positioning_sign(tmp_path, monkeypatch):
    """A higher crowding score: a larger weight in the levered and momentum books and a larger
    compute-demand exposure; nothing changes for a name with no run-up."""
    from sim.model import MoatshockModel

    ov = {"population.size": 300, "population.cohorts.momentum.crowding": 1.0}
    scn = _load_without_data(tmp_path, monkeypatch, **ov)
    m = MoatshockModel(scn, seed=1)
    u = m.universe
    i_hot, i_cold = int(np.argmax(u.crowding)), int(np.argmin(u.crowding))
    assert u.crowding[i_hot] > 0 and u.crowding[i_cold] == 0
    w0 = u.market_cap0 / u.market_cap0.sum()
    for kind in ("leveraged", "momentum"):
        tilt = m.neutral_weights(kind) / w0
        assert tilt[i_hot] > tilt[i_cold]
    raw = scn.model_dump(mode="json")
    raw["universe"]["positioning"]["compute_demand_loading"] = 0.0
    from sim.scenario import validate
    from sim.universe import build_universe

    flat = build_universe(validate(raw))
    f = u.factor_names.index("compute_demand")
    assert u.exposures[i_hot, f] > flat.exposures[i_hot, f]
    assert u.exposures[i_cold, f] == pytest.approx(flat.exposures[i_cold, f])


def test_cross_section_report_in_a_run(tmp_path, monkeypatch):
    import json

    from analysis.outputs import write_run
    from sim.simulate import run_model

    scn = _load_without_data(tmp_path, monkeypatch, SCENARIOS / "calibration/tiny_week.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, result = run_model(scn, seed=1)
    out = tmp_path / "run"
    write_run(result, out, skip=("plots",))
    cs = json.loads((out / "summary.json").read_text())["cross_section"]
    assert cs["n"] == 28 and -1 <= cs["spearman"] <= 1 and cs["mae_points"] >= 0
    assert cs["groups"]["power_cooling"]["real_mean_pct"] < -10  # VRT, PWR, ETN, NRG fell
    t = pd.read_csv(out / "cross_section.csv")
    assert set(t["source"]) == {"real_closes_table"}
    assert (out / "plots" / "cross_section.png").stat().st_size > 1000
    vrt = t.set_index("ticker").loc["VRT", "real_pct"]
    assert vrt == pytest.approx(-29.88, abs=0.01)


@needs_data
def test_committed_tables_are_current():
    """The committed derived table and real closes are what the build command makes."""
    from sim.marketdata import build

    build([SCENARIOS / n for n in SHIPPED_STARTS], check=True)


def test_price_file_missing_the_start_date_names_file_company_and_field(tmp_path, monkeypatch):
    f, _ = _prices(tmp_path, "OLD.csv", np.linspace(10, 20, 300), np.ones(300), "2020-01-01")
    msg = _bad(
        tmp_path, monkeypatch, {"price_file": str(f), "price": None}, "does not cover the start"
    )
    assert "child.yaml" in msg and "(NVDA).price_file" in msg and "OLD.csv" in msg
