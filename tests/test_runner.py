"""The experiment runner and its record, without the simulator (milliseconds)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from analysis.experiments.record import Record
from analysis.experiments.runner import Outcome, Pool, RunnerError, Task, _Runner, run_tasks


def _square(x: int) -> int:
    if x < 0:
        raise ValueError(f"x={x} is negative\nsecond line")
    return x * x


def test_outcomes_values_and_task_errors() -> None:
    got: dict[Any, Outcome] = {}
    with ThreadPoolExecutor(2) as pool:
        tasks = [Task(x, _square, (x,)) for x in (-1, 0, 1, 2, 3)]
        run_tasks(pool, tasks, lambda t, o: got.__setitem__(t.key, o))
    assert {k: o.value for k, o in got.items() if o.ok} == {0: 0, 1: 1, 2: 4, 3: 9}
    assert got[-1].error == "ValueError: x=-1 is negative second line"
    assert got[-1].value is None and got[-1].attempt == 1


def test_what_on_outcome_raises_stops_the_run() -> None:
    def stop(task: Task, outcome: Outcome) -> None:
        raise RunnerError(f"stop at {task.key}")

    with ThreadPoolExecutor(1) as pool, pytest.raises(RunnerError, match="stop at"):
        run_tasks(pool, [Task(x, _square, (x,)) for x in range(5)], stop)


class _Held(Pool):
    """A pool whose futures never finish: shows what the runner keeps in flight."""

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        return Future()

    def window(self) -> int:
        return 4


def test_a_quarantined_task_runs_alone() -> None:
    runner = _Runner(_Held(), lambda t, o: None, retries=2, bar=None)
    runner.todo.extend(Task(k, _square, (k,)) for k in range(6))
    runner.quarantine.extend(Task(k, _square, (k,)) for k in (10, 11))
    assert runner._fill()
    assert [t.key for t in runner.inflight.values()] == [10]
    runner.inflight.clear()
    assert runner._fill()
    # the last quarantined task too: nothing from the queue is submitted with it
    assert [t.key for t in runner.inflight.values()] == [11]
    runner.inflight.clear()
    assert runner._fill()
    assert [t.key for t in runner.inflight.values()] == [0, 1, 2, 3]


def test_record_appends_whole_lines_and_drops_a_torn_one(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    record = Record(path, ["key", "value"], "test")
    assert record.rows() == []
    with record:
        record.append(["a", 1.5])
        record.append(["b, with a comma", ""])
    with path.open("a") as fh:
        fh.write("c,2.")  # killed mid-write
    assert record.rows() == [["a", "1.5"], ["b, with a comma", ""]]
    with record:
        record.append(["c", 2.5])
    assert path.read_text() == 'key,value\na,1.5\n"b, with a comma",\nc,2.5\n'
    with pytest.raises(RunnerError, match="columns do not match this test"):
        Record(path, ["key", "other"], "test").rows()


@pytest.mark.parametrize("cluster", [None, "local"])
def test_experiment_workers_run_one_numba_thread(cluster: str | None) -> None:
    """Workers already fill the cores, so each runs its compiled kernels on one thread."""
    from analysis.experiments.protocol import run_named_task
    from analysis.experiments.runner import make_executor

    task = "analysis.experiments.testfuncs:numba_threads_task"
    with make_executor(workers=2, cluster=cluster, preload=("numba",)) as pool:
        futures = [pool.submit(run_named_task, task, "", {}, k, ["threads"]) for k in range(4)]
        assert [pool.result(f)["threads"] for f in futures] == [1.0] * 4
