"""Calibration on the experiment runner: kill -9 + --resume, refused resumptions, dead workers.

The runs are a stand-in task (``analysis.experiments.testfuncs``: NVDA falls 10 % per unit
of the viral news' credibility) so that a calibration of dozens of evaluations takes seconds;
everything else (spec, frozen scenarios, records, optimiser, report) is the real thing.
"""

from __future__ import annotations

import csv
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from analysis.calibration.run import run_calibration
from analysis.calibration.spec import load_calibration
from analysis.cli.calibrate import main as cli_main
from tests.killing import data_lines, kill_when

ROOT = Path(__file__).resolve().parents[1]
TINY_WEEK = ROOT / "scenarios" / "calibration" / "tiny_week.yaml"
TASKS = "analysis.experiments.testfuncs"


def _spec(tmp_path: Path, task: str, name: str = "spec.yaml", **changes: Any) -> Path:
    data: dict[str, Any] = {
        "name": "resume_stub",
        "base": str(TINY_WEEK),
        "task": f"{TASKS}:{task}",
        "targets": [{"metric": "shock_return:NVDA", "value": -14.0, "tolerance": 1.0}],
        "validation": [{"metric": "group_return:chips", "value": -9.0, "tolerance": 1.0}],
        "parameters": [
            {
                "path": "news.viral_cost_claim.credibility",
                "low": 0.4,
                "high": 3.0,
                "apply_to": "base",
            }
        ],
        "replications": 2,
        "holdout_replications": 1,
        "seed": 3,
        "optimizer": {"maxiter": 3, "popsize": 6, "tol": 0.0, "include_base": False},
        **changes,
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _by_eval(path: Path) -> dict[str, dict[str, str]]:
    """evaluations.csv rows by eval id, without the timing column."""
    rows = list(csv.DictReader(path.open()))
    return {r["eval"]: {k: v for k, v in r.items() if k != "wall_s"} for r in rows}


def test_sigkill_mid_calibration_then_resume_runs_every_evaluation_once(
    tmp_path: Path, capsys
) -> None:
    # The same calibration uninterrupted, in-process, with the same task minus its sleep.
    fast = load_calibration(_spec(tmp_path, "linear_credibility_task", "fast.yaml"))
    with ThreadPoolExecutor(2) as threads:
        reference = run_calibration(fast, tmp_path / "ref", executor=threads, progress=False)

    spec = _spec(tmp_path, "slow_linear_credibility_task")
    out = tmp_path / "out"
    args = ["analysis.cli.calibrate", "calibrate", str(spec), "--out", str(out), "--workers", "2"]
    kill_when(
        [*args, "--no-progress"],
        lambda: (
            len(data_lines(out / "runs.csv")) >= 12 and bool(data_lines(out / "evaluations.csv"))
        ),
    )
    assert not (out / "fitted.json").exists()  # killed mid-run
    runs_before = data_lines(out / "runs.csv")
    evals_before = data_lines(out / "evaluations.csv")
    # A kill in the middle of a write leaves a torn last line without a newline.
    for name, torn in (("runs.csv", "0123abc,analysis.exp"), ("evaluations.csv", "97,2,1.5")):
        with (out / name).open("a") as fh:
            fh.write(torn)

    assert cli_main(["calibrate", str(spec), "--out", str(out), "--resume", "--no-progress"]) == 0
    fitted = json.loads((out / "fitted.json").read_text())
    runs = data_lines(out / "runs.csv")
    evals = data_lines(out / "evaluations.csv")
    # The records were continued, not rewritten; each simulation and evaluation is there once.
    assert runs[: len(runs_before)] == runs_before
    assert evals[: len(evals_before)] == evals_before
    keys = [line.split(",")[0] for line in runs]
    assert len(keys) == len(set(keys))
    assert sorted(int(line.split(",")[0]) for line in evals) == list(range(len(evals)))
    assert len(evals) == fitted["n_evaluations"] == reference.n_evaluations == 6 * 4 + 1
    # Only the missing runs were simulated (and some were missing: the kill was mid-run).
    simulated = len(runs) - len(runs_before)
    assert fitted["runs"] == {"from_record": len(runs_before), "simulated": simulated}
    assert simulated > 0
    assert len(fitted["resumed"]) == 1
    # Killed and resumed, the calibration is the uninterrupted one.
    assert _by_eval(out / "evaluations.csv") == _by_eval(tmp_path / "ref" / "evaluations.csv")
    assert fitted["parameters"] == reference.parameters
    assert fitted["objective"] == reference.objective

    # Resuming a finished calibration simulates nothing and records nothing new.
    before = {n: (out / n).read_bytes() for n in ("runs.csv", "evaluations.csv")}
    assert cli_main(["calibrate", str(spec), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert json.loads((out / "fitted.json").read_text())["runs"]["simulated"] == 0
    assert {n: (out / n).read_bytes() for n in before} == before

    # Another spec, or no --resume, is refused before anything runs.
    capsys.readouterr()
    changed = _spec(tmp_path, "slow_linear_credibility_task", seed=4)
    assert cli_main(["calibrate", str(changed), "--out", str(out), "--resume"]) == 2
    assert cli_main(["calibrate", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "differs from the one this folder was started with (seed)" in err[0]
    assert "already holds a calibration; pass --resume" in err[1]
    assert {n: (out / n).read_bytes() for n in before} == before


def test_a_lost_worker_is_retried_not_a_crash(tmp_path: Path) -> None:
    # The first run of each replication seed kills its worker process.
    spec = load_calibration(
        _spec(
            tmp_path,
            "dying_linear_credibility_task",
            optimizer={"maxiter": 0, "popsize": 5, "include_base": False},
            holdout_replications=0,
        )
    )
    res = run_calibration(spec, tmp_path / "out", workers=2, progress=False)
    runs = list(csv.DictReader((tmp_path / "out" / "runs.csv").open()))
    assert len(runs) == 5 * 2 and all(r["status"] == "ok" for r in runs)
    assert max(int(r["attempt"]) for r in runs) >= 2
    evals = list(csv.DictReader((tmp_path / "out" / "evaluations.csv").open()))
    assert len(evals) == res.n_evaluations == 5 and all(r["status"] == "ok" for r in evals)
