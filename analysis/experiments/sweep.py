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

Seeds: task ``k`` gets child ``k`` of ``numpy.random.SeedSequence(spec.seed)`` (see
:func:`analysis.experiments.protocol.task_seeds`), so results are identical whatever the executor,
the number of workers, the completion order, or how often the sweep was resumed.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from analysis.experiments.designs import Design, build_design
from analysis.experiments.protocol import resolve_task, run_named_task, task_seeds
from analysis.experiments.record import Record, atomic_write_bytes, complete_text
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
    "run_columns",
    "run_sweep",
    "sweep_record",
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
        "task_seed": "int(SeedSequence(seed).spawn(n_tasks)[task].generate_state(1, uint64)[0] >> 1)",
        "columns": run_columns(spec),
        "design": design.to_json(),
    }


def _fingerprint(record: Mapping[str, Any]) -> dict[str, Any]:
    # What must not change between a sweep and its resumption; retries may.
    spec = {k: v for k, v in record["spec"].items() if k not in ("retries", "description")}
    return {"spec": spec, "design": record["design"], "columns": record["columns"]}


def read_runs(out_dir: str | Path) -> pd.DataFrame:
    """Read ``DIR/runs.csv`` into a DataFrame sorted by task.

    A truncated last line (the process was killed mid-write) is ignored; should a task
    appear twice, the first record wins.
    """
    path = Path(out_dir) / RUNS_CSV
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


def _recorded(record: Record) -> tuple[set[int], int, int]:
    """Task indices already in ``runs.csv`` (first record wins) and their ok/error counts."""
    done: set[int] = set()
    n_ok = n_err = 0
    status_col = record.columns.index("status")
    for row in record.rows():
        task = int(row[0])
        if task not in done:
            done.add(task)
            n_ok += row[status_col] == "ok"
            n_err += row[status_col] != "ok"
    return done, n_ok, n_err


# ------------------------------------------------------------------------------- sweeps


def _prepare(
    spec: SweepSpec, out: Path, resume: bool
) -> tuple[Design, dict[str, Any], set[int], int, int]:
    """Every check that can fail on bad input, before anything is written."""
    try:
        resolve_task(spec.task)
    except Exception as exc:
        where = spec.source.name if spec.source else "<sweep>"
        raise SweepError(
            f"{where}: task: cannot import {spec.task!r}: {type(exc).__name__}: {exc}"
        ) from None
    design = build_design(spec)
    record = sweep_record(spec, design)
    csv_path = out / RUNS_CSV
    has_runs = csv_path.is_file() and csv_path.stat().st_size > 0
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out} exists and is not a directory")
    if has_runs and not resume:
        raise SweepError(
            f"{csv_path} already holds results: pass --resume to continue that sweep or choose another --out"
        )
    done: set[int] = set()
    n_ok = n_err = 0
    if has_runs:
        json_path = out / SWEEP_JSON
        if json_path.is_file():
            old = json.loads(json_path.read_text(encoding="utf-8"))
            if _fingerprint(old) != _fingerprint(record):
                raise SweepError(
                    f"{json_path}: the sweep spec or design changed since this sweep started; "
                    "choose another --out"
                )
        try:
            done, n_ok, n_err = _recorded(Record(csv_path, record["columns"], "sweep"))
        except RunnerError as err:
            raise SweepError(str(err)) from None
        if done and max(done) >= record["n_tasks"]:
            raise SweepError(
                f"{csv_path}: task {max(done)} is not in this sweep; choose another --out"
            )
    return design, record, done, n_ok, n_err


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
        self.seeds = task_seeds(spec.seed, design.n_points * spec.replications)
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
    :class:`SpecError` / :class:`SweepError` on bad input, before writing anything.
    """
    t0 = time.perf_counter()
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    out = Path(out_dir)
    design, record, done, n_ok_before, n_err_before = _prepare(spec, out, resume)
    n_tasks = record["n_tasks"]
    csv_path = out / RUNS_CSV

    out.mkdir(parents=True, exist_ok=True)
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
