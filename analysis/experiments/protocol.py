"""The task protocol of sweeps and calibrations: named, checked, seeded.

A task is any importable function ``task(scenario, overrides, seed, metrics) -> {metric:
value}``; experiment files name it as ``"package.module:function"`` (:func:`resolve_task`;
the standard ones are in :mod:`analysis.experiments.tasks`). The runner calls
:func:`run_named_task` in a worker, which checks that every metric was answered. Task ``k`` of
an experiment runs with seed ``task_seeds(seed, n)[k]``.

A task may carry an up-front check of its inputs (:func:`with_input_check`): the standard
tasks refuse, before the first run, overrides the scenario refuses and metrics they cannot
compute (:class:`TaskInputError`), so that a typo fails at once instead of in every run. A
task without one (a stand-in, a user's own) gets no check: its runs report their errors.

This module imports nothing heavy, so that a worker process (including a replacement for a
dead one) starts fast; the task's own module is imported when the task is resolved.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = [
    "RENAMED_TASKS",
    "InputCheck",
    "TaskInputError",
    "input_check",
    "resolve_task",
    "run_named_task",
    "task_seeds",
    "with_input_check",
]

#: Task names of earlier versions, still accepted (with a warning) in experiment files.
RENAMED_TASKS = {
    "sim.api:evaluate": "analysis.experiments.tasks:evaluate",
    "analysis.calibration:simulate_metrics": "analysis.experiments.tasks:simulate_metrics",
    "analysis.calibration.engine:simulate_metrics": "analysis.experiments.tasks:simulate_metrics",
}


class TaskInputError(ValueError):
    """Inputs a task refuses before any run: ``where`` (``fixed``, ``metrics.1``, ``point 3
    (a = 1, b = 2)``) and ``why``, on one line."""

    def __init__(self, where: str, why: str) -> None:
        self.where = where
        self.why = " ".join(str(why).split())
        super().__init__(f"{where}: {self.why}")


class InputCheck(Protocol):
    """``check(scenario, fixed, points, metrics)``: raise :class:`TaskInputError` for the first
    input the task would fail on; ``fixed`` overrides apply to every point, a point's own
    values win (each run gets ``{**fixed, **point}``)."""

    def __call__(
        self,
        scenario: str,
        fixed: Mapping[str, object],
        points: Sequence[Mapping[str, object]],
        metrics: Sequence[str],
    ) -> None: ...


def with_input_check(check: InputCheck) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: ``check`` is the up-front check of the decorated task's inputs."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.check_inputs = check  # type: ignore[attr-defined]
        return fn

    return mark


def input_check(fn: Callable[..., Any]) -> InputCheck | None:
    """The up-front input check of task ``fn`` (see :func:`with_input_check`), if it has one."""
    return getattr(fn, "check_inputs", None)


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


def run_named_task(
    task: str, scenario: str, overrides: Mapping[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Run task ``task`` (a name for :func:`resolve_task`) and check it answered every metric."""
    result = resolve_task(task)(scenario, dict(overrides), int(seed), list(metrics))
    if not isinstance(result, Mapping):
        raise TypeError(f"task returned {type(result).__name__}, expected a mapping of metrics")
    missing = [m for m in metrics if m not in result]
    if missing:
        raise KeyError(f"task returned no value for metric(s): {', '.join(missing)}")
    return {m: float(result[m]) for m in metrics}


def task_seeds(seed: int, n_tasks: int) -> np.ndarray:
    """Seeds of tasks ``0..n_tasks-1``: child ``k`` of ``SeedSequence(seed)``, as a 63-bit int.

    Child ``k`` of ``spawn(n)`` depends only on ``seed`` and ``k``, so a task's seed does
    not depend on the executor, the completion order or how many tasks were resumed.
    """
    children = np.random.SeedSequence(seed).spawn(n_tasks)
    out = np.fromiter(
        (c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1) for c in children),
        dtype=np.uint64,
        count=n_tasks,
    )
    return out.astype(np.int64)
