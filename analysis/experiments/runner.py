"""The experiment runner: tasks on a local process pool or a Dask cluster, dead workers retried.

Sweeps, calibrations, ensembles and validations all run their simulations here. A task is a
top-level function and its arguments (:class:`Task`); :func:`run_tasks` submits tasks through a
bounded window, hands each :class:`Outcome` to the caller as soon as it finishes (the caller
records it, e.g. in an append-only :class:`~analysis.experiments.record.Record`), and deals
with workers that die:

- a task that raises is an outcome with an ``error`` (caught in the worker by :func:`call`),
  never a crash of the experiment;
- a dead local worker (segfault, OOM killer) breaks a ``ProcessPoolExecutor`` for good and
  fails every in-flight task without saying which one killed it. Each in-flight task is
  charged an attempt and re-run alone ("quarantine") in a fresh pool, so that a repeat death
  is pinned on the right task and innocent neighbours lose at most one attempt; a task that
  dies more than ``retries`` times is an outcome with an error;
- on Dask the scheduler reschedules a task whose worker died (``allowed-failures``, set to
  ``retries`` by :func:`make_executor`) and then fails it with ``KilledWorker``: an outcome
  with an error;
- anything else (a lost scheduler, an unpicklable argument) is the infrastructure failing:
  :class:`RunnerError`, with nothing recorded for the unfinished tasks, so that a resumed
  experiment runs them again.

Pools (:func:`make_executor`): a local ``ProcessPoolExecutor`` started with ``forkserver``, or
a Dask ``Client`` used through its public API (``Client.submit``, ``Future.add_done_callback``,
``Future.result``, ``Client.nthreads``); any other ``concurrent.futures.Executor`` (e.g. a thread pool for cheap
tasks) is accepted as is.

Workers do not outlive their driver: every worker of a local pool or of a Dask
``LocalCluster`` watches the process that started the experiment (:func:`watch_driver`) and
exits within about a second once it is gone, ``kill -9`` included. (A local pool's workers are
children of the fork server, which itself waits for them, so nothing else would stop them.)

One compiled-kernel thread per worker: the workers already run side by side, one per core, so
numba's own threads would only make them wait on each other (:func:`start_worker` and, on a
Dask ``LocalCluster``, ``NUMBA_NUM_THREADS=1`` in the workers' environment). Results do not
depend on the number of threads (the kernels' chunks are fixed; ``tests/sim/test_threads.py``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    InvalidStateError,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DaskPool",
    "LocalPool",
    "Outcome",
    "Pool",
    "RunnerError",
    "Task",
    "as_pool",
    "call",
    "make_executor",
    "one_line",
    "run_tasks",
    "start_worker",
    "watch_driver",
]

_MAX_ERROR_CHARS = 2000


class RunnerError(RuntimeError):
    """Tasks cannot be run (a lost cluster, a pool that keeps breaking, a bad record)."""


# ----------------------------------------------------------------------------- worker side


def one_line(text: str) -> str:
    """``text`` on one line of at most 2000 characters (it goes into one CSV line)."""
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def call(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a worker; never raises for errors of the task itself.

    Returns ``{"value": fn's result or None, "wall_s": seconds, "error": message or ""}``.
    Exceptions are caught here rather than in the parent so that the parent can tell a
    failing task (an outcome, not retried) from a dead worker (retried).
    """
    t0 = time.perf_counter()
    try:
        value, error = fn(*args), ""
    except Exception as exc:  # any task failure becomes an outcome with an error
        value, error = None, one_line(f"{type(exc).__name__}: {exc}")
    return {"value": value, "wall_s": time.perf_counter() - t0, "error": error}


#: Exit status of a worker that ends because its driver died (128 + SIGHUP: as if hung up).
EXIT_ORPHANED = 129
_watching: list[int] = []


def _proc_stat(pid: int) -> list[bytes] | None:
    """Fields 3.. of ``/proc/PID/stat`` (state first; field 22, the start time, at 19)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: bytes | None) -> bool:
    """Process ``pid`` runs, and is the one that had start time ``started`` (a zombie is dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return started is None  # no /proc here: trust kill(0); /proc readable before: gone
    return stat[0] not in (b"Z", b"X") and (started is None or stat[19] == started)


def watch_driver(pid: int, interval: float = 0.5) -> None:
    """Exit this worker process (``os._exit``) within ``interval`` s once process ``pid`` dies.

    ``pid`` is the experiment's driver. A daemon thread polls it: gone, a zombie, or its pid
    reused by another process (its start time in ``/proc`` changed) all count as dead.
    Started once per process (the initializer of a local pool's workers, the worker plugin of
    a Dask ``LocalCluster``: see :func:`make_executor`).
    """
    if _watching:
        return
    _watching.append(pid)
    stat = _proc_stat(pid)
    started = stat[19] if stat is not None and len(stat) > 19 else None

    def watch() -> None:
        while _alive(pid, started):
            time.sleep(interval)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="moatshock-watch-driver", daemon=True).start()


#: numba threads per experiment worker (the workers themselves fill the cores).
WORKER_NUMBA_THREADS = 1


def limit_numba_threads(threads: int = WORKER_NUMBA_THREADS) -> None:
    """Run this process's compiled kernels on at most ``threads`` numba threads.

    numba reads ``NUMBA_NUM_THREADS`` once, at import: if it is not imported yet the
    variable is set; if it is (a fork server that preloaded the simulator), its thread mask
    is narrowed for this (the tasks') thread with ``numba.set_num_threads``.
    """
    if "numba" in sys.modules:
        import numba  # already imported: costs nothing

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    else:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


def start_worker(driver: int, numba_threads: int | None = WORKER_NUMBA_THREADS) -> None:
    """Initialiser of a local pool's workers: watch the driver; ``numba_threads`` numba
    threads (None: numba's default, one per core; only benchmarks ask for it)."""
    watch_driver(driver)
    if numba_threads is not None:
        limit_numba_threads(numba_threads)


# ----------------------------------------------------------------------------------- pools


class Pool:
    """Where tasks run: a ``concurrent.futures.Executor`` the runner may not recreate."""

    def __init__(self, executor: Executor | None = None) -> None:
        self.executor = executor

    def capacity(self) -> int:
        """Tasks that run at once (unknown for a foreign executor: the CPU count)."""
        return os.cpu_count() or 1

    def window(self) -> int:
        """Tasks kept submitted at once; a Dask round trip per task wants a deep queue."""
        return max(4 * self.capacity(), 32)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        assert self.executor is not None
        return self.executor.submit(fn, *args)

    def result(self, fut: Future[Any]) -> Any:
        """The task's return value (raises what running it raised)."""
        return fut.result()

    def cancel(self, fut: Future[Any]) -> None:
        fut.cancel()

    def renew(self) -> None:
        """Replace a broken executor by a fresh one (only a :class:`LocalPool` can)."""
        name = type(self.executor).__name__
        raise RunnerError(f"the executor broke and cannot be recreated ({name})")


class LocalPool(Pool):
    """A local ``ProcessPoolExecutor`` of ``max_workers`` forkserver processes, renewable."""

    def __init__(
        self,
        max_workers: int,
        mp_context: Any,
        numba_threads: int | None = WORKER_NUMBA_THREADS,
    ) -> None:
        self.max_workers = max_workers
        self.mp_context = mp_context
        self.numba_threads = numba_threads
        self.driver = os.getpid()
        super().__init__(self._executor())

    def _executor(self) -> ProcessPoolExecutor:
        # each worker watches the driver (and exits when it dies) and uses one numba thread
        return ProcessPoolExecutor(
            self.max_workers,
            mp_context=self.mp_context,
            initializer=start_worker,
            initargs=(self.driver, self.numba_threads),
        )

    def capacity(self) -> int:
        return self.max_workers

    def window(self) -> int:
        # One queued task per worker so no worker idles between tasks; a small window
        # bounds how many tasks a pool breakage disturbs.
        return 2 * self.max_workers

    def renew(self) -> None:
        old = self.executor
        self.executor = self._executor()
        assert old is not None
        old.shutdown(wait=False, cancel_futures=True)

    def shutdown(self, wait: bool = True) -> None:
        assert self.executor is not None
        self.executor.shutdown(wait=wait, cancel_futures=not wait)


class DaskPool(Pool):
    """A ``dask.distributed.Client``: ``submit(pure=False)``, each future relayed to the runner.

    ``pure=False``: tasks with equal arguments must each run rather than share one key. The
    relay is a ``concurrent.futures.Future``: when the Dask future is done (its done-callback),
    a small thread pool fetches its result (``Future.result``, so that several fetches overlap)
    and resolves the relay with the value or the exception, ``KilledWorker`` included; a result
    lost with its worker is waited for there while it is recomputed.
    """

    def __init__(self, client: Any, fetchers: int = 4) -> None:
        super().__init__(None)
        self.client = client
        self._remote: dict[Future[Any], Any] = {}
        self._fetch = ThreadPoolExecutor(fetchers, thread_name_prefix="dask-relay")

    def capacity(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        remote = self.client.submit(fn, *args, pure=False)
        relay: Future[Any] = Future()
        self._remote[relay] = remote
        remote.add_done_callback(lambda r: self._fetch_later(r, relay))
        return relay

    def _fetch_later(self, remote: Any, relay: Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # closed: nobody waits for the relay any more
            self._fetch.submit(_relay, remote, relay)

    def result(self, fut: Future[Any]) -> Any:
        self._remote.pop(fut, None)
        return fut.result()

    def cancel(self, fut: Future[Any]) -> None:
        fut.cancel()
        remote = self._remote.pop(fut, None)
        if remote is not None:
            remote.cancel()

    def close(self) -> None:
        self._fetch.shutdown(wait=False, cancel_futures=True)


def _relay(remote: Any, relay: Future[Any]) -> None:
    """Resolve ``relay`` with the outcome of the finished Dask future ``remote``."""
    if relay.done():  # cancelled by the runner
        return
    try:
        value = remote.result()
    except BaseException as exc:  # relay everything: task errors, KilledWorker, cancellation
        with contextlib.suppress(InvalidStateError):
            relay.set_exception(exc)
    else:
        with contextlib.suppress(InvalidStateError):
            relay.set_result(value)


def as_pool(executor: Pool | Executor) -> Pool:
    """``executor`` as a :class:`Pool` (a foreign ``Executor`` is wrapped, never recreated)."""
    if isinstance(executor, Pool):
        return executor
    if isinstance(executor, Executor):
        return Pool(executor)
    raise TypeError(f"expected a Pool or a concurrent.futures.Executor, got {executor!r}")


@contextlib.contextmanager
def make_executor(
    workers: int | None = None,
    cluster: str | None = None,
    scheduler: str | None = None,
    retries: int = 2,
    preload: tuple[str, ...] = (),
    numba_threads: int | None = WORKER_NUMBA_THREADS,
) -> Iterator[Pool]:
    """Context manager yielding a :class:`Pool` for the runner, cleaned up on exit.

    - default: a :class:`LocalPool` of ``workers`` processes (default: CPU count), started
      with the ``forkserver`` method so that it is safe in programs that already run threads
      (a plain fork could copy a held lock into the child). ``preload`` modules (e.g. the
      task's) are imported once in the fork server, so workers, including replacements for
      dead ones, start without re-importing them.
    - ``cluster="local"``: a ``dask.distributed.LocalCluster`` of ``workers`` (default 2)
      single-threaded worker processes; the scheduler's ``allowed-failures`` is set to
      ``retries`` so that a task whose worker dies is rescheduled that many times. Its
      scheduler and nannies run in this process; its workers watch it (a worker plugin) and
      exit when it dies.
    - ``numba_threads``: compiled-kernel threads per worker of a local pool or local cluster
      (default 1: the workers already fill the cores; None leaves numba's default).
    - ``scheduler="tcp://host:8786"``: a ``Client`` on an existing cluster; its
      ``allowed-failures`` is whatever that scheduler was started with. Tasks that read or
      write files (scenarios, output folders) need a file system the workers share.
    """
    if cluster is not None and scheduler is not None:
        raise ValueError("give either cluster or scheduler, not both")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if cluster is None and scheduler is None:
        ctx = multiprocessing.get_context("forkserver")
        # Only takes effect if the fork server is not running yet (once per process).
        ctx.set_forkserver_preload(
            ["analysis.experiments.runner", "analysis.experiments.protocol", *preload]
        )
        pool = LocalPool(workers or os.cpu_count() or 1, ctx, numba_threads)
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False)
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
                    # set before the worker imports numba (Dask runs tasks in a thread
                    # of its own, which numba.set_num_threads in a plugin would miss)
                    env={} if numba_threads is None else {"NUMBA_NUM_THREADS": str(numba_threads)},
                )
            stack.callback(lc.close)
            client = Client(lc)
            stack.callback(client.close)
            from analysis.experiments.dask_watch import WatchDriver

            client.register_plugin(WatchDriver(os.getpid()))
        else:
            client = Client(scheduler)
            stack.callback(client.close)
        pool = DaskPool(client)
        stack.callback(pool.close)
        yield pool


# ---------------------------------------------------------------------------------- runner


@dataclass(frozen=True)
class Task:
    """``fn(*args)`` to run in a worker; ``key`` names it (unique within one run)."""

    key: Hashable
    fn: Callable[..., Any]
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Outcome:
    """How a task ended: ``value`` (None on error), seconds, error message, attempt number."""

    value: Any
    wall_s: float
    error: str
    attempt: int

    @property
    def ok(self) -> bool:
        return not self.error


def run_tasks(
    pool: Pool | Executor,
    tasks: Iterable[Task],
    on_outcome: Callable[[Task, Outcome], None],
    retries: int = 2,
    bar: Any = None,
) -> None:
    """Run ``tasks`` on ``pool``; call ``on_outcome(task, outcome)`` as each one finishes.

    ``retries``: re-runs of a task whose local worker died. ``bar``: a tqdm bar advanced by
    one per outcome. Raises :class:`RunnerError` if the infrastructure fails; whatever
    ``on_outcome`` raises stops the run. Unfinished tasks are cancelled either way.
    """
    _Runner(as_pool(pool), on_outcome, retries, bar).run(tasks)


class _Runner:
    """Submit tasks through a bounded window, hand out outcomes, retry dead workers."""

    def __init__(
        self,
        pool: Pool,
        on_outcome: Callable[[Task, Outcome], None],
        retries: int,
        bar: Any,
    ) -> None:
        self.pool = pool
        self.on_outcome = on_outcome
        self.retries = retries
        self.bar = bar
        self.window = pool.window()
        self.todo: deque[Task] = deque()
        self.quarantine: deque[Task] = deque()
        self.inflight: dict[Future[Any], Task] = {}
        self.deaths: dict[Hashable, int] = {}
        self.n_failed = 0
        self.fruitless_renewals = 0

    def _finish(self, task: Task, outcome: Outcome) -> None:
        self.on_outcome(task, outcome)
        if self.bar is not None:
            self.bar.update(1)
            if not outcome.ok:
                self.n_failed += 1
                self.bar.set_postfix(failed=self.n_failed, refresh=False)

    def _fill(self) -> bool:
        """Submit as much as the window allows; False if the pool is broken.

        A quarantined task runs alone: nothing else in flight and nothing submitted with it
        (not even the next tasks once the quarantine is empty), so that a death while it runs
        is its own and an innocent task is charged at most one attempt.
        """
        if self.quarantine:
            return bool(self.inflight) or self._submit(self.quarantine)
        while self.todo and len(self.inflight) < self.window:
            if not self._submit(self.todo):
                return False
        return True

    def _submit(self, queue: deque[Task]) -> bool:
        task = queue[0]
        try:
            fut = self.pool.submit(call, task.fn, *task.args)
        except BrokenExecutor:
            return False
        queue.popleft()
        self.inflight[fut] = task
        return True

    def _collect(self, fut: Future[Any]) -> bool:
        """Hand out one finished future's outcome; True if it reports a broken pool."""
        task = self.inflight.pop(fut)
        attempt = self.deaths.get(task.key, 0) + 1
        try:
            res = self.pool.result(fut)
        except BrokenExecutor as exc:
            self.deaths[task.key] = attempt
            if attempt > self.retries:
                msg = f"worker process died in each of {attempt} attempts ({type(exc).__name__})"
                self._finish(task, Outcome(None, math.nan, msg, attempt))
            else:
                self.quarantine.append(task)
            return True
        except Exception as exc:  # KilledWorker, or the infrastructure failing
            if type(exc).__name__ == "KilledWorker":
                # Dask already retried it allowed-failures times on fresh workers.
                msg = one_line(
                    f"dask worker died while running this task ({type(exc).__name__}: {exc})"
                )
                self._finish(task, Outcome(None, math.nan, msg, self.retries + 1))
                return False
            raise RunnerError(
                f"task {task.key} could not be run: {type(exc).__name__}: {exc}"
            ) from exc
        self._finish(task, Outcome(res["value"], res["wall_s"], res["error"], attempt))
        return False

    def _renew(self, charged: int) -> None:
        # Every breakage that charges a task an attempt uses up a finite retry budget, so
        # only breakages charging nobody (a pool that cannot even start) could loop forever.
        self.fruitless_renewals = 0 if charged else self.fruitless_renewals + 1
        if self.fruitless_renewals > 3:
            raise RunnerError("the process pool keeps breaking before running any task")
        self.pool.renew()

    def run(self, tasks: Iterable[Task]) -> None:
        self.todo.extend(tasks)
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
                    self._renew(charged)
        finally:
            for fut in self.inflight:
                self.pool.cancel(fut)
