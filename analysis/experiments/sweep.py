"""Parallel, resumable parameter sweeps over the simulator (or any pluggable task).

A sweep expands a :class:`~analysis.experiments.spec.SweepSpec` into tasks ``(point,
replication)`` with task index ``k = point * replications + replication`` and runs
``task(scenario, overrides, seed, metrics) -> {metric: value}`` for each through the
experiment runner (:mod:`analysis.experiments.runner`): a local process pool by default, or a
Dask cluster (see :func:`~analysis.experiments.runner.make_executor`).

Output directory layout::

    DIR/sweep.json     resolved spec + design matrix (written atomically at start)
    DIR/runs.csv       one line per finished task, appended and fsync'ed as it finishes
    DIR/runs.parquet   the same table sorted by task (written atomically at the end)

``runs.csv`` is a :class:`~analysis.experiments.record.Record` keyed by the task index:
``--resume`` runs only the tasks it does not hold. Parquet is produced from the CSV once the
sweep (or ``analyze``) ends.

Nothing silent, nothing lost: before the first task (and before anything is written) the
task's input check (:func:`analysis.experiments.protocol.input_check`; the simulator's tasks
validate every point's overrides against the scenario and every metric) refuses a bad path,
value or metric; the folder is held (``DIR/.lock``, :mod:`analysis.experiments.lock`) for the
whole sweep, so a second sweep into it is refused; ``--resume`` refuses a folder whose
``sweep.json`` is missing or differs from the spec, and a ``runs.csv`` with a damaged line
(other than a torn last one) is refused with its line number, whether resumed or analysed.

Seeds: task ``k`` gets child ``k`` of ``numpy.random.SeedSequence(spec.seed)`` (see
:func:`analysis.experiments.protocol.task_seeds`), so results are identical whatever the executor,
the number of workers, the completion order, or how often the sweep was resumed. With
``common_random_numbers`` the children are drawn per (design block, replication) instead, and
every point of a block shares them (:func:`sweep_seeds`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError
from tqdm.auto import tqdm

from analysis.experiments.designs import Design, build_design
from analysis.experiments.lock import check_folder_free, hold_folder
from analysis.experiments.protocol import (
    TaskInputError,
    input_check,
    resolve_task,
    run_named_task,
    task_seeds,
)
from analysis.experiments.record import (
    Record,
    RecordError,
    atomic_write_bytes,
    complete_text,
    differences,
    read_json_record,
)
from analysis.experiments.runner import (
    Outcome,
    Pool,
    RunnerError,
    Task,
    make_executor,
    run_tasks,
)
from analysis.experiments.spec import SweepSpec, load_spec

__all__ = [
    "RUNS_CSV",
    "RUNS_PARQUET",
    "SWEEP_JSON",
    "SweepError",
    "SweepSummary",
    "check_sweep",
    "read_runs",
    "read_sweep_json",
    "run_columns",
    "run_sweep",
    "sweep_record",
    "sweep_seeds",
    "write_parquet",
]

RUNS_CSV = "runs.csv"
RUNS_PARQUET = "runs.parquet"
SWEEP_JSON = "sweep.json"


class SweepError(RuntimeError):
    """A sweep cannot start or go on (bad output directory, unimportable task, ...)."""


@dataclass(frozen=True)
class SweepSummary:
    """Outcome of :func:`run_sweep`. Counts cover the whole sweep, resumed rows included."""

    name: str
    out_dir: Path
    n_tasks: int
    n_ok: int
    n_failed: int
    n_resumed: int
    wall_s: float

    @property
    def runs_csv(self) -> Path:
        return self.out_dir / RUNS_CSV

    @property
    def runs_parquet(self) -> Path:
        return self.out_dir / RUNS_PARQUET


# ----------------------------------------------------------------------------- recording


def run_columns(spec: SweepSpec) -> list[str]:
    """Column order of ``runs.csv`` / ``runs.parquet``."""
    return [
        "task",
        "point",
        "replication",
        "seed",
        *spec.parameter_paths,
        *spec.metrics,
        "wall_s",
        "status",
        "error",
        "attempt",
    ]


def sweep_seeds(spec: SweepSpec, n_points: int) -> np.ndarray:
    """Seed of every task ``k = point * replications + replication`` (int64, length
    ``n_points * replications``).

    Without common random numbers: ``task_seeds(seed, n_tasks)[k]``. With them: the
    ``r``-th replication of every point of block ``b`` (``b = point // spec.block_size``)
    runs with ``task_seeds(seed, n_blocks * replications)[b * replications + r]``, so the
    points an estimator compares differ only in their parameters; different blocks (and
    replications) still get independent seeds, so the indices average over seeds.
    """
    reps = spec.replications
    if not spec.common_random_numbers:
        return task_seeds(spec.seed, n_points * reps)
    block = spec.block_size(n_points)
    n_blocks = -(-n_points // block)  # ceil: a trailing partial block still gets seeds
    per_block = task_seeds(spec.seed, n_blocks * reps).reshape(n_blocks, reps)
    return per_block[np.arange(n_points) // block].reshape(-1)


def sweep_record(spec: SweepSpec, design: Design) -> dict[str, Any]:
    """Content of ``sweep.json``: the resolved spec, design matrix and task layout."""
    return {
        "name": spec.name,
        "spec": spec.model_dump(mode="json"),
        "spec_file": str(spec.source) if spec.source else None,
        "base_path": str(spec.base_path),
        "n_points": design.n_points,
        "replications": spec.replications,
        "n_tasks": design.n_points * spec.replications,
        "task_index": "task = point * replications + replication",
        "task_seed": (
            "int(SeedSequence(seed).spawn(n_blocks * replications)[block * replications + "
            f"replication].generate_state(1, uint64)[0] >> 1), block = point // {spec.block_size(design.n_points)}"
            if spec.common_random_numbers
            else "int(SeedSequence(seed).spawn(n_tasks)[task].generate_state(1, uint64)[0] >> 1)"
        ),
        "columns": run_columns(spec),
        "design": design.to_json(),
    }


def _fingerprint(record: Mapping[str, Any]) -> dict[str, Any]:
    # What must not change between a sweep and its resumption; retries may.
    spec = {k: v for k, v in record["spec"].items() if k not in ("retries", "description")}
    if not spec.get("common_random_numbers", False):
        # folders recorded before the field existed resume as before
        spec.pop("common_random_numbers", None)
    return {"spec": spec, "design": record["design"], "columns": record["columns"]}


def _changes(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """What differs between the ``sweep.json`` of a folder and this sweep (None if nothing)."""
    old, new = _fingerprint(recorded), _fingerprint(now)
    if old == new:
        return None
    if changed := differences(old["spec"], new["spec"]):
        return f"the sweep spec differs from the one this folder was started with ({', '.join(changed)})"
    return (
        "the spec is the same but its design points differ from the recorded ones "
        f"({', '.join(differences(old, new))}; e.g. another version of the design code)"
    )


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what} {text[:40]!r} is not an integer") from None


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} {text[:40]!r} is not a number") from None


def _row_check(record: Mapping[str, Any], columns: list[str]) -> Callable[[list[str]], None]:
    """Check of one ``runs.csv`` row against the sweep of ``record`` (its ``sweep.json``):
    ``ValueError`` saying what no run of that sweep can have written. (What the record does
    not say, e.g. the number of tasks, is not checked.)"""
    spec = record["spec"]
    n_tasks = record.get("n_tasks")
    reps = record.get("replications")
    seeds = None
    if n_tasks is not None and spec.get("seed") is not None:
        try:
            parsed = SweepSpec.model_validate(spec)
        except ValidationError:
            parsed = None  # a record this version cannot read: no seed check
        if parsed is not None and n_tasks % parsed.replications == 0:
            seeds = sweep_seeds(parsed, int(n_tasks) // parsed.replications)
    status_i, wall_i, attempt_i = (columns.index(c) for c in ("status", "wall_s", "attempt"))
    metric_i = [(columns.index(m), m) for m in spec.get("metrics", []) if m in columns]

    def check(row: list[str]) -> None:
        task = _int(row[0], "task")
        if task < 0 or (n_tasks is not None and task >= n_tasks):
            raise ValueError(f"task {task} is not a task of this sweep (0 to {n_tasks - 1})")
        point, rep = _int(row[1], "point"), _int(row[2], "replication")
        if reps is not None and (point, rep) != divmod(task, int(reps)):
            raise ValueError(f"point {point}, replication {rep} do not belong to task {task}")
        seed = _int(row[3], "seed")
        if seeds is not None and seed != int(seeds[task]):
            raise ValueError(f"seed {seed} is not the seed of task {task} ({seeds[task]})")
        status = row[status_i]
        if status not in ("ok", "error"):
            raise ValueError(f"status {status[:40]!r} is neither 'ok' nor 'error'")
        _float(row[wall_i], "wall_s")
        if _int(row[attempt_i], "attempt") < 1:
            raise ValueError(f"attempt {row[attempt_i]} is not a positive integer")
        for i, m in metric_i:
            if row[i] or status == "ok":
                _float(row[i], m)

    return check


def read_sweep_json(out: str | Path) -> dict[str, Any]:
    """``out/sweep.json`` (:class:`SweepError` if missing, damaged or not a sweep's)."""
    path = Path(out) / SWEEP_JSON
    record = read_json_record(path, "sweep", SweepError)
    if not isinstance(record.get("spec"), dict):
        raise SweepError(f"{path}: damaged (no spec); not a sweep record")
    return record


def _rows(out: Path, record: Mapping[str, Any]) -> list[list[str]]:
    """The complete, checked rows of ``out/runs.csv`` (:class:`SweepError` naming a bad line).

    Its columns are the record's, or, if the record does not list them, its own header's."""
    path = out / RUNS_CSV
    try:
        columns = record.get("columns")
        if columns is None:
            with path.open(encoding="utf-8", errors="replace", newline="") as fh:
                columns = next(csv.reader(fh), [])
        return Record(path, columns, "sweep").rows(_row_check(record, columns))
    except RecordError as err:
        raise SweepError(str(err)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SweepError(f"{out / SWEEP_JSON}: damaged ({err}); not a sweep record") from None


def read_runs(out_dir: str | Path) -> pd.DataFrame:
    """Read ``DIR/runs.csv`` into a DataFrame sorted by task.

    A truncated last line (the process was killed mid-write) is ignored; any other damaged
    line is refused (:class:`SweepError` naming the file and the line, checked against
    ``DIR/sweep.json``); should a task appear twice, the first record wins.
    """
    out = Path(out_dir)
    path = out / RUNS_CSV
    if not path.is_file():
        raise SweepError(f"{path}: not found")
    _rows(out, read_sweep_json(out))
    text, _ = complete_text(path)
    if not text.strip():
        raise SweepError(f"{path} holds no results")
    df = pd.read_csv(io.StringIO(text), dtype={"status": str, "error": str})
    df = df.drop_duplicates("task", keep="first").sort_values("task", kind="stable")
    df["error"] = df["error"].fillna("")
    return df.reset_index(drop=True)


def write_parquet(out_dir: str | Path) -> Path:
    """Write ``DIR/runs.parquet`` (sorted by task) from ``runs.csv``, atomically."""
    out_dir = Path(out_dir)
    df = read_runs(out_dir)
    for col in [c for c in df.columns if pd.api.types.is_object_dtype(df[c])]:
        # Mixed-type parameter values (e.g. [1, "high"]) are not one Arrow type.
        df[col] = df[col].astype(str)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    target = out_dir / RUNS_PARQUET
    atomic_write_bytes(target, buf.getvalue())
    return target


def _recorded(rows: list[list[str]], columns: list[str]) -> tuple[set[int], int, int]:
    """Task indices already in ``runs.csv`` (first record wins) and their ok/error counts."""
    done: set[int] = set()
    n_ok = n_err = 0
    status_col = columns.index("status")
    for row in rows:
        task = int(row[0])
        if task not in done:
            done.add(task)
            n_ok += row[status_col] == "ok"
            n_err += row[status_col] != "ok"
    return done, n_ok, n_err


# ------------------------------------------------------------------------------- sweeps


def _where(spec: SweepSpec) -> str:
    return spec.source.name if spec.source else "<sweep>"


def _check_spec(spec: SweepSpec) -> tuple[Design, dict[str, Any]]:
    """The checks of the spec alone, reading no output folder: the task can be imported, the
    design built, and the task's inputs (every point, every metric) pass its check."""
    try:
        fn = resolve_task(spec.task)
    except Exception as exc:
        raise SweepError(
            f"{_where(spec)}: task: cannot import {spec.task!r}: {type(exc).__name__}: {exc}"
        ) from None
    design = build_design(spec)
    check = input_check(fn)
    if check is not None:
        try:
            check(str(spec.base_path), spec.fixed, design.all_overrides(), spec.metrics)
        except TaskInputError as err:
            raise SweepError(f"{_where(spec)}: {err}") from None
    return design, sweep_record(spec, design)


def _check_folder(record: dict[str, Any], out: Path, resume: bool) -> tuple[set[int], int, int]:
    """The checks of the output folder (read only): recorded tasks and their ok/error counts."""
    csv_path, json_path = out / RUNS_CSV, out / SWEEP_JSON
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out} exists and is not a directory")
    has_runs = csv_path.is_file() and csv_path.stat().st_size > 0
    if has_runs and not resume:
        raise SweepError(
            f"{csv_path} already holds results: pass --resume to continue that sweep or choose another --out"
        )
    if not resume:
        return set(), 0, 0
    if json_path.is_file():
        try:
            why = _changes(read_sweep_json(out), record)
        except (KeyError, TypeError, AttributeError) as err:
            raise SweepError(f"{json_path}: damaged ({err}); not a sweep record") from None
        if why:
            raise SweepError(
                f"{json_path}: {why}; --resume needs the same spec, or choose another --out"
            )
    elif has_runs:
        raise SweepError(
            f"{json_path}: not found, so nothing says which sweep the results in {csv_path} "
            "belong to; --resume refused: choose another --out"
        )
    if not has_runs:
        return set(), 0, 0
    return _recorded(_rows(out, record), record["columns"])


def _prepare(
    spec: SweepSpec, out: Path, resume: bool
) -> tuple[Design, dict[str, Any], set[int], int, int]:
    """Every check that can fail on bad input, before anything is written."""
    design, record = _check_spec(spec)
    check_folder_free(out, SweepError)
    return (design, record, *_check_folder(record, out, resume))


def check_sweep(spec: SweepSpec, out_dir: str | Path, resume: bool = False) -> None:
    """Raise :class:`SweepError` if :func:`run_sweep` would refuse to start; writes nothing."""
    _prepare(spec, Path(out_dir), resume)


class _Counts:
    """Writes each outcome as a runs.csv line and counts them."""

    def __init__(self, spec: SweepSpec, design: Design, runs: Record) -> None:
        self.spec = spec
        self.runs = runs
        # fixed overrides first, so a swept parameter wins over a fixed one of the same path
        self.points = [{**spec.fixed, **p} for p in design.all_overrides()]
        self.seeds = sweep_seeds(spec, design.n_points)
        self.n_ok = 0
        self.n_failed = 0

    def task(self, k: int) -> Task:
        point = k // self.spec.replications
        args = (self.spec.task, str(self.spec.base_path), self.points[point])
        return Task(k, run_named_task, (*args, int(self.seeds[k]), list(self.spec.metrics)))

    def __call__(self, task: Task, outcome: Outcome) -> None:
        k = int(task.key)  # type: ignore[call-overload]
        point, rep = divmod(k, self.spec.replications)
        params = self.points[point]
        values = outcome.value or {}
        self.runs.append(
            [
                k,
                point,
                rep,
                int(self.seeds[k]),
                *(params[p] for p in self.spec.parameter_paths),
                *(values.get(m, "") for m in self.spec.metrics),
                round(outcome.wall_s, 6),
                "ok" if outcome.ok else "error",
                outcome.error,
                outcome.attempt,
            ]
        )
        self.n_ok += outcome.ok
        self.n_failed += not outcome.ok


def run_sweep(
    spec: SweepSpec | str | Path,
    out_dir: str | Path,
    executor: Pool | Executor | None = None,
    resume: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> SweepSummary:
    """Run (or resume) a sweep, writing results into ``out_dir``.

    ``executor``: a pool from :func:`~analysis.experiments.runner.make_executor` (local
    process pool or Dask) or any ``concurrent.futures.Executor`` (e.g. a thread pool for
    cheap tasks); default: a process pool of ``workers`` processes. ``resume`` skips tasks
    already recorded (ok or error) in ``runs.csv``; without it an existing non-empty
    ``runs.csv`` is an error. Task failures are recorded, not raised. Raises
    :class:`SpecError` / :class:`SweepError` on bad input (a point or metric the task's input
    check refuses, a folder another sweep holds, a resumption of a folder whose
    ``sweep.json`` is missing or differs, a damaged ``runs.csv``), before writing anything.
    """
    t0 = time.perf_counter()
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    out = Path(out_dir)
    design, record, *_ = _prepare(spec, out, resume)
    n_tasks = record["n_tasks"]
    csv_path = out / RUNS_CSV
    with hold_folder(out, "sweep", SweepError):
        # checked again while holding the folder: another sweep may have written it since
        done, n_ok_before, n_err_before = _check_folder(record, out, resume)
        if not done or not (out / SWEEP_JSON).is_file():
            atomic_write_bytes(out / SWEEP_JSON, json.dumps(record, indent=1).encode())

        with contextlib.ExitStack() as stack:
            if executor is None:
                task_module = spec.task.partition(":")[0]
                executor = stack.enter_context(
                    make_executor(workers=workers, retries=spec.retries, preload=(task_module,))
                )
            runs = stack.enter_context(Record(csv_path, record["columns"], "sweep"))
            bar = stack.enter_context(
                tqdm(
                    total=n_tasks,
                    initial=len(done),
                    desc=f"sweep {spec.name}",
                    unit="run",
                    disable=not progress,
                    dynamic_ncols=True,
                )
            )
            counts = _Counts(spec, design, runs)
            todo = (counts.task(k) for k in range(n_tasks) if k not in done)
            try:
                run_tasks(executor, todo, counts, retries=spec.retries, bar=bar)
            except RunnerError as err:
                raise SweepError(str(err)) from err
            except KeyboardInterrupt:
                bar.close()
                print(
                    f"sweep {spec.name}: interrupted; finished tasks are in {csv_path}, rerun with --resume"
                )
                raise

        write_parquet(out)
    summary = SweepSummary(
        name=spec.name,
        out_dir=out,
        n_tasks=n_tasks,
        n_ok=n_ok_before + counts.n_ok,
        n_failed=n_err_before + counts.n_failed,
        n_resumed=len(done),
        wall_s=time.perf_counter() - t0,
    )
    print(
        f"sweep {spec.name}: {summary.n_ok} done, {summary.n_failed} failed, {summary.wall_s:.1f} s"
    )
    return summary
