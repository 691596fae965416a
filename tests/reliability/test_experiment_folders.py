"""Sweeps and calibrations: nothing silent, nothing lost.

Bad paths, values and metrics are refused before any task; one experiment per folder (a lock);
``--resume`` refuses a folder whose record is missing, damaged or of another spec; a damaged
runs table is refused with its line number; workers do not outlive a killed driver. Stand-in
tasks (``analysis.experiments.testfuncs``) wherever a simulation is not the point.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analysis.experiments.runner as runner
from analysis.calibration.run import run_calibration
from analysis.calibration.spec import CalibrationError, load_calibration
from analysis.cli.calibrate import main as calibrate_main
from analysis.cli.sweep import main as sweep_main
from analysis.experiments.lock import LOCK_FILE
from analysis.experiments.sweep import SweepError, read_runs, run_sweep
from tests.conftest import ROOT, SCENARIOS
from tests.killing import data_lines
from tests.test_calibration_resume import _spec as calibration_spec

BASE = SCENARIOS / "deepseek_2025.yaml"
TINY_WEEK = SCENARIOS / "calibration" / "tiny_week.yaml"
STANDIN = "analysis.experiments.testfuncs"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture()
def no_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a pool (workers or a cluster) is started."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a pool was started: the input was not refused up front")

    monkeypatch.setattr(runner, "make_executor", refuse)


# ----------------------------------------------------------------- refused before any task

REAL_SWEEP = f"""\
name: real
base: {BASE}
fixed: {{population.size: 300}}
parameters:
  - {{path: population.cohorts.momentum.share, values: [0.05, 0.1]}}
  - {{path: news.viral_cost_claim.credibility, values: [0.5, 1.0]}}
design: grid
metrics: [shock_return:NVDA, group_return:chips]
"""


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "momentum.share",
            "momentm.share",
            "sweep.yaml: point 0 (population.cohorts.momentm.share = 0.05, "
            "news.viral_cost_claim.credibility = 0.5): deepseek_2025.yaml: "
            "population.cohorts.momentm: unknown field",
        ),
        (
            "[0.5, 1.0]",
            "[0.5, -3]",
            "sweep.yaml: point 1 (population.cohorts.momentum.share = 0.05, "
            "news.viral_cost_claim.credibility = -3",
        ),
        ("chips]", "chipz]", "sweep.yaml: metrics.1: unknown index 'chipz'"),
        ("shock_return:NVDA", "shock_retrun:NVDA", "sweep.yaml: metrics.0: unknown metric"),
        ("population.size: 300", "population.sizee: 300", "sweep.yaml: fixed: deepseek_2025"),
        ("population.size: 300", "population.size: .inf", "fixed: population.size: expected a"),
        ("[0.5, 1.0]", "[0.5, .nan]", "sweep.yaml: parameters.1.values.1: expected a finite"),
    ],
)
def test_sweep_refuses_a_bad_path_value_or_metric_before_any_task(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_pool: None,
    old: str,
    new: str,
    expected: str,
) -> None:
    assert old in REAL_SWEEP
    spec = _write(tmp_path / "sweep.yaml", REAL_SWEEP.replace(old, new))
    out = tmp_path / "results" / "sweep"
    assert sweep_main(["sweep", str(spec), "--out", str(out), "--no-progress"]) == 2
    assert expected in _one_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]  # nothing written


def test_a_stand_in_task_is_not_checked_against_the_scenario(tmp_path: Path) -> None:
    # no scenario behind it: its own metric names and override paths, its runs say what fails
    (tmp_path / "base.yaml").write_text("name: not-a-scenario\n")
    spec = _write(
        tmp_path / "sweep.yaml",
        f"""\
        name: standin
        base: base.yaml
        task: {STANDIN}:failing_task
        parameters: [{{path: x, values: [-1.0, 1.0]}}]
        design: grid
        metrics: [y, nope]
        """,
    )
    with ThreadPoolExecutor(2) as ex:
        summary = run_sweep(spec, tmp_path / "out", executor=ex, progress=False)
    assert (summary.n_ok, summary.n_failed) == (0, 2)


def _child_scenario(tmp_path: Path, **fundamental: float) -> Path:
    child = tmp_path / "child.yaml"
    child.write_text(
        yaml.safe_dump(
            {"extends": str(TINY_WEEK), "population": {"cohorts": {"fundamental": fundamental}}}
        )
    )
    return child


def _calibration(tmp_path: Path, name: str = "cal.yaml", **changes: Any) -> Path:
    """A stand-in calibration of tiny_week: 5 members x 2 generations x 2 seeds."""
    quick = {"optimizer": {"maxiter": 1, "popsize": 5, "include_base": False}}
    return calibration_spec(
        tmp_path,
        "linear_credibility_task",
        name,
        **{"validation": [], "holdout_replications": 0, **quick, **changes},
    )


@pytest.mark.parametrize(
    "changes, expected",
    [
        # each bound alone is valid, the corner (adjust 0.03, response 0.01) is a cobweb
        (
            {
                "parameters": [
                    {"path": "population.cohorts.fundamental.adjust_per_step", "low": 0.005, "high": 0.03},
                    {"path": "population.cohorts.fundamental.price_response_per_step", "low": 0.01, "high": 0.05},
                ]
            },
            "cal.yaml: parameters (the corner population.cohorts.fundamental.adjust_per_step = "
            "0.03, population.cohorts.fundamental.price_response_per_step = 0.01 in child.yaml)",
        ),
        # an integer field: its bounds are integers, the values searched in between are not
        (
            {"parameters": [{"path": "network.degree", "low": 4, "high": 9}]},
            "cal.yaml: parameters.0 (network.degree = 6.5 in child.yaml)",
        ),
        ({"overrides": {"population.size": float("inf")}}, "overrides: population.size: expected a finite"),
        (
            {"targets": [{"metric": "shock_return:NVDA", "value": -14.0, "tolerance": float("nan")}]},
            "cal.yaml: targets.0.tolerance: input should be a finite number",
        ),
    ],
)  # fmt: skip
def test_calibration_refuses_values_it_would_search_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_pool: None, changes: dict, expected: str
) -> None:
    child = _child_scenario(tmp_path, adjust_per_step=0.01, price_response_per_step=0.03)
    spec = _calibration(tmp_path, base=str(child), **changes)
    out = tmp_path / "results" / "cal"
    assert calibrate_main(["calibrate", str(spec), "--out", str(out), "--no-progress"]) == 2
    assert expected in _one_error(capsys)
    assert not (tmp_path / "results").exists()
    with pytest.raises(CalibrationError):
        load_calibration(spec)


# ------------------------------------------------------------------------ one per folder

SLEEPY = f"""\
name: sleepy
base: base.yaml
task: {STANDIN}:sleep_task
parameters:
  - {{path: a, values: [1, 2, 3, 4]}}
  - {{path: sleep, values: [SLEEP]}}
design: grid
replications: 2
seed: 5
metrics: [y]
"""


def _sleepy(tmp_path: Path, sleep: float = 0.3, name: str = "sleepy.yaml") -> Path:
    (tmp_path / "base.yaml").write_text("name: test-base\n")
    return _write(tmp_path / name, SLEEPY.replace("SLEEP", repr(sleep)))


def _popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_sweeps_into_one_folder_one_is_refused_and_each_task_runs_once(
    tmp_path: Path,
) -> None:
    spec, out = _sleepy(tmp_path), tmp_path / "out"
    args = ["-m", "analysis.cli.sweep", "sweep", str(spec), "--out", str(out), "--no-progress"]
    procs = [_popen(*args, "--workers", "1"), _popen(*args, "--workers", "1", "--resume")]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert sorted(r[0] for r in results) == [0, 2], results
    winner = next(p for p, r in zip(procs, results, strict=True) if r[0] == 0)
    refused = next(r[2] for r in results if r[0] == 2)
    assert refused.count("\n") == 1
    assert refused.startswith(f"error: {out} is in use by another sweep (pid {winner.pid} on ")
    assert refused.strip().endswith("; wait for it to end or choose another --out")
    tasks = sorted(int(line.split(",")[0]) for line in data_lines(out / "runs.csv"))
    assert tasks == list(range(8))  # each task once
    assert not (out / LOCK_FILE).exists()  # released and removed at the end


HOLD = """\
import sys, time
from analysis.experiments.lock import hold_folder
with hold_folder(sys.argv[1], "calibration", RuntimeError):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_held_folder_is_refused_at_once_and_freed_by_the_holders_death(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_pool: None
) -> None:
    out = tmp_path / "out"
    holder = _popen("-c", HOLD, str(out))
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = _snapshot(out)
        spec = _sleepy(tmp_path)
        t0 = time.perf_counter()
        for resume in ([], ["--resume"]):
            assert sweep_main(["sweep", str(spec), "--out", str(out), *resume]) == 2
            err = _one_error(capsys)
            assert f"{out} is in use by another calibration (pid {holder.pid} on " in err
        cal = _calibration(tmp_path)
        assert calibrate_main(["calibrate", str(cal), "--out", str(out), "--no-progress"]) == 2
        assert f"in use by another calibration (pid {holder.pid}" in _one_error(capsys)
        assert time.perf_counter() - t0 < 20 and _snapshot(out) == before
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate(timeout=10)
    # the kernel dropped the dead holder's lock; its lock file is reused, then removed
    assert (out / LOCK_FILE).exists()
    with ThreadPoolExecutor(2) as ex:
        summary = run_sweep(_sleepy(tmp_path, 0.0), out, executor=ex, progress=False)
    assert summary.n_ok == 8 and not (out / LOCK_FILE).exists()


# --------------------------------------------------------------------- records to resume

GRID = f"""\
name: grid
base: base.yaml
task: {STANDIN}:ishigami_task
parameters:
  - {{path: x1, values: [0.1, 0.2]}}
  - {{path: x2, values: [0.5, 1.5]}}
  - {{path: x3, values: [1.0]}}
design: grid
replications: 2
seed: 42
metrics: [y, seed_u]
"""


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spec, folder) of a finished 8-task sweep (copy the folder before changing it)."""
    root = tmp_path_factory.mktemp("sweep")
    (root / "base.yaml").write_text("name: test-base\n")
    spec = _write(root / "grid.yaml", GRID)
    with ThreadPoolExecutor(2) as ex:
        run_sweep(spec, root / "out", executor=ex, progress=False)
    return spec, root / "out"


def _copy(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(folder, out)
    return out


def test_sweep_resume_refuses_a_missing_damaged_or_other_record(
    tmp_path: Path, finished_sweep: tuple[Path, Path], capsys, no_pool: None
) -> None:
    spec, folder = finished_sweep
    out = _copy(folder, tmp_path)
    args = ["sweep", str(spec), "--out", str(out), "--resume", "--no-progress"]
    record = (out / "sweep.json").read_bytes()
    before = _snapshot(out)

    (tmp_path / "base.yaml").write_text("name: test-base\n")
    edited = _write(tmp_path / "grid.yaml", GRID.replace("[0.5, 1.5]", "[0.5, 2.5]"))
    assert sweep_main(["sweep", str(edited), *args[2:]]) == 2
    assert (
        "sweep.json: the sweep spec differs from the one this folder was started with "
        "(parameters.1.values.1); --resume needs the same spec" in _one_error(capsys)
    )
    assert _snapshot(out) == before
    (out / "sweep.json").unlink()
    assert sweep_main(args) == 2
    assert "sweep.json: not found, so nothing says which sweep" in _one_error(capsys)
    (out / "sweep.json").write_text('{"name": "grid", "spec": ')
    before = _snapshot(out)
    assert sweep_main(args) == 2
    assert "sweep.json: damaged (" in _one_error(capsys)
    assert _snapshot(out) == before
    # the record back, the same spec: nothing to run, nothing added
    (out / "sweep.json").write_bytes(record)
    runs = (out / "runs.csv").read_bytes()
    with ThreadPoolExecutor(1) as ex:
        assert run_sweep(spec, out, executor=ex, resume=True, progress=False).n_resumed == 8
    assert (out / "runs.csv").read_bytes() == runs


DAMAGES = {
    "garbage": (lambda row: b"garbage", "1 fields, expected 13"),
    "short": (lambda row: b"1,2,3", "3 fields, expected 13"),
    "task": (lambda row: b"x" + row[1:], "task 'x' is not an integer"),
    "range": (lambda row: b"99" + row[1:], "task 99 is not a task of this sweep (0 to 7)"),
    "status": (lambda row: row.replace(b",ok,", b",fine,"), "status 'fine' is neither"),
    "seed": (lambda row: b"1,0,1" + row[5:], "seed "),  # another task's seed
    # an unclosed quote takes the rest of the file into one field
    "quote": (lambda row: b'2,"1,0', "not a CSV line (unexpected end of data)"),
    "bytes": (lambda row: b"\xff\xfe,1", "not UTF-8 text"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_runs_table_is_refused_with_its_line(
    tmp_path: Path, finished_sweep: tuple[Path, Path], capsys, no_pool: None, damage: str
) -> None:
    spec, folder = finished_sweep
    out = _copy(folder, tmp_path)
    make, why = DAMAGES[damage]
    row0 = next(r for r in data_lines(folder / "runs.csv") if r.startswith("0,0,0,")).encode()
    bad = make(row0)
    lines = (out / "runs.csv").read_bytes().splitlines(keepends=True)
    (out / "runs.csv").write_bytes(b"".join([*lines[:2], bad + b"\n", *lines[2:]]))
    before = _snapshot(out)
    expected = f"{out / 'runs.csv'}, line 3: {why}"
    assert sweep_main(["sweep", str(spec), "--out", str(out), "--resume", "--no-progress"]) == 2
    assert expected in _one_error(capsys)
    assert sweep_main(["analyze", str(out)]) == 2
    assert expected in _one_error(capsys)
    assert _snapshot(out) == before


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=60),
    where=st.integers(1, 8),
)  # fmt: skip
def test_any_inserted_line_is_refused_with_its_number_or_is_a_valid_row(
    tmp_path_factory, finished_sweep: tuple[Path, Path], text: str, where: int
) -> None:
    _, folder = finished_sweep
    out = tmp_path_factory.mktemp("prop") / "out"
    shutil.copytree(folder, out)
    lines = (out / "runs.csv").read_text().splitlines(keepends=True)
    (out / "runs.csv").write_text("".join([*lines[:where], text + "\n", *lines[where:]]))
    try:
        runs = read_runs(out)
    except SweepError as err:
        assert f"runs.csv, line {where + 1}: " in str(err)
        assert str(err).count("\n") == 0
    else:
        # only a blank line, or a copy of a recorded row (the first record wins), passes
        assert text.strip() == "" or text + "\n" in lines
        assert runs["task"].tolist() == list(range(8))


@pytest.fixture(scope="module")
def finished_calibration(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cal")
    spec = _calibration(root)
    with ThreadPoolExecutor(2) as ex:
        run_calibration(load_calibration(spec), root / "out", executor=ex, progress=False)
    return spec, root / "out"


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("runs.csv", "runs.csv, line 3: key 'garbage' is not a run key"),
        ("evaluations.csv", "evaluations.csv, line 3: "),
        (
            "no calibration.json",
            "calibration.json: not found, so the calibration cannot be resumed",
        ),
        ("bad calibration.json", "calibration.json: damaged ("),
    ],
)
def test_calibration_resume_refuses_damaged_records(
    tmp_path: Path, finished_calibration, capsys, no_pool: None, damage: str, expected: str
) -> None:
    spec, folder = finished_calibration
    out = _copy(folder, tmp_path)
    if damage.endswith(".csv"):
        path = out / damage
        lines = path.read_text().splitlines(keepends=True)
        garbage = "garbage" + "," * (lines[0].count(","))
        path.write_text("".join([*lines[:2], garbage + "\n", *lines[2:]]))
    elif damage.startswith("no"):
        (out / "calibration.json").unlink()
    else:
        (out / "calibration.json").write_text("[1, 2")
    before = _snapshot(out)
    args = ["calibrate", str(spec), "--out", str(out), "--resume", "--no-progress"]
    assert calibrate_main(args) == 2
    assert expected in _one_error(capsys)
    assert _snapshot(out) == before


# ------------------------------------------------------------ no orphans after kill -9


def _session(sid: int) -> list[tuple[int, str]]:
    """Live (non-zombie) processes of session ``sid``, from /proc: (pid, command line)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[3]) == sid and stat[0] not in (b"Z", b"X"):
            out.append((int(entry), cmd[:120]))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    "where", [["--workers", "2"], ["--cluster", "local"]], ids=["local", "dask"]
)
def test_workers_exit_when_the_driver_is_killed(tmp_path: Path, where: list[str]) -> None:
    (tmp_path / "base.yaml").write_text("name: test-base\n")
    # the first runs finish at once (so the workers are known to be up), then the workers
    # sleep in long runs: without a watch on the driver they would sleep on, orphaned
    spec = _write(tmp_path / "s.yaml", SLEEPY.replace("[SLEEP]", "[0.01, 60]"))
    out = tmp_path / "out"
    driver = _popen("-m", "analysis.cli.sweep", "sweep", str(spec), "--out", str(out),
                    "--no-progress", *where)  # fmt: skip
    left: list[tuple[int, str]] = []
    try:
        deadline = time.monotonic() + 60
        while not data_lines(out / "runs.csv"):
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "the sweep did not start in 60 s"
            time.sleep(0.1)
        time.sleep(0.5)  # the long runs start
        workers = [p for p in _session(driver.pid) if p[0] != driver.pid]
        assert len(workers) >= 2, workers
        os.kill(driver.pid, signal.SIGKILL)  # the driver only; not reaped yet: a zombie
        deadline = time.monotonic() + 10
        while (left := _session(driver.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == [], f"still running 10 s after the driver died: {left}"
    finally:
        for pid, _ in left:
            os.kill(pid, signal.SIGKILL)
        if driver.poll() is None:
            os.kill(driver.pid, signal.SIGKILL)
        driver.communicate(timeout=10)


def test_dask_local_workers_watch_the_driver(dask_pool) -> None:
    names = dask_pool.client.run(lambda: [t.name for t in threading.enumerate()])
    assert len(names) == 2
    assert all("moatshock-watch-driver" in n for n in names.values())
