"""Sweep engine: executors agree, kill -9 + resume, failures, dead workers, analysis, CLI."""

from __future__ import annotations

import json
import math
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli.sweep import main as cli_main
from analysis.experiments.runner import make_executor
from analysis.experiments.sensitivity import analyze
from analysis.experiments.spec import load_spec
from analysis.experiments.sweep import SweepError, read_runs, run_sweep
from tests.killing import data_lines, kill_when


def make_spec(tmp_path: Path, body: str, name: str = "sweep.yaml") -> Path:
    """Write a sweep file (and an empty base scenario next to it); return its path."""
    (tmp_path / "base.yaml").write_text("name: test-base\n")
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


ISHIGAMI_GRID = """\
name: ish
base: base.yaml
task: analysis.experiments.testfuncs:ishigami_task
parameters:
  - {path: x1, low: -3.0, high: 3.0, levels: 2}
  - {path: x2, values: [0.5, 1.5]}
  - {path: x3, low: 0.1, high: 2.0, scale: log, levels: 2}
design: grid
replications: 1
seed: 42
metrics: [y, y_noisy, seed_u]
"""


def runs_without_timing(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs.parquet").drop(columns="wall_s")


# ------------------------------------------------------------------ executors agree


def test_local_pool_and_dask_cluster_give_identical_runs(tmp_path: Path, dask_pool) -> None:
    spec = make_spec(tmp_path, ISHIGAMI_GRID.replace("replications: 1", "replications: 2"))
    with make_executor(workers=2) as pool:
        local = run_sweep(spec, tmp_path / "local", executor=pool, progress=False)
    remote = run_sweep(spec, tmp_path / "dask", executor=dask_pool, progress=False)
    assert local.n_tasks == remote.n_tasks == 16
    assert local.n_ok == remote.n_ok == 16
    a, b = runs_without_timing(tmp_path / "local"), runs_without_timing(tmp_path / "dask")
    pd.testing.assert_frame_equal(a, b)
    assert a["task"].tolist() == list(range(16))
    # Replications of one point differ only through their seeds.
    assert a["seed"].nunique() == 16
    assert (a.groupby("point")["y"].nunique() == 1).all()
    assert (a.groupby("point")["y_noisy"].nunique() == 2).all()
    # Same again through a thread pool: the executor never changes results.
    with ThreadPoolExecutor(3) as threads:
        run_sweep(spec, tmp_path / "threads", executor=threads, progress=False)
    pd.testing.assert_frame_equal(a, runs_without_timing(tmp_path / "threads"))
    record = json.loads((tmp_path / "local" / "sweep.json").read_text())
    assert record["n_tasks"] == 16 and len(record["design"]["points"]) == 8


def test_dask_retries_dead_workers(tmp_path: Path, dask_pool) -> None:
    body = """\
        name: dying
        base: base.yaml
        task: analysis.experiments.testfuncs:dying_task
        parameters: [{path: die, values: DIE}]
        design: grid
        metrics: [y]
        """
    # Two sweeps: Dask charges a worker's death to every task assigned to it, so a task
    # that always kills its worker is kept apart from the one that dies once.
    once = make_spec(tmp_path, body.replace("DIE", "[0, 1]"), "once.yaml")
    summary = run_sweep(once, tmp_path / "once", executor=dask_pool, progress=False)
    assert (summary.n_ok, summary.n_failed) == (2, 0)
    always = make_spec(tmp_path, body.replace("DIE", "[2]"), "always.yaml")
    summary = run_sweep(always, tmp_path / "always", executor=dask_pool, progress=False)
    row = read_runs(tmp_path / "always").iloc[0]
    assert (summary.n_ok, summary.n_failed) == (0, 1)
    assert row["status"] == "error" and "KilledWorker" in row["error"] and row["attempt"] == 3


# ------------------------------------------------------------------- kill -9 + resume


SLEEPY = """\
name: sleepy
base: base.yaml
task: analysis.experiments.testfuncs:sleep_task
parameters:
  - {path: a, values: [1, 2, 3, 4, 5, 6, 7, 8]}
  - {path: sleep, values: [0.25]}
design: grid
replications: 2
seed: 5
metrics: [y, seed_u]
"""


def test_sigkill_mid_sweep_then_resume_runs_each_task_once(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, SLEEPY)
    out = tmp_path / "out"
    csv_path = out / "runs.csv"
    args = ["analysis.cli.sweep", "sweep", str(spec), "--out", str(out), "--workers", "2"]
    kill_when([*args, "--no-progress"], lambda: len(data_lines(csv_path)) >= 3, timeout=30)
    before = data_lines(csv_path)
    assert 3 <= len(before) < 16
    # Simulate a kill in the middle of a write: a torn last line without newline.
    with csv_path.open("a") as fh:
        fh.write("15,7,1,1234")

    summary = run_sweep(spec, out, resume=True, progress=False, workers=2)
    assert summary.n_resumed == len(before)
    assert summary.n_ok == 16 and summary.n_failed == 0
    lines = data_lines(csv_path)
    assert lines[: len(before)] == before  # recorded rows untouched
    tasks = [int(line.split(",")[0]) for line in lines]
    assert sorted(tasks) == list(range(16))  # every task exactly once
    assert (read_runs(out)["task"] == np.arange(16)).all()
    assert len(pd.read_parquet(out / "runs.parquet")) == 16

    # Resuming a complete sweep runs nothing and adds nothing.
    again = run_sweep(spec, out, resume=True, progress=False, workers=1)
    assert again.n_resumed == 16 and data_lines(csv_path) == lines


def test_existing_results_need_resume_and_unchanged_spec(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, ISHIGAMI_GRID)
    out = tmp_path / "out"
    with ThreadPoolExecutor(2) as ex:
        run_sweep(spec, out, executor=ex, progress=False)
        before = (out / "runs.csv").read_bytes()
        with pytest.raises(SweepError, match="pass --resume"):
            run_sweep(spec, out, executor=ex, progress=False)
        changed = make_spec(tmp_path, ISHIGAMI_GRID.replace("seed: 42", "seed: 43"), "changed.yaml")
        with pytest.raises(SweepError, match=r"started with \(seed\)"):
            run_sweep(changed, out, executor=ex, resume=True, progress=False)
    assert (out / "runs.csv").read_bytes() == before


@pytest.mark.parametrize("content", ["header", "torn header"])
def test_resume_after_kill_before_first_row(tmp_path: Path, content: str) -> None:
    spec = make_spec(tmp_path, ISHIGAMI_GRID)
    out = tmp_path / "out"
    with ThreadPoolExecutor(2) as ex:
        run_sweep(spec, out, executor=ex, progress=False)
        header = (out / "runs.csv").read_text().splitlines()[0]
        (out / "runs.csv").write_text(header + "\n" if content == "header" else header[:10])
        summary = run_sweep(spec, out, executor=ex, resume=True, progress=False)
    lines = (out / "runs.csv").read_text().splitlines()
    assert summary.n_resumed == 0 and summary.n_ok == 8
    assert lines[0] == header and len(lines) == 9


# -------------------------------------------------------------- failures and dead workers


def test_failing_task_is_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    spec = make_spec(
        tmp_path,
        """\
        name: failing
        base: base.yaml
        task: analysis.experiments.testfuncs:failing_task
        parameters: [{path: x, values: [-1.0, 0.5, 2.0]}]
        design: grid
        replications: 2
        metrics: [y]
        """,
    )
    summary = run_sweep(spec, tmp_path / "out", workers=2, progress=False)
    assert (summary.n_ok, summary.n_failed) == (4, 2)
    runs = read_runs(tmp_path / "out")
    bad = runs[runs["x"] < 0]
    assert (bad["status"] == "error").all() and bad["y"].isna().all()
    assert (bad["error"] == "ValueError: x=-1.0 is negative second line of the message").all()
    good = runs[runs["x"] > 0]
    assert (
        (good["status"] == "ok").all()
        and (good["error"] == "").all()
        and (good["attempt"] == 1).all()
    )
    assert good["y"].tolist() == good["x"].tolist()


def test_dead_local_worker_is_retried(tmp_path: Path) -> None:
    spec = make_spec(
        tmp_path,
        """\
        name: dying
        base: base.yaml
        task: analysis.experiments.testfuncs:dying_task
        parameters: [{path: die, values: [0, 1, 0, 2]}]
        design: grid
        replications: 2
        retries: 2
        metrics: [y]
        """,
    )
    summary = run_sweep(spec, tmp_path / "out", workers=2, progress=False)
    runs = read_runs(tmp_path / "out")
    assert sorted(runs["task"]) == list(range(8))
    assert (summary.n_ok, summary.n_failed) == (6, 2)
    once = runs[runs["die"] == 1]
    assert (once["status"] == "ok").all() and (once["attempt"] >= 2).all()
    always = runs[runs["die"] == 2]
    assert (always["status"] == "error").all() and (always["attempt"] == 3).all()
    assert always["error"].str.contains("worker process died in each of 3 attempts").all()
    assert (runs.loc[runs["die"] == 0, "status"] == "ok").all()
    # A retried task keeps its seed, so its result equals an undisturbed run's.
    seeds = once["seed"].to_numpy()
    expected = [np.random.default_rng(int(s)).random() for s in seeds]
    np.testing.assert_allclose(once["y"], expected)


# ------------------------------------------------------------------------- analysis


def test_analyze_grid_with_failed_runs(tmp_path: Path) -> None:
    spec = make_spec(
        tmp_path,
        """\
        name: grid_fail
        base: base.yaml
        task: analysis.experiments.testfuncs:failing_task
        parameters:
          - {path: x, values: [-1.0, 0.5, 1.0, 2.0]}
          - {path: z, low: 0.0, high: 1.0, levels: 3}
        design: grid
        replications: 2
        metrics: [y, seed_u]
        """,
    )
    out = tmp_path / "out"
    with ThreadPoolExecutor(2) as ex:
        run_sweep(spec, out, executor=ex, progress=False)
    (out / "runs.parquet").unlink()
    result = analyze(out)
    adir = out / "analysis"
    assert (result["n_ok"], result["n_failed"], result["n_missing"]) == (18, 6, 0)
    assert result["failure_messages"] == {
        "ValueError: x=-1.0 is negative second line of the message": 6
    }
    assert (adir / "heatmap_y__x__z.png").stat().st_size > 1000
    assert (adir / "replications_seed_u.png").is_file() and (out / "runs.parquet").is_file()
    drivers = pd.read_csv(adir / "drivers.csv")
    assert drivers["parameter"].tolist()[0] == "x" and drivers["method"].iloc[0] == "eta2_binned"
    assert result["crash_metric"] == "y"
    summary = json.loads((adir / "analysis.json").read_text())
    assert summary["n_failed"] == 6 and "drivers.csv" in summary["files"]
    means = pd.read_csv(adir / "point_means.csv")
    assert (
        means.loc[means["x"] < 0, "y"].isna().all()
        and (means.loc[means["x"] > 0, "y:n"] == 2).all()
    )


def test_ishigami_saltelli_sweep_end_to_end(tmp_path: Path) -> None:
    """Known Sobol' indices of Ishigami (a=7, b=0.1) through run_sweep + analyze."""
    spec = make_spec(
        tmp_path,
        f"""\
        name: ishigami
        base: base.yaml
        task: analysis.experiments.testfuncs:ishigami_task
        parameters:
          - {{path: x1, low: {-math.pi!r}, high: {math.pi!r}}}
          - {{path: x2, low: {-math.pi!r}, high: {math.pi!r}}}
          - {{path: x3, low: {-math.pi!r}, high: {math.pi!r}}}
        design: {{method: saltelli, n: 1024, calc_second_order: false}}
        seed: 1
        metrics: [y]
        """,
    )
    out = tmp_path / "out"
    with ThreadPoolExecutor(2) as ex:  # 5120 microsecond tasks: threads avoid pickling
        summary = run_sweep(spec, out, executor=ex, progress=False)
    assert summary.n_ok == 1024 * 5
    analyze(out)
    table = pd.read_csv(out / "analysis" / "sobol_y.csv", index_col="parameter")
    np.testing.assert_allclose(table["S1"], [0.3139, 0.4424, 0.0], atol=0.05)
    np.testing.assert_allclose(table["ST"], [0.5576, 0.4424, 0.2437], atol=0.05)
    drivers = pd.read_csv(out / "analysis" / "drivers.csv")
    assert (
        drivers["parameter"].tolist() == ["x1", "x2", "x3"]
        and drivers["method"].iloc[0] == "sobol_ST"
    )
    assert (out / "analysis" / "sobol_y.png").is_file()


# ------------------------------------------------------------------------------- CLI


def test_cli_sweep_and_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = make_spec(tmp_path, ISHIGAMI_GRID)
    out = tmp_path / "cli"
    assert cli_main(["sweep", str(spec), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    assert "sweep ish: 8 done, 0 failed" in capsys.readouterr().out
    assert cli_main(["analyze", str(out), "--metric", "y_noisy"]) == 0
    assert "drivers of y_noisy" in capsys.readouterr().out
    # Unknown metric, existing results without --resume: exit 2, one line, nothing changed.
    before = (out / "runs.csv").read_bytes()
    assert cli_main(["analyze", str(out), "--metric", "nope"]) == 2
    assert cli_main(["sweep", str(spec), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "unknown metric 'nope'" in err[0] and "--resume" in err[1]
    assert (out / "runs.csv").read_bytes() == before


def test_cli_bad_spec_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = make_spec(
        tmp_path,
        ISHIGAMI_GRID.replace("  - {path: x2, values: [0.5, 1.5]}\n", "  - {values: [0.5]}\n"),
        "bad.yaml",
    )
    out = tmp_path / "never"
    assert cli_main(["sweep", str(bad), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == "error: bad.yaml: parameters.1.path: field required"
    unimportable = make_spec(
        tmp_path,
        ISHIGAMI_GRID.replace("analysis.experiments.testfuncs:ishigami_task", "nowhere.mod:fn"),
        "task.yaml",
    )
    assert cli_main(["sweep", str(unimportable), "--out", str(out)]) == 2
    assert "error: task.yaml: task: cannot import 'nowhere.mod:fn'" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit) as info:
        cli_main(["sweep", str(bad), "--workers", "0"])
    assert info.value.code == 2
    assert load_spec(make_spec(tmp_path, ISHIGAMI_GRID)).name == "ish"


# ------------------------------------------------------------- common random numbers


def test_common_random_numbers_share_seeds_per_block_and_analyze_reports_seed_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every row of a Saltelli block runs with the block's R seeds; blocks differ; analyze
    reports the seed share of variance (0 for a metric the seeds do not touch)."""
    body = f"""\
        name: ish_crn
        base: base.yaml
        task: analysis.experiments.testfuncs:ishigami_task
        parameters:
          - {{path: x1, low: {-math.pi!r}, high: {math.pi!r}}}
          - {{path: x2, low: {-math.pi!r}, high: {math.pi!r}}}
          - {{path: x3, low: {-math.pi!r}, high: {math.pi!r}}}
        design: {{method: saltelli, n: 8, calc_second_order: false}}
        replications: 2
        common_random_numbers: true
        seed: 3
        metrics: [y, y_noisy, seed_u]
        """
    spec = make_spec(tmp_path, body)
    out = tmp_path / "crn"
    with ThreadPoolExecutor(2) as ex:
        summary = run_sweep(spec, out, executor=ex, progress=False)
    block, reps = 3 + 2, 2
    assert summary.n_ok == 8 * block * reps
    runs = read_runs(out)
    runs["block"] = runs["point"] // block
    per = runs.groupby(["block", "replication"])
    assert (per["seed"].nunique() == 1).all()  # one seed per (block, replication) ...
    assert (per["seed_u"].nunique() == 1).all()  # ... so the same draws on every row
    assert runs["seed"].nunique() == 8 * reps  # ... and independent ones across blocks
    # Without common random numbers every task has its own seed, as before.
    plain = make_spec(tmp_path, body.replace("common_random_numbers: true", ""), "plain.yaml")
    with ThreadPoolExecutor(2) as ex:
        run_sweep(plain, tmp_path / "plain", executor=ex, progress=False)
    assert read_runs(tmp_path / "plain")["seed"].nunique() == 8 * block * reps

    result = analyze(out)
    shares = {m: result["metrics"][m]["seed_share"] for m in ("y", "y_noisy", "seed_u")}
    assert shares["y"]["runs"] == 0.0  # deterministic: no seed variance
    assert 0.0 < shares["y_noisy"]["runs"] < 0.05  # 0.1 x N(0,1) noise on Var(y) ~ 13.8
    assert shares["seed_u"]["runs"] > 0.5  # pure seed noise
    assert shares["y_noisy"]["points_with_replications"] == 8 * block
    assert "share of variance due to seeds" in capsys.readouterr().out
    table = pd.read_csv(out / "analysis" / "sobol_y_noisy.csv", index_col="parameter")
    assert {"S1_clipped", "S1_nonneg", "S1_resolved", "ST_resolved"} <= set(table.columns)
    assert (table["S1_clipped"] >= 0).all()
    # A resumed CRN sweep accepts its own records (the seed check follows the blocks).
    with ThreadPoolExecutor(2) as ex:
        again = run_sweep(spec, out, executor=ex, progress=False, resume=True)
    assert again.n_resumed == summary.n_tasks
