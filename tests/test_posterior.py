"""ABC posterior (analysis.calibration.abc, .posterior) and the ``posterior`` command.

Small and fast: a toy model with a known posterior, and a stand-in task
(``analysis.experiments.testfuncs:toy_posterior_task``) for the sweep behind the command.
"""

from __future__ import annotations

import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.calibration.abc import (
    abc_posterior,
    prior_predictive_check,
    recovery,
    weighted_quantile,
)
from analysis.calibration.spec import parse_calibration
from analysis.experiments.spec import load_spec
from analysis.experiments.specfile import read_yaml
from analysis.experiments.sweep import run_sweep
from run import main as run_main
from tests.conftest import ROOT

TINY_WEEK = ROOT / "scenarios" / "calibration" / "tiny_week.yaml"


def _normal_mean_table(n: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """theta ~ U(-5, 5) (unit coordinate u), summary s ~ N(theta, sigma^2)."""
    rng = np.random.default_rng(seed)
    u = rng.random((n, 1))
    theta = -5 + 10 * u
    return u, theta + sigma * rng.standard_normal((n, 1))


@pytest.mark.parametrize("adjust", [True, False])
def test_normal_mean_posterior_is_recovered(adjust: bool) -> None:
    """Flat prior, s ~ N(theta, 0.5^2), observed s = 1: the posterior is N(1, 0.5^2)."""
    sigma, s_obs = 0.5, 1.0
    u, S = _normal_mean_table(40_000, sigma, seed=1)
    res = abc_posterior(u, S, np.array([s_obs]), np.array([sigma]), quantile=0.02, adjust=adjust)
    q05, q50, q95 = (-5 + 10 * res.quantiles([0.05, 0.5, 0.95]))[:, 0]
    exact = stats.norm(s_obs, sigma)
    assert res.n_accepted == 800
    assert abs(q50 - 1.0) < 0.06
    assert abs(q05 - exact.ppf(0.05)) < 0.1 and abs(q95 - exact.ppf(0.95)) < 0.1
    assert np.isclose(res.weights.sum(), 1.0)


def test_regression_adjustment_tightens_a_loose_tolerance() -> None:
    """With half the runs accepted, rejection alone is far too wide; the adjustment is not."""
    u, S = _normal_mean_table(4000, 0.5, seed=2)
    loose = abc_posterior(u, S, np.array([0.0]), np.array([0.5]), quantile=0.5, adjust=False)
    adj = abc_posterior(u, S, np.array([0.0]), np.array([0.5]), quantile=0.5, adjust=True)
    width = lambda r: float(10 * np.diff(r.quantiles([0.05, 0.95])[:, 0])[0])  # noqa: E731
    assert width(loose) > 3.0
    assert abs(width(adj) - 2 * 1.645 * 0.5) < 0.25


def test_recovery_coverage_is_nominal_and_unidentified_parameter_stays_wide() -> None:
    """theta_1 drives the summary, theta_2 does nothing: theta_1 is recovered with ~90 %
    coverage and a narrow interval, theta_2's interval stays about the prior's 0.9."""
    rng = np.random.default_rng(3)
    u = rng.random((3000, 2))
    S = (u[:, :1] * 10) + 0.3 * rng.standard_normal((3000, 1))
    rec = recovery(u, S, np.array([0.3]), quantile=0.05, n_points=120, seed=4)
    coverage = rec["covered"].mean(axis=0)
    width = (rec["high"] - rec["low"]).mean(axis=0)
    assert 0.8 <= coverage[0] <= 0.98 and coverage[1] >= 0.8
    assert width[0] < 0.15 and width[1] > 0.8
    assert abs((rec["median"] - rec["truth"])[:, 0].mean()) < 0.02


def test_weighted_quantile_matches_numpy_with_equal_weights() -> None:
    x = np.random.default_rng(5).standard_normal(1001)
    got = weighted_quantile(x, np.ones_like(x), [0.05, 0.5, 0.95])
    np.testing.assert_allclose(got, np.quantile(x, [0.05, 0.5, 0.95]), atol=0.02)


def test_prior_predictive_check_flags_data_off_the_simulations() -> None:
    """Two nearly collinear summaries: a point on their line is typical, a point off it is
    flagged although each summary on its own is well inside its range."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal(2000)
    S = np.column_stack([x, x + 0.05 * rng.standard_normal(2000)])
    on = prior_predictive_check(S, np.array([0.5, 0.5]))
    off = prior_predictive_check(S, np.array([0.5, -0.5]))
    assert on["share_farther"] > 0.3 and off["share_farther"] < 0.01
    assert 0.6 < off["percentile"][0] < 0.8 and 0.2 < off["percentile"][1] < 0.4
    # in other units (dollars next to percent) the answer is the same
    scaled = prior_predictive_check(S * [1e11, 1.0], np.array([0.5e11, -0.5]))
    assert np.isclose(scaled["mahalanobis"], off["mahalanobis"])


# ----------------------------------------------------------------------------- command


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def toy_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 256-run Sobol' sweep of the stand-in task, and a calibration whose targets it answers."""
    d = tmp_path_factory.mktemp("posterior")
    sweep = _write(
        d / "prior.yaml",
        f"""\
        name: toy_prior
        base: {TINY_WEEK}
        task: analysis.experiments.testfuncs:toy_posterior_task
        parameters:
          - {{path: news.viral_cost_claim.credibility, low: 0.4, high: 3.0, scale: log}}
          - {{path: population.cohorts.fundamental.risk_aversion, low: 1.0, high: 6.0}}
        design: {{method: sobol, n: 256}}
        seed: 11
        metrics: ["shock_return:NVDA", "rebound:NVDA", "volume_multiple:NVDA"]
        """,
    )
    cal = _write(
        d / "cal.yaml",
        f"""\
        name: toy_cal
        base: {TINY_WEEK}
        targets:
          - {{metric: "shock_return:NVDA", value: -12.0, tolerance: 1.0}}
          - {{metric: "rebound:NVDA", value: 6.0, tolerance: 0.5}}
        validation:
          - {{metric: "volume_multiple:NVDA", value: 5.0, tolerance: 1.0}}
          - {{metric: "shock_return:AAPL", value: 3.0, tolerance: 1.0}}
        parameters:
          - {{path: news.viral_cost_claim.credibility, low: 0.4, high: 3.0, scale: log}}
          - {{path: population.cohorts.fundamental.risk_aversion, low: 1.0, high: 6.0}}
        """,
    )
    with ThreadPoolExecutor(2) as ex:
        run_sweep(sweep, d / "runs", executor=ex, progress=False)
    return d / "runs", cal


def test_cli_writes_every_file_atomically(
    toy_sweep: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs, cal = toy_sweep
    out = tmp_path / "post"
    argv = ["posterior", str(runs), str(cal), "--out", str(out), "--recovery", "30"]
    assert run_main(argv) == 0
    files = {p.name for p in out.iterdir()}
    assert {
        "posterior_samples.csv",
        "identification.csv",
        "correlation.csv",
        "recovery.csv",
        "corner.png",
        "posterior.json",
        "report.md",
        ".moatshock",
    } <= files
    table = pd.read_csv(out / "identification.csv", index_col="parameter")
    # truth: credibility 1.2, risk aversion 3.0; both pinned down by their own target
    assert table.loc["news.viral_cost_claim.credibility", "q05"] < 1.2
    assert table.loc["news.viral_cost_claim.credibility", "q95"] > 1.2
    assert table.loc["population.cohorts.fundamental.risk_aversion", "q05"] < 3.0
    assert table.loc["population.cohorts.fundamental.risk_aversion", "q95"] > 3.0
    assert (table["verdict"] == "pinned down").all()
    assert (table["recovery_coverage90"] >= 0.7).all()
    assert "pinned down" in capsys.readouterr().out
    # a second run replaces the folder whole, leaving no temporary folder behind
    before = (out / "posterior.json").read_text()
    assert run_main([*argv[:-1], "0"]) == 0
    assert not (out / "recovery.csv").exists() and (out / "posterior.json").read_text() != before
    assert [p.name for p in tmp_path.iterdir()] == ["post"]


def test_cli_validation_facts_and_exclusions(
    toy_sweep: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs, cal = toy_sweep
    out = tmp_path / "post"
    argv = ["posterior", str(runs), str(cal), "--out", str(out), "--recovery", "0"]
    assert run_main([*argv, "--include-validation", "--exclude", "rebound:NVDA"]) == 0
    report = capsys.readouterr().out
    # the facts compared: the first target and the validation fact the runs answer
    assert "`shock_return:NVDA` = -12" in report and "`volume_multiple:NVDA` = 5" in report
    assert "`rebound:NVDA` =" not in report
    assert "validation fact shock_return:AAPL left out" in report
    table = pd.read_csv(out / "identification.csv", index_col="parameter")
    # without the rebound, nothing informs the risk aversion
    assert table.loc["population.cohorts.fundamental.risk_aversion", "width_frac"] > 0.75
    assert run_main([*argv, "--exclude", "nope:NVDA"]) == 2
    assert "--exclude nope:NVDA: not one of the facts" in capsys.readouterr().err


def test_cli_bad_inputs_exit_2_with_one_line(
    toy_sweep: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs, cal = toy_sweep
    out = tmp_path / "post"

    def fails(*argv: str) -> str:
        assert run_main(["posterior", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert not out.exists()
        return err

    assert "no such folder" in fails(str(tmp_path / "missing"), str(cal))
    text = cal.read_text()
    other = _write(tmp_path / "c2.yaml", text.replace("rebound:NVDA", "group_return:chips"))
    assert "metric 'group_return:chips' is not in the sweep's runs table" in fails(
        str(runs), str(other)
    )
    wider = _write(tmp_path / "c3.yaml", text.replace("low: 1.0, high: 6.0", "low: 1.0, high: 8.0"))
    assert "the prior must be the calibration's box" in fails(str(runs), str(wider))
    assert "not found" in fails(str(tmp_path), str(cal))  # a folder that is not a sweep


def test_shipped_prior_sweep_is_in_step_with_the_calibration() -> None:
    """scenarios/sweeps/deepseek_prior.yaml varies exactly the calibration's parameters over
    its box, at its overrides, and records every target (else `posterior` would refuse it)."""
    cal_path = ROOT / "scenarios" / "calibration" / "deepseek_msm.yaml"
    cal = parse_calibration(
        read_yaml(cal_path, "calibration", ValueError), cal_path.name, source=cal_path
    )
    sweep = load_spec(ROOT / "scenarios" / "sweeps" / "deepseek_prior.yaml")
    box = lambda ps: {p.path: (p.low, p.high, p.scale) for p in ps}  # noqa: E731
    assert box(sweep.parameters) == box(cal.parameters)
    assert {k: str(v) for k, v in sweep.fixed.items()} == {
        k: str(v) for k, v in cal.overrides.items()
    }
    assert {t.metric for t in cal.targets} <= set(sweep.metrics)
    assert sweep.replications == 1 and sweep.base_path == cal.resolve(cal.base)
