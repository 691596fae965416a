"""Ensembles: files, fan charts, bands and determinism (in-process and in worker processes)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from analysis.experiments.ensemble import replication_seeds, run_ensemble
from sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
DEEPSEEK = REPO / "scenarios" / "deepseek_2025.yaml"
CALM = REPO / "scenarios" / "calm_2024.yaml"

# the DeepSeek week with one trading step per session and few investors
SMALL_DEEPSEEK = {
    "population.size": 300,
    "calendar.end": "2025-01-28",
    "calendar.step_minutes": 195,  # two auctions a session (one limit-hit is a whole 1-step session)
    "calendar.closed_step_minutes": 720,
}
# four calm sessions
TINY_CALM = {
    "population.size": 300,
    "calendar.end": "2024-01-05",
    "calendar.holidays": [],
    "calendar.step_minutes": 195,
    "calendar.closed_step_minutes": 1440,
}


def test_ensemble_writes_fans_and_a_summary_whose_band_holds_the_median(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scn = load_scenario(DEEPSEEK, SMALL_DEEPSEEK)
    out = tmp_path / "ens"
    summary = run_ensemble(scn, out, 3, progress=False)

    daily = pd.read_csv(out / "ensemble_daily.csv", parse_dates=["date"])
    assert list(daily.columns[:4]) == ["replication", "seed", "date", "ticker"]
    assert {"close", "return_pct", "volume", "market_cap_usd"} <= set(daily.columns)
    assert sorted(daily["replication"].unique()) == [0, 1, 2]
    assert len(daily) == 3 * 6 * len(scn.tickers)  # 21-24, 27, 28 January
    seeds = replication_seeds(scn.seed, 3)
    assert sorted(daily["seed"].unique()) == sorted(seeds)

    for t in scn.tickers:
        assert (out / "plots" / f"fan_{t}.png").stat().st_size > 10_000
    assert (out / "plots" / "fan_grid.png").stat().st_size > 30_000

    on_disk = json.loads((out / "ensemble_summary.json").read_text())
    assert on_disk["seeds"] == seeds == summary["seeds"]
    assert on_disk["shock_date"] == "2025-01-27"
    for t, m in on_disk["tickers"].items():
        r = m["shock_return_pct"]
        assert r["p5"] <= r["median"] <= r["p95"], t
        assert r["min"] <= r["p5"] and r["p95"] <= r["max"], t
        c = m["close"]
        assert c["p5"] <= c["median"] <= c["p95"], t
        if m["real_close"] is not None:
            assert m["real_close_in_band"] == (c["p5"] <= m["real_close"] <= c["p95"])
    assert on_disk["tickers"]["NVDA"]["real_return_pct"] == pytest.approx(-16.97)
    assert "sp500_like" in on_disk["indices"]

    table = capsys.readouterr().out
    assert "NVDA" in table and "5-95% band" in table and "real close in band" in table


@pytest.fixture(scope="module")
def calm_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``run.py run calm_2024 --replications 2`` (four tiny sessions) on the local pool."""
    import run as run_py

    out = tmp_path_factory.mktemp("ens") / "a"
    argv = ["run", str(CALM), "--replications", "2", "--seed", "11", "--no-progress"]
    argv += ["--out", str(out), "--workers", "2"]
    for k, v in TINY_CALM.items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    assert run_py.main(argv) == 0
    return out


def test_same_seeds_give_identical_ensemble_daily_in_process_and_in_workers(
    tmp_path: Path, calm_cli: Path
) -> None:
    """The CLI (2 worker processes) and in-process runs write byte-identical tables."""
    scn = load_scenario(CALM, TINY_CALM)
    with ThreadPoolExecutor(1) as in_process:
        run_ensemble(
            scn, tmp_path / "b", 2, seed=11, progress=False, executor=in_process, plots=False
        )
    a = (calm_cli / "ensemble_daily.csv").read_bytes()
    b = (tmp_path / "b" / "ensemble_daily.csv").read_bytes()
    assert a == b
    assert len(pd.read_csv(calm_cli / "ensemble_daily.csv")) == 2 * 4 * len(scn.tickers)
    sa = json.loads((calm_cli / "ensemble_summary.json").read_text())
    assert sa["seeds"] == replication_seeds(11, 2)
    assert sa["shock_date"] is None
    # each replication's tables were written by its task
    for i in range(2):
        daily = pd.read_parquet(calm_cli / "replications" / f"{i:03d}" / "daily.parquet")
        assert (daily["ticker"].unique() == scn.tickers).all()


def test_ensembles_are_identical_on_the_local_pool_and_on_a_dask_cluster(
    tmp_path: Path, calm_cli: Path, dask_pool
) -> None:
    scn = load_scenario(CALM, TINY_CALM)
    run_ensemble(
        scn, tmp_path / "dask", 2, seed=11, progress=False, executor=dask_pool, plots=False
    )
    for name in ("ensemble_daily.csv", "ensemble_summary.json"):
        assert (tmp_path / "dask" / name).read_bytes() == (calm_cli / name).read_bytes(), name
