"""Evaluations of a calibration: every simulation a task of the runner, recorded, resumable.

An evaluation of a parameter vector runs each scenario of the calibration once per
replication seed (:mod:`analysis.calibration.objective`). Each such run is a task of the
experiment runner (:func:`analysis.experiments.runner.run_tasks`, local process pool or Dask;
a dead worker is retried, not a crash) named by its :func:`~analysis.calibration.objective.task_key`,
and is recorded as it finishes:

    DIR/runs.csv          one line per simulation: key, task, scenario, seed, overrides (JSON),
                          values (JSON {metric: value}), wall_s, status, error, attempt
    DIR/evaluations.csv   one line per evaluation: eval, generation, <parameters>, objective,
                          <mean of every target and validation fact>, n_runs, wall_s, status,
                          error

both appended and fsync'ed (:class:`analysis.experiments.record.Record`). A key already in
``runs.csv`` is never simulated again: resumed, the calibration re-runs the (deterministic)
optimiser from the start and takes every recorded run from the record, so only the runs that
were missing are simulated; an evaluation already in ``evaluations.csv`` is checked against its
replay instead of being written twice.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.calibration.objective import (
    FAILED_OBJECTIVE,
    Evaluation,
    Plan,
    objective,
    task_key,
)
from analysis.calibration.spec import CalibrationError, CalibrationSpec
from analysis.experiments.protocol import run_named_task
from analysis.experiments.record import Record
from analysis.experiments.runner import Outcome, Pool, RunnerError, Task, run_tasks

__all__ = [
    "EVALUATIONS_CSV",
    "RUNS_CSV",
    "Evaluator",
    "Run",
    "evaluation_columns",
    "read_evaluations",
    "read_records",
]

EVALUATIONS_CSV = "evaluations.csv"
RUNS_CSV = "runs.csv"
RUN_COLUMNS = [
    "key",
    "task",
    "scenario",
    "seed",
    "overrides",
    "values",
    "wall_s",
    "status",
    "error",
    "attempt",
]


def evaluation_columns(spec: CalibrationSpec) -> list[str]:
    """Column order of ``evaluations.csv``."""
    labels = [t.label for t in (*spec.targets, *spec.validation)]
    paths = spec.parameter_paths
    return [
        "eval",
        "generation",
        *paths,
        "objective",
        *labels,
        "n_runs",
        "wall_s",
        "status",
        "error",
    ]


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else repr(float(x))
    return str(x)


@dataclass(frozen=True)
class Run:
    """One simulation: ``task`` on the plan's scenario with ``overrides`` at ``seed``."""

    plan: Plan
    overrides: dict[str, Any]
    seed: int
    task: str
    metrics: tuple[str, ...]

    @property
    def key(self) -> str:
        return task_key(self.task, self.plan.name, self.overrides, self.seed, self.metrics)


def _check_run_row(row: list[str]) -> None:
    """``ValueError`` if ``row`` of ``runs.csv`` is not what :meth:`Evaluator._record_run`
    writes (it is checked before a resumption trusts it)."""
    rec = dict(zip(RUN_COLUMNS, row, strict=True))
    key = rec["key"]
    if len(key) != 24 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"key {key[:40]!r} is not a run key (24 hex digits)")
    if rec["status"] not in ("ok", "error"):
        raise ValueError(f"status {rec['status'][:40]!r} is neither 'ok' nor 'error'")
    try:
        int(rec["seed"]), float(rec["wall_s"]), int(rec["attempt"])
    except ValueError:
        raise ValueError("seed, wall_s or attempt is not a number") from None
    for col in ("overrides", "values"):
        try:
            value = json.loads(rec[col])
        except ValueError:
            raise ValueError(f"{col} is not JSON") from None
        if not isinstance(value, dict):
            raise ValueError(f"{col} is not a JSON object")
    values = json.loads(rec["values"])
    if rec["status"] == "ok" and not all(
        isinstance(v, int | float) or v is None for v in values.values()
    ):
        raise ValueError("values holds something else than numbers")


def _check_evaluation_row(row: list[str]) -> None:
    """``ValueError`` if ``row`` of ``evaluations.csv`` has no evaluation number."""
    if not row[0].isdigit():
        raise ValueError(f"eval {row[0][:40]!r} is not an evaluation number")


def read_records(
    runs: Record, evaluations: Record
) -> tuple[dict[str, dict[str, Any]], dict[int, list[str]]]:
    """What a calibration's records hold: run results by key and evaluation rows by number
    (the first of each wins); :class:`~analysis.experiments.record.RecordError` naming the
    file and the line if one is damaged."""
    results: dict[str, dict[str, Any]] = {}
    for row in runs.rows(_check_run_row):
        rec = dict(zip(RUN_COLUMNS, row, strict=True))
        ok = rec["status"] == "ok"
        results.setdefault(
            rec["key"],
            {
                "values": json.loads(rec["values"]) if ok else {},
                "wall_s": float(rec["wall_s"]),
                "error": rec["error"],
            },
        )
    recorded: dict[int, list[str]] = {}
    for row in evaluations.rows(_check_evaluation_row):
        recorded.setdefault(int(row[0]), row)
    return results, recorded


class Evaluator:
    """Runs evaluations (and other runs) through the runner, recording every simulation.

    ``runs`` / ``evaluations``: the open records; ``recorded_runs`` / ``recorded_evaluations``:
    what they held when the calibration was resumed (empty on a fresh start).
    """

    def __init__(
        self,
        spec: CalibrationSpec,
        plans: list[Plan],
        pool: Pool | Executor,
        runs: Record,
        evaluations: Record,
        resumed: bool = False,
    ) -> None:
        self.spec = spec
        self.plans = plans
        self.pool = pool
        self.runs = runs
        self.evaluations = evaluations
        self.seeds = spec.seeds
        self.records: list[Evaluation] = []
        self.generation = 0
        self.all_labels = [t.label for t in (*spec.targets, *spec.validation)]
        self.results: dict[str, dict[str, Any]] = {}
        self.recorded_evaluations: dict[int, list[str]] = {}
        self.n_simulated = 0
        if resumed:
            self._read_records()

    # -- the records
    def _read_records(self) -> None:
        try:
            self.results, self.recorded_evaluations = read_records(self.runs, self.evaluations)
        except RunnerError as err:
            raise CalibrationError(str(err)) from None

    def _record_run(self, run: Run, outcome: Outcome) -> dict[str, Any]:
        result = {
            "values": outcome.value or {},
            "wall_s": round(outcome.wall_s, 6),
            "error": outcome.error,
        }
        self.runs.append(
            [
                run.key,
                run.task,
                run.plan.name,
                run.seed,
                json.dumps(run.overrides, sort_keys=True, default=str),
                json.dumps(result["values"]),
                result["wall_s"],
                "ok" if outcome.ok else "error",
                outcome.error,
                outcome.attempt,
            ]
        )
        self.results[run.key] = result
        self.n_simulated += 1
        return result

    def run(
        self,
        runs: Sequence[Run],
        deliver: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Results ``{"values", "wall_s", "error"}`` of ``runs`` by key: recorded ones from the
        record, the others simulated (each key once) and recorded as they finish.
        ``deliver(key, result)`` is called for every key as its result is known."""
        todo: dict[str, Run] = {}
        for r in runs:
            key = r.key
            if key in self.results:
                if deliver is not None:
                    deliver(key, self.results[key])
            else:
                todo.setdefault(key, r)

        def finished(task: Task, outcome: Outcome) -> None:
            result = self._record_run(todo[str(task.key)], outcome)
            if deliver is not None:
                deliver(str(task.key), result)

        tasks = [
            Task(key, run_named_task, (r.task, r.plan.path, r.overrides, r.seed, list(r.metrics)))
            for key, r in todo.items()
        ]
        try:
            run_tasks(self.pool, tasks, finished, retries=self.spec.retries)
        except RunnerError as err:
            raise CalibrationError(f"a simulation could not be run: {err}") from err
        return {r.key: self.results[r.key] for r in runs}

    # -- evaluations
    def values_of(self, unit: np.ndarray) -> dict[str, float]:
        return {p.path: p.from_unit(u) for p, u in zip(self.spec.parameters, unit, strict=True)}

    def _finish(self, ev: Evaluation) -> None:
        means = ev.means()
        if ev.fit:
            ev.objective = FAILED_OBJECTIVE if ev.errors else objective(means, self.spec.targets)
        row = [
            _fmt(x)
            for x in (
                ev.index,
                ev.generation,
                *(ev.values[p] for p in self.spec.parameter_paths),
                ev.objective,
                *(means.get(k, math.nan) for k in self.all_labels),
                ev.n_tasks,
                round(ev.wall_s, 3),
                "error" if ev.errors else "ok",
                ev.first_error,
            )
        ]
        recorded = self.recorded_evaluations.get(ev.index)
        if recorded is None:
            self.evaluations.append(row)
            return
        wall = self.evaluations.columns.index("wall_s")
        if recorded[:wall] + recorded[wall + 1 :] != row[:wall] + row[wall + 1 :]:
            raise CalibrationError(
                f"{self.evaluations.path}: evaluation {ev.index} differs from its replay; "
                "the folder's records do not belong to this calibration"
            )

    def evaluate(
        self,
        units: Iterable[np.ndarray],
        fit: bool = True,
        generation: int | str | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[Evaluation]:
        """Run every (vector, scenario, replication) as one task; return the evaluations.

        ``fit``: run the scenarios with targets (else the validation-only ones); ``seeds``:
        default the replication seeds (common random numbers).
        """
        plans = [p for p in self.plans if p.fit == fit]
        seeds = self.seeds if seeds is None else list(seeds)
        gen = self.generation if generation is None else generation
        evals: list[Evaluation] = []
        runs: list[Run] = []
        waiting: dict[str, list[tuple[Evaluation, int, int]]] = {}
        for unit in units:
            unit = np.asarray(unit, dtype=float)
            values = self.values_of(unit)
            ev = Evaluation(
                len(self.records), gen, unit.copy(), values, len(plans) * len(seeds), fit
            )
            ev.runs = {label: [None] * len(seeds) for p in plans for label in p.labels}
            self.records.append(ev)
            evals.append(ev)
            for i, plan in enumerate(plans):
                over = plan.run_overrides(self.spec, values)
                for j, seed in enumerate(seeds):
                    run = Run(plan, over, int(seed), plan.task, plan.metrics)
                    runs.append(run)
                    waiting.setdefault(run.key, []).append((ev, i, j))

        def deliver(key: str, result: Mapping[str, Any]) -> None:
            for ev, i, j in waiting.pop(key, []):
                plan = plans[i]
                ev.wall_s += float(result["wall_s"])
                if result["error"]:
                    ev.errors[(i, j)] = f"{plan.key}: {result['error']}"
                else:
                    for label, metric in zip(plan.labels, plan.metrics, strict=True):
                        ev.runs[label][j] = float(result["values"][metric])
                ev.done += 1
                if ev.done == ev.n_tasks:
                    self._finish(ev)

        self.run(runs, deliver)
        for ev in evals:
            if ev.n_tasks == 0:
                self._finish(ev)
        return evals

    # scipy calls workers(func, iterable): func(x) for each x, computed here in parallel
    def __call__(self, func: Any, iterable: Iterable[np.ndarray]) -> list[float]:
        evals = self.evaluate(list(iterable))
        if self.generation == 0 and all(ev.errors for ev in evals):
            raise CalibrationError(
                "every evaluation of the first generation failed; "
                f"first error: {evals[0].first_error}"
            )
        self.generation += 1
        return [ev.objective for ev in evals]

    def single(self, unit: np.ndarray) -> float:
        """Objective at one unit-cube point (what ``func`` means; scipy maps it via __call__)."""
        return self.evaluate([unit])[0].objective


def read_evaluations(out_dir: str | Path) -> pd.DataFrame:
    """``DIR/evaluations.csv`` as a DataFrame (a line torn by a kill is dropped).

    ``generation`` is the optimiser's generation (0 = initial population), or
    ``validation`` / ``holdout`` for the final runs at the fitted parameters.
    """
    text = (Path(out_dir) / EVALUATIONS_CSV).read_text(encoding="utf-8")
    text = text[: text.rfind("\n") + 1]
    return pd.read_csv(io.StringIO(text), dtype={"generation": str, "error": str})
