"""Validation against real returns: estimators, the ``validate`` command and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli.validate import main
from analysis.experiments.ensemble import replication_seeds
from analysis.metrics import table_log_returns as daily_log_returns
from analysis.validation import stylized
from analysis.validation.stylized import STATISTICS
from analysis.validation.validate import (
    CHECKS,
    check_statistic,
    stylized_facts,
)

REPO = Path(__file__).resolve().parents[1]
CALM = REPO / "scenarios" / "calm_2024.yaml"
NVDA = REPO.parent / "shared" / "market-data" / "close_adjusted" / "NVDA.csv"

# a tiny calm market: 48 sessions of one step each, few investors, nights in one tick
TINY = [
    "--set", "population.size=300",
    "--set", "calendar.end=2024-03-11",
    "--set", "calendar.holidays=[2024-01-15,2024-02-19]",
    "--set", "calendar.step_minutes=390",
    "--set", "calendar.closed_step_minutes=1440",
]  # fmt: skip


def _fake_real(path: Path, n: int = 400, seed: int = 0) -> Path:
    """A Date,Close file with Student-t daily returns (fat tails, no clustering)."""
    rng = np.random.default_rng(seed)
    r = 0.02 * rng.standard_t(3, n) / np.sqrt(3.0)
    dates = pd.bdate_range("2020-01-01", periods=n + 1)
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": close}).to_csv(path, index=False)
    return path


def test_stylized_facts_equal_summary_and_real_nvda_shows_the_facts() -> None:
    if not NVDA.exists():
        pytest.skip("shared market data not found")
    from analysis.validation.realdata import load_returns

    r = load_returns(NVDA, "2016-01-01", "2024-12-31")
    facts = stylized_facts(r.to_numpy())
    ref = stylized.summary(r)
    assert set(facts) == set(ref) == set(STATISTICS)
    for k, v in ref.items():
        assert facts[k] == pytest.approx(v, rel=1e-12, abs=1e-15), k
    # the real series passes the checks the simulation is held to
    for name in CHECKS:
        assert check_statistic(name, facts[name]) is True, (name, facts[name])


def test_stylized_facts_short_series_gives_none_not_errors() -> None:
    r = np.random.default_rng(1).standard_normal(60) * 0.01
    f = stylized_facts(r)
    assert f["n_obs"] == 60
    assert f["hill_tail_index"] is None  # 5 % of 60 leaves 3 in the tail
    assert f["kurtosis_h20"] is None  # 3 blocks of 20
    for k in ("excess_kurtosis", "acf_returns_lag1", "acf_abs_returns_mean_1_20"):
        assert isinstance(f[k], float)


def test_checks_and_log_returns() -> None:
    assert check_statistic("excess_kurtosis", 2.5) is True
    assert check_statistic("acf_returns_lag1", -0.12) is False
    assert check_statistic("acf_abs_returns_mean_1_20", None) is None
    assert check_statistic("skewness", 1.0) is None
    daily = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-02"]),
            "ticker": ["A", "A", "B"],
            "return_pct": [10.0, -50.0, 1.0],
        }
    )
    np.testing.assert_allclose(daily_log_returns(daily, "A"), np.log([0.5, 1.1]))


def test_replication_seeds_are_spawned_and_deterministic() -> None:
    s = replication_seeds(7, 4)
    assert s == replication_seeds(7, 4)
    assert len(set(s)) == 4 and all(isinstance(x, int) and 0 <= x < 2**63 for x in s)
    child = np.random.SeedSequence(7).spawn(4)[2]
    assert s[2] == int(child.generate_state(1, np.uint64)[0] >> 1)
    assert replication_seeds(7, 2) == s[:2]


def test_validate_command_writes_json_report_and_plots(tmp_path: Path) -> None:
    real = _fake_real(tmp_path / "NVDA.csv")
    out = tmp_path / "val"
    argv = ["validate", str(CALM), "--real", str(real), "--replications", "2"]
    argv += ["--out", str(out), "--start", "2020-01-01", "--end", "2030-01-01", "--no-progress"]
    assert main(argv + TINY) == 0
    res = json.loads((out / "validation.json").read_text())
    assert res["scenario"] == "calm_2024"
    assert res["ticker"] == "NVDA"  # from the real file's name
    assert res["replications"] == 2
    assert res["seeds"] == replication_seeds(2024, 2)
    assert res["real_file"] == str(real)
    stats = res["statistics"]
    assert set(stats) == set(STATISTICS)
    for name in ("excess_kurtosis", "acf_returns_lag1", "acf_abs_returns_mean_1_20"):
        s = stats[name]
        assert {"simulated_median", "simulated_min", "simulated_max", "real"} <= set(s)
        assert s["simulated_min"] <= s["simulated_median"] <= s["simulated_max"]
        assert s["passed"] in (True, False)
    assert stats["n_obs"]["simulated_median"] == 48
    assert stats["n_obs"]["real"] == 400
    report = (out / "report.md").read_text()
    for name in STATISTICS:
        assert f"`{name}`" in report
    assert "pass**" in report or "miss**" in report
    for png in ("acf", "distribution", "qq"):
        assert f"](plots/{png}.png)" in report
        assert (out / "plots" / f"{png}.png").stat().st_size > 10_000
    # every table row has the same number of cells (no stray | from |r|)
    rows = [ln for ln in report.splitlines() if ln.startswith("| `")]
    assert len(rows) == len(STATISTICS)
    assert {ln.replace("\\|", "").count("|") for ln in rows} == {6}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--real", "no/such/NVDA.csv"], "real price file not found"),
        (["--ticker", "NOPE"], "--ticker NOPE: not in scenario"),
        (["--set", "calendar.end=2024-01-31", "--set", "calendar.holidays=[2024-01-15]"],
         "too few daily returns"),
        (["--set", "population.size=-3"], "population.size"),
    ],
)  # fmt: skip
def test_validate_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    real = _fake_real(tmp_path / "NVDA.csv")
    argv = ["validate", str(CALM), "--real", str(real), "--out", str(tmp_path / "v")]
    argv += ["--no-progress", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err
    assert "\n" not in err
    assert not (tmp_path / "v").exists()
