"""Parallel, resumable parameter sweeps over the simulator (or any pluggable task).

A sweep expands a :class:`~analysis.experiments.designs.SweepSpec` into tasks ``(point, replication)``
with task index ``k = point * replications + replication`` and runs
``task(scenario, overrides, seed, metrics) -> {metric: value}`` for each on a
``concurrent.futures.Executor``: a local process pool by default, or a Dask cluster
through ``Client.get_executor()`` (see :func:`make_executor`).

Output directory layout::

    DIR/sweep.json     resolved spec + design matrix (written atomically at start)
    DIR/runs.csv       one line per finished task, appended and fsync'ed as it finishes
    DIR/runs.parquet   the same table sorted by task (written atomically at the end)

Why CSV for the live record: a sweep of simulator runs can take hours and may be
killed at any moment (kill -9, OOM killer, a lost SSH session). An append-only text
file written one complete line per ``write`` and fsync'ed afterwards is durable at
line granularity: after any crash it holds every finished task plus at most one
truncated last line, which :func:`read_runs` drops. Parquet cannot be appended to (a
file is only valid once its footer is written), so writing it per task would mean
rewriting the whole file each time, and a kill during that rewrite would lose every
result. Parquet is therefore produced from the CSV once the sweep (or ``analyze``)
ends, via a temporary file and ``os.replace`` so readers never see half a file.

Seeds: task ``k`` gets child ``k`` of ``numpy.random.SeedSequence(spec.seed)`` (see
:func:`analysis.experiments.designs.task_seeds`), so results are identical whatever the executor,
the number of workers, the completion order, or how often the sweep was resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import importlib
import io
import json
import logging
import math
import multiprocessing
import os
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from analysis.experiments.designs import Design, SweepSpec, build_design, load_spec, task_seeds

__all__ = [
    "RUNS_CSV",
    "RUNS_PARQUET",
    "SWEEP_JSON",
    "SweepError",
    "SweepSummary",
    "check_sweep",
    "execute_task",
    "make_executor",
    "read_runs",
    "resolve_task",
    "run_columns",
    "run_sweep",
    "sweep_record",
    "write_parquet",
]

RUNS_CSV = "runs.csv"
RUNS_PARQUET = "runs.parquet"
SWEEP_JSON = "sweep.json"
_MAX_ERROR_CHARS = 2000


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


# ------------------------------------------------------------------------ task execution


#: Task names of earlier versions, still accepted (with a warning) in experiment files.
RENAMED_TASKS = {
    "sim.api:evaluate": "analysis.experiments.tasks:evaluate",
    "analysis.calibration:simulate_metrics": "analysis.calibration.engine:simulate_metrics",
}


def resolve_task(ref: str) -> Callable[..., Mapping[str, Any]]:
    """Import ``"package.module:function"`` and return the function."""
    if ref in RENAMED_TASKS:
        warnings.warn(
            f"task {ref!r} was renamed {RENAMED_TASKS[ref]!r}; please update the file",
            DeprecationWarning,
            stacklevel=2,
        )
        ref = RENAMED_TASKS[ref]
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"task must look like 'package.module:function', got {ref!r}")
    fn = getattr(importlib.import_module(module_name), attr)
    if not callable(fn):
        raise TypeError(f"{ref} is not callable")
    return fn


def _one_line(text: str) -> str:
    # Messages go into one CSV line each, so that a line is always a whole record.
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def execute_task(
    task: str,
    scenario: str,
    overrides: dict[str, object],
    seed: int,
    metrics: list[str],
) -> dict[str, Any]:
    """Run one task in a worker; never raises for errors of the task itself.

    Returns ``{"values": {metric: float}, "wall_s": seconds, "error": message or ""}``.
    Exceptions are caught here rather than in the parent so that the parent can tell a
    failing simulation (recorded, not retried) from a dead worker (retried).
    """
    t0 = time.perf_counter()
    values: dict[str, float] = {}
    error = ""
    try:
        result = resolve_task(task)(scenario, dict(overrides), int(seed), list(metrics))
        if not isinstance(result, Mapping):
            raise TypeError(f"task returned {type(result).__name__}, expected a mapping of metrics")
        missing = [m for m in metrics if m not in result]
        if missing:
            raise KeyError(f"task returned no value for metric(s): {', '.join(missing)}")
        values = {m: float(result[m]) for m in metrics}
    except Exception as exc:  # any task failure becomes a recorded error row
        values = {}
        error = _one_line(f"{type(exc).__name__}: {exc}")
    return {"values": values, "wall_s": time.perf_counter() - t0, "error": error}


# ----------------------------------------------------------------------------- executors


@contextlib.contextmanager
def make_executor(
    workers: int | None = None,
    cluster: str | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    preload: tuple[str, ...] = (),
) -> Iterator[Executor]:
    """Context manager yielding an executor for :func:`run_sweep`, cleaned up on exit.

    - default: a local ``ProcessPoolExecutor`` with ``workers`` processes (default: CPU
      count), started with the ``forkserver`` method so that it is safe in programs that
      already run threads (a plain fork could copy a held lock into the child).
      ``preload`` modules (e.g. the task's) are imported once in the fork server, so
      workers, including replacements for dead ones, start without re-importing them.
    - ``cluster="local"``: a ``dask.distributed.LocalCluster`` of ``workers`` (default 2)
      single-threaded worker processes; the scheduler's ``allowed-failures`` is set to
      ``retries`` so that a task whose worker dies is rescheduled that many times.
    - ``scheduler="tcp://host:8786"``: a ``Client`` on an existing cluster; its
      ``allowed-failures`` is whatever that scheduler was started with.
    """
    if cluster is not None and scheduler is not None:
        raise ValueError("give either cluster or scheduler, not both")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if cluster is None and scheduler is None:
        ctx = multiprocessing.get_context("forkserver")
        # Only takes effect if the fork server is not running yet (once per process).
        ctx.set_forkserver_preload(["analysis.experiments.sweep", *preload])
        pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=ctx)
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
        return
    if cluster is not None and cluster != "local":
        raise ValueError(f"unknown cluster {cluster!r} (only 'local' is supported)")

    # Deferred: dask.distributed takes ~1 s to import and is only needed here.
    import dask
    from dask.distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if cluster == "local":
            config = {
                "distributed.scheduler.allowed-failures": retries,
                # Dask charges a worker's death to every task assigned to that worker,
                # queued or running; one task per single-threaded worker keeps innocent
                # neighbours of a crashing task from using up its retries.
                "distributed.scheduler.worker-saturation": 1.0,
            }
            with dask.config.set(config):
                lc = LocalCluster(
                    n_workers=workers or 2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            stack.callback(lc.close)
            client = Client(lc)
        else:
            client = Client(scheduler)
        stack.callback(client.close)
        ex = _robust_client_executor(client)
        stack.callback(ex.shutdown, wait=False)
        yield ex


def _robust_client_executor(client: Any) -> Executor:
    """``client.get_executor(pure=False)`` with a future relay that always resolves.

    distributed's ``ClientExecutor`` relays each Dask future to a concurrent.futures
    future in ``cfexecutor._cascade_future``, which never resolves it when fetching the
    result itself raises: a task that finished on a worker killed before its result was
    fetched is recomputed, and if that ends in ``KilledWorker`` the sweep would wait
    forever. Here any outcome is relayed. ``pure=False``: tasks with equal arguments
    must each run rather than share one key.
    """
    from distributed.cfexecutor import ClientExecutor

    class _Executor(ClientExecutor):
        def _wrap_future(self, future: Any) -> Future[Any]:
            cf_future: Future[Any] = Future()

            def cancel_remote(f: Future[Any]) -> None:
                if f.cancelled() and future.status != "cancelled":
                    future.cancel()

            cf_future.add_done_callback(cancel_remote)
            self._client.loop.add_callback(_relay_result, self._client, future, cf_future)
            return cf_future

    return _Executor(client, pure=False)


async def _relay_result(client: Any, future: Any, cf_future: Future[Any]) -> None:
    try:
        result = await client.gather(future, asynchronous=True)
    except BaseException as exc:  # relay everything, task errors and cancellation alike
        if cf_future.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            cf_future.cancel()
            cf_future.set_running_or_notify_cancel()  # wakes wait() / as_completed()
        else:
            cf_future.set_exception(exc)
    else:
        if not cf_future.done():
            cf_future.set_result(result)


def _capacity(executor: Executor) -> int:
    if isinstance(executor, ProcessPoolExecutor | ThreadPoolExecutor):
        return int(executor._max_workers)  # type: ignore[attr-defined]
    client = getattr(executor, "_client", None)
    if client is not None:
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
    return os.cpu_count() or 1


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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _complete_text(path: Path) -> tuple[str, int]:
    """Text of ``path`` up to its last newline, and that byte length."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].decode("utf-8"), end


def read_runs(out_dir: str | Path) -> pd.DataFrame:
    """Read ``DIR/runs.csv`` into a DataFrame sorted by task.

    A truncated last line (the process was killed mid-write) is ignored; should a task
    appear twice, the first record wins.
    """
    path = Path(out_dir) / RUNS_CSV
    text, _ = _complete_text(path)
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
    _atomic_write_bytes(target, buf.getvalue())
    return target


def _check_existing(csv_path: Path, columns: list[str]) -> tuple[set[int], int, int]:
    """Validate a runs.csv to resume; return recorded task indices and ok/error counts."""
    text, _ = _complete_text(csv_path)
    if not text:
        return set(), 0, 0  # killed while writing the header: start afresh
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != columns:
        raise SweepError(
            f"{csv_path}: its columns do not match this sweep (different parameters or "
            "metrics); choose another --out"
        )
    done: set[int] = set()
    n_ok = n_err = 0
    status_col = columns.index("status")
    for row in reader:
        if len(row) != len(columns):
            raise SweepError(f"{csv_path}: malformed line {reader.line_num}; cannot resume safely")
        task = int(row[0])
        if task not in done:
            done.add(task)
            n_ok += row[status_col] == "ok"
            n_err += row[status_col] != "ok"
    return done, n_ok, n_err


# -------------------------------------------------------------------------------- runner


class _Runner:
    """Submit tasks through a bounded window, record results, retry dead workers.

    Dead local workers: a ``ProcessPoolExecutor`` whose worker dies is broken for good
    and fails every in-flight future with ``BrokenProcessPool``, without saying which
    task killed it. Each in-flight task is charged an attempt and then re-run alone
    ("quarantine") in a fresh pool, so that a repeat death is pinned on the right task
    and innocent neighbours lose at most one attempt.
    """

    def __init__(
        self,
        spec: SweepSpec,
        design: Design,
        executor: Executor,
        stack: contextlib.ExitStack,
        fh: io.TextIOBase,
        bar: Any,
    ) -> None:
        self.spec = spec
        self.executor = executor
        self.stack = stack
        self.fh = fh
        self.bar = bar
        self.scenario = str(spec.base_path)
        # fixed overrides first, so a swept parameter wins over a fixed one of the same path
        self.points = [{**spec.fixed, **p} for p in design.all_overrides()]
        self.seeds = task_seeds(spec.seed, design.n_points * spec.replications)
        cap = _capacity(executor)
        # A process pool keeps one queued task per worker so no worker idles between
        # tasks; the small window bounds how many tasks a pool breakage disturbs.
        # Dask adds a scheduler round trip per task, so it gets a deeper queue.
        self.window = 2 * cap if isinstance(executor, ProcessPoolExecutor) else max(4 * cap, 32)
        self.todo: deque[int] = deque()
        self.quarantine: deque[int] = deque()
        self.inflight: dict[Future[Any], int] = {}
        self.deaths: dict[int, int] = {}
        self.n_ok = 0
        self.n_failed = 0
        self.fruitless_restarts = 0

    # -- recording
    def _write(
        self, k: int, values: Mapping[str, float], wall_s: float, error: str, attempt: int
    ) -> None:
        point, rep = divmod(k, self.spec.replications)
        params = self.points[point]
        row = [
            k,
            point,
            rep,
            int(self.seeds[k]),
            *(params[p] for p in self.spec.parameter_paths),
            *(values.get(m, "") for m in self.spec.metrics),
            round(wall_s, 6),
            "error" if error else "ok",
            error,
            attempt,
        ]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        # One write of one whole line, then fsync: a kill leaves at most a torn last line.
        self.fh.write(buf.getvalue())
        self.fh.flush()
        os.fsync(self.fh.fileno())
        if error:
            self.n_failed += 1
        else:
            self.n_ok += 1
        self.bar.update(1)
        if error:
            self.bar.set_postfix(failed=self.n_failed, refresh=False)

    # -- scheduling
    def _fill(self) -> bool:
        """Submit as much as the window allows; False if the executor is broken."""
        while True:
            if self.quarantine:
                if self.inflight:
                    return True
                queue = self.quarantine
            elif self.todo and len(self.inflight) < self.window:
                queue = self.todo
            else:
                return True
            k = queue[0]
            point = k // self.spec.replications
            try:
                fut = self.executor.submit(
                    execute_task,
                    self.spec.task,
                    self.scenario,
                    self.points[point],
                    int(self.seeds[k]),
                    list(self.spec.metrics),
                )
            except BrokenExecutor:
                return False
            queue.popleft()
            self.inflight[fut] = k

    def _collect(self, fut: Future[Any]) -> bool:
        """Record one finished future; True if it reports a broken executor."""
        k = self.inflight.pop(fut)
        attempt = self.deaths.get(k, 0) + 1
        try:
            res = fut.result()
        except BrokenExecutor as exc:
            self.deaths[k] = attempt
            if attempt > self.spec.retries:
                msg = f"worker process died in each of {attempt} attempts ({type(exc).__name__})"
                self._write(k, {}, math.nan, msg, attempt)
            else:
                self.quarantine.append(k)
            return True
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                # Dask already retried it allowed-failures times on fresh workers.
                msg = _one_line(
                    f"dask worker died while running this task ({type(exc).__name__}: {exc})"
                )
                self._write(k, {}, math.nan, msg, self.spec.retries + 1)
                return False
            # Anything else is the infrastructure failing (lost scheduler, pickling):
            # stop without recording, so that --resume runs these tasks again.
            raise SweepError(f"task {k} could not be run: {type(exc).__name__}: {exc}") from exc
        self._write(k, res["values"], res["wall_s"], res["error"], attempt)
        return False

    def _replace_executor(self, charged: int) -> None:
        old = self.executor
        if not isinstance(old, ProcessPoolExecutor):
            raise SweepError(f"the executor broke and cannot be recreated ({type(old).__name__})")
        # Every breakage that charges a task an attempt uses up a finite retry budget, so
        # only breakages charging nobody (a pool that cannot even start) could loop forever.
        self.fruitless_restarts = 0 if charged else self.fruitless_restarts + 1
        if self.fruitless_restarts > 3:
            raise SweepError("the process pool keeps breaking before running any task")
        new = ProcessPoolExecutor(
            max_workers=old._max_workers,  # type: ignore[attr-defined]
            mp_context=old._mp_context,  # type: ignore[attr-defined]
        )
        old.shutdown(wait=False, cancel_futures=True)
        self.stack.callback(new.shutdown, wait=False, cancel_futures=True)
        self.executor = new

    def run(self, todo: list[int]) -> None:
        self.todo.extend(todo)
        try:
            while self.todo or self.quarantine or self.inflight:
                broken = not self._fill()
                charged = 0  # tasks charged an attempt by a pool breakage this round
                if self.inflight and not broken:
                    finished, _ = wait(self.inflight, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        hit = self._collect(fut)
                        broken |= hit
                        charged += hit
                if broken:
                    # A broken pool fails all its futures promptly; gather them first.
                    finished, _ = wait(list(self.inflight))
                    for fut in finished:
                        charged += self._collect(fut)
                    self._replace_executor(charged)
        finally:
            for fut in self.inflight:
                fut.cancel()


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
    columns = record["columns"]
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
        done, n_ok, n_err = _check_existing(csv_path, columns)
        if done and max(done) >= record["n_tasks"]:
            raise SweepError(
                f"{csv_path}: task {max(done)} is not in this sweep; choose another --out"
            )
    return design, record, done, n_ok, n_err


def check_sweep(spec: SweepSpec, out_dir: str | Path, resume: bool = False) -> None:
    """Raise :class:`SweepError` if :func:`run_sweep` would refuse to start; writes nothing."""
    _prepare(spec, Path(out_dir), resume)


def run_sweep(
    spec: SweepSpec | str | Path,
    out_dir: str | Path,
    executor: Executor | None = None,
    resume: bool = False,
    progress: bool = True,
    workers: int | None = None,
) -> SweepSummary:
    """Run (or resume) a sweep, writing results into ``out_dir``.

    ``executor``: any ``concurrent.futures.Executor`` (local pool, Dask's
    ``Client.get_executor()``, a thread pool for cheap tasks); default: a process pool
    of ``workers`` processes made by :func:`make_executor`. ``resume`` skips tasks
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
        _atomic_write_bytes(out / SWEEP_JSON, json.dumps(record, indent=1).encode())
    header_needed = True
    if csv_path.is_file():
        # Drop a torn last line left by a kill so the next append starts a fresh line.
        _, end = _complete_text(csv_path)
        os.truncate(csv_path, end)
        header_needed = end == 0
    todo = np.setdiff1d(np.arange(n_tasks), np.fromiter(done, dtype=np.int64, count=len(done)))

    with contextlib.ExitStack() as stack:
        if executor is None:
            task_module = spec.task.partition(":")[0]
            executor = stack.enter_context(
                make_executor(workers=workers, retries=spec.retries, preload=(task_module,))
            )
        fh = stack.enter_context(csv_path.open("a", encoding="utf-8", newline=""))
        if header_needed:
            fh.write(",".join(_csv_field(c) for c in record["columns"]) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
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
        runner = _Runner(spec, design, executor, stack, fh, bar)
        try:
            runner.run(todo.tolist())
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
        n_ok=n_ok_before + runner.n_ok,
        n_failed=n_err_before + runner.n_failed,
        n_resumed=len(done),
        wall_s=time.perf_counter() - t0,
    )
    print(
        f"sweep {spec.name}: {summary.n_ok} done, {summary.n_failed} failed, {summary.wall_s:.1f} s"
    )
    return summary


def _csv_field(text: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([text])
    return buf.getvalue()
