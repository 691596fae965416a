"""Running a calibration: its folder, the optimiser, acceptance, final runs and outputs.

Output directory::

    DIR/calibration.json       resolved spec, seeds, code commit (written at start)
    DIR/scenarios/*.yaml       frozen, resolved copies of the scenarios the runs read
    DIR/runs.csv               one line per simulation, by task key, appended + fsync'ed
    DIR/evaluations.csv        one line per evaluation, appended + fsync'ed as it finishes
    DIR/trace.csv              best objective so far after each generation
    DIR/fitted.json            fitted parameters, objective, every target sim vs real
    DIR/fitted_scenario.yaml   ``extends:`` the base and sets the fitted values
    DIR/report.md              targets and out-of-sample facts, misses flagged
    DIR/trace.png              objective vs generation

**Resume.** ``run_calibration(..., resume=True)`` (``calibrate --resume``) continues a
calibration killed at any moment: it refuses unless the spec equals the one recorded in
``calibration.json`` and the records are undamaged (a torn last line is dropped, any other bad
line refused with its number), runs on the folder's frozen scenarios, replays the optimiser
from the start and takes every run recorded in ``runs.csv`` from there, so only the missing
runs are simulated and ``evaluations.csv`` ends with every evaluation once
(:mod:`analysis.calibration.evaluations`).

**One at a time.** The folder is held (``DIR/.lock``, :mod:`analysis.experiments.lock`) for
the whole calibration: a second calibration or sweep into it is refused at once.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tqdm.auto import tqdm

from analysis.calibration.acceptance import accept
from analysis.calibration.evaluations import (
    EVALUATIONS_CSV,
    RUN_COLUMNS,
    RUNS_CSV,
    Evaluator,
    evaluation_columns,
    read_records,
)
from analysis.calibration.objective import Plan, frozen_plans, plans, task_module
from analysis.calibration.optimiser import optimise, start_point, x0_index
from analysis.calibration.report import fact_rows, parameter_table, write_outputs
from analysis.calibration.spec import BASE, CalibrationError, CalibrationSpec, load_calibration
from analysis.experiments.lock import check_folder_free, hold_folder
from analysis.experiments.record import Record, differences, read_json_record
from analysis.experiments.runner import Pool, RunnerError, make_executor
from sim.scenario import get_path

__all__ = [
    "CALIBRATION_JSON",
    "CalibrationResult",
    "apply_maxiter",
    "check_output_dir",
    "run_calibration",
]

CALIBRATION_JSON = "calibration.json"
#: Spec fields that may differ when a calibration is resumed.
_MAY_CHANGE = ("description", "retries")


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`run_calibration`."""

    name: str
    out_dir: Path
    parameters: dict[str, float]
    objective: float
    base_objective: float | None
    n_evaluations: int
    n_generations: int
    wall_s: float
    fitted: dict[str, Any]


def apply_maxiter(spec: CalibrationSpec, maxiter: int | None) -> CalibrationSpec:
    """``spec`` with ``optimizer.maxiter`` replaced (unchanged if ``maxiter`` is None)."""
    if maxiter is None:
        return spec
    if maxiter < 0:
        raise CalibrationError(f"maxiter must be >= 0, got {maxiter}")
    opt = spec.optimizer.model_copy(update={"maxiter": maxiter})
    return spec.model_copy(update={"optimizer": opt})


def _spec_changes(recorded: Mapping[str, Any], spec: CalibrationSpec) -> list[str]:
    """Fields (dotted paths) in which ``spec`` differs from the recorded spec."""
    now = spec.model_dump(mode="json")
    keep = [k for k in sorted(set(recorded) | set(now)) if k not in _MAY_CHANGE]
    return differences({k: recorded.get(k) for k in keep}, {k: now.get(k) for k in keep})


def check_output_dir(
    out_dir: str | Path, resume: bool = False, spec: CalibrationSpec | None = None
) -> bool:
    """Raise :class:`CalibrationError` if ``out_dir`` cannot take (or continue) ``spec``.

    Returns whether there is a calibration to continue: with ``resume``, a folder holding
    ``calibration.json`` whose spec equals ``spec`` and whose records are undamaged (else an
    error naming what differs, or the damaged file and line); an empty or missing folder
    starts afresh. Without ``resume`` a folder holding a calibration is refused, and so is a
    folder another calibration or sweep holds (:mod:`analysis.experiments.lock`). Reads only.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CalibrationError(f"{out} exists and is not a directory")
    check_folder_free(out, CalibrationError)
    held = [out / n for n in (CALIBRATION_JSON, RUNS_CSV, EVALUATIONS_CSV) if (out / n).exists()]
    if not held:
        return False
    if not resume:
        raise CalibrationError(
            f"{held[0]} already holds a calibration; pass --resume to continue it or choose "
            "another --out"
        )
    path = out / CALIBRATION_JSON
    if not path.is_file():
        raise CalibrationError(f"{path}: not found, so the calibration cannot be resumed")
    record = read_json_record(path, "calibration", CalibrationError)
    if not isinstance(record.get("spec"), dict):
        raise CalibrationError(f"{path}: damaged (no spec); not a calibration record")
    if spec is not None:
        changed = _spec_changes(record["spec"], spec)
        if changed:
            raise CalibrationError(
                f"{path}: the calibration spec differs from the one this folder was started "
                f"with ({', '.join(changed)}); --resume needs the same spec, or choose another --out"
            )
        try:
            read_records(
                Record(out / RUNS_CSV, RUN_COLUMNS, "calibration"),
                Record(out / EVALUATIONS_CSV, evaluation_columns(spec), "calibration"),
            )
        except RunnerError as err:
            raise CalibrationError(str(err)) from None
    return True


def _git_state(repo: Path) -> dict[str, Any]:
    """Commit of the code that ran and whether sim/ had local changes (read-only git)."""
    out: dict[str, Any] = {"commit": None, "sim_modified": None}
    with contextlib.suppress(Exception):
        rev = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        out["commit"] = rev.stdout.strip()
        st = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "sim", "analysis/metrics.py"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        out["sim_modified"] = bool(st.stdout.strip())
    return out


def freeze(source_plans: Sequence[Plan]) -> dict[str, dict[str, Any]]:
    """Each scenario's resolved content (no ``extends:``), by plan key."""
    from sim.scenario import load_raw

    return {p.key: load_raw(p.path) for p in source_plans}


def changed_scenarios(source_plans: Sequence[Plan], frozen: Mapping[str, Any]) -> list[str]:
    """Scenario files whose content differs now from the frozen copy the fit ran on."""
    from sim.scenario import ScenarioError, load_raw

    changed = []
    for p in source_plans:
        try:
            now = load_raw(p.path)
        except ScenarioError:
            now = None
        if now != frozen[p.key]:
            changed.append(p.path)
    return changed


def _base_values(spec: CalibrationSpec, raw: dict[str, Any]) -> dict[str, float | None]:
    from sim.scenario import apply_overrides, validate

    data = apply_overrides(raw, spec.overrides, spec.base_path.name)
    dumped = validate(data, spec.base_path.name).model_dump(mode="json")
    out: dict[str, float | None] = {}
    for p in spec.parameters:
        v = get_path(dumped, p.path)
        out[p.path] = float(v) if isinstance(v, int | float) else None
    return out


def _start_record(spec: CalibrationSpec, source_plans: Sequence[Plan], out: Path) -> dict[str, Any]:
    """Content of ``calibration.json``, written before the first evaluation."""
    return {
        "name": spec.name,
        "spec_file": str(spec.source) if spec.source else None,
        "spec": spec.model_dump(mode="json"),
        "base": str(spec.base_path),
        "seeds": spec.seeds,
        "holdout_seeds": spec.holdout_seeds,
        "population_size": spec.population_size(),
        "scenarios": [
            {
                "scenario": p.key,
                "path": p.path,
                "frozen_copy": str(out / p.name),
                "task": p.task,
                "fit": p.fit,
                "metrics": p.metrics,
            }
            for p in source_plans
        ],
        "objective": "J = sum_k weight_k ((mean_k - real_k) / scale_k)^2, scale = tolerance",
        "records": {"runs": RUNS_CSV, "evaluations": EVALUATIONS_CSV},
        "code": _git_state(Path(__file__).resolve().parents[1]),
        "resumed": [],
    }


def _start(
    spec: CalibrationSpec, source_plans: Sequence[Plan], out: Path, resume: bool
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Write (or, resumed, update) ``calibration.json`` and the frozen scenarios; return the
    start record and the frozen scenarios' content by plan key."""
    from sim.io import atomic_write, write_json
    from sim.scenario import ScenarioError, load_raw

    path = out / CALIBRATION_JSON
    if resume:
        record = read_json_record(path, "calibration", CalibrationError)
        try:
            frozen = {p.key: load_raw(out / p.name) for p in source_plans}
        except ScenarioError as err:
            raise CalibrationError(f"cannot resume: frozen scenario unreadable: {err}") from None
        record.setdefault("resumed", []).append(
            {"code": _git_state(Path(__file__).resolve().parents[1])}
        )
        write_json(record, path)
        return record, frozen
    # Tasks read frozen copies of the scenarios, so that editing a scenario file while a
    # long calibration runs cannot change it half-way (each task reloads its scenario).
    frozen = freeze(source_plans)
    out.mkdir(parents=True, exist_ok=True)
    for p in source_plans:
        text = (
            f"# Frozen copy of {p.path} (extends: resolved) taken when calibration "
            f"{spec.name} started; its evaluations ran on this file.\n"
            + yaml.safe_dump(frozen[p.key], sort_keys=False, width=100)
        )
        atomic_write(out / p.name, lambda t, text=text: Path(t).write_text(text, encoding="utf-8"))
    # written last: a folder with calibration.json holds everything a resumption needs
    record = _start_record(spec, source_plans, out)
    write_json(record, path)
    return record, frozen


def run_calibration(
    spec: CalibrationSpec | str | Path,
    out_dir: str | Path,
    executor: Pool | Executor | None = None,
    workers: int | None = None,
    maxiter: int | None = None,
    progress: bool = True,
    resume: bool = False,
) -> CalibrationResult:
    """Fit ``spec``'s parameters to its targets and write the outputs into ``out_dir``.

    ``executor``: a pool of :func:`analysis.experiments.runner.make_executor` (local process
    pool or Dask) or any ``concurrent.futures.Executor``; default a local process pool of
    ``workers``. ``maxiter`` overrides the spec's optimiser setting. ``resume`` continues the
    calibration in ``out_dir`` (see the module docstring). Raises :class:`CalibrationError`
    on bad input before anything is written.
    """
    t0 = time.perf_counter()
    if not isinstance(spec, CalibrationSpec):
        spec = load_calibration(spec)
    spec = apply_maxiter(spec, maxiter)
    out = Path(out_dir)
    check_output_dir(out, resume, spec)
    with hold_folder(out, "calibration", CalibrationError):
        # checked again while holding the folder: another calibration may have written it
        resume = check_output_dir(out, resume, spec)
        return _calibrate(spec, out, executor, workers, progress, resume, t0)


def _calibrate(
    spec: CalibrationSpec,
    out: Path,
    executor: Pool | Executor | None,
    workers: int | None,
    progress: bool,
    resume: bool,
    t0: float,
) -> CalibrationResult:
    """:func:`run_calibration` once its checks have passed, in the held folder."""
    source_plans = plans(spec)
    start_record, frozen = _start(spec, source_plans, out, resume)
    base_values = _base_values(spec, frozen[BASE])
    x0 = start_point(spec, base_values)
    run_plans = frozen_plans(source_plans, out)

    with contextlib.ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(
                make_executor(
                    workers=workers,
                    retries=spec.retries,
                    preload=(task_module(spec),),
                )
            )
        runs = Record(out / RUNS_CSV, RUN_COLUMNS, "calibration")
        evaluations = Record(out / EVALUATIONS_CSV, evaluation_columns(spec), "calibration")
        evaluator = Evaluator(spec, run_plans, executor, runs, evaluations, resumed=resume)
        n_recorded = len(evaluator.results)
        stack.enter_context(runs)
        stack.enter_context(evaluations)
        bar = stack.enter_context(
            tqdm(
                total=spec.optimizer.maxiter + 1,
                desc=f"calibrate {spec.name}",
                unit="gen",
                disable=not progress,
                dynamic_ncols=True,
            )
        )
        message, trace = optimise(spec, evaluator, x0, out, bar)
        best = min(
            (r for r in evaluator.records if r.objective == r.objective),
            key=lambda r: r.objective,
        )
        if best.errors:
            raise CalibrationError(f"every evaluation failed; first error: {best.first_error}")
        unconstrained = best
        acceptance = None
        if spec.acceptance is not None:
            best, acceptance = accept(spec, evaluator, next(p for p in run_plans if p.key == BASE))
        values = best.values_by_label()
        if any(not p.fit for p in run_plans):  # validation-only scenarios: once, at the optimum
            ev = evaluator.evaluate([best.unit], fit=False, generation="validation")[0]
            values.update(ev.values_by_label())
        holdout = None
        if spec.holdout_replications:
            holdout = evaluator.evaluate(
                [best.unit], generation="holdout", seeds=spec.holdout_seeds
            )[0]
        bar.close()

    fitted = {
        "name": spec.name,
        "spec_file": str(spec.source) if spec.source else None,
        "base": str(spec.base_path),
        "overrides": spec.overrides,
        "parameters": best.values,
        "parameter_table": parameter_table(spec, best.values, base_values),
        "objective": best.objective,
        "base_objective": None
        if x0 is None
        else evaluator.records[x0_index(evaluator, x0)].objective,
        "best_evaluation": best.index,
        "unconstrained_best": {
            "evaluation": unconstrained.index,
            "objective": unconstrained.objective,
            "parameters": unconstrained.values,
        },
        "acceptance": acceptance,
        "targets": fact_rows(spec.targets, values, fit=True),
        "validation": fact_rows(spec.validation, values, fit=False),
        "seeds": spec.seeds,
        "replications": spec.replications,
        "holdout": None
        if holdout is None
        else _holdout(spec, holdout.objective, holdout.values_by_label()),
        "population_size": spec.population_size(),
        "optimizer": spec.optimizer.model_dump(mode="json"),
        "optimizer_message": message,
        "n_evaluations": len(evaluator.records),
        "n_generations": len(trace),
        "runs": {"simulated": evaluator.n_simulated, "from_record": n_recorded},
        "resumed": start_record.get("resumed", []),
        "wall_s": time.perf_counter() - t0,
        # the workers imported the simulator when the calibration started
        "code": start_record["code"],
        "scenarios_changed_since_start": changed_scenarios(source_plans, frozen),
    }
    write_outputs(spec, fitted, trace, out)
    if progress:
        print(
            f"calibrate {spec.name}: J = {best.objective:.4g} after {len(evaluator.records)} "
            f"evaluations, {fitted['wall_s'] / 60:.1f} min; {out / 'report.md'}"
        )
        if acceptance is not None:
            print(
                f"acceptance: evaluation {acceptance['accepted_evaluation']} meets every check"
                if acceptance["met"]
                else f"acceptance: NOT met by any of the best {len(acceptance['tried'])} "
                "evaluations; the fit is the unconstrained optimum (see report.md)"
            )
    return CalibrationResult(
        name=spec.name,
        out_dir=out,
        parameters=dict(best.values),
        objective=best.objective,
        base_objective=fitted["base_objective"],
        n_evaluations=len(evaluator.records),
        n_generations=len(trace),
        wall_s=fitted["wall_s"],
        fitted=fitted,
    )


def _holdout(
    spec: CalibrationSpec, objective: float, values: Mapping[str, list[float]]
) -> dict[str, Any]:
    """The fresh-seed check of ``fitted.json``."""
    return {
        "seeds": spec.holdout_seeds,
        "objective": objective,
        "targets": fact_rows(spec.targets, values, fit=True),
        "validation": fact_rows(
            [t for t in spec.validation if t.label in values], values, fit=False
        ),
    }
