"""The MSM objective, and what one evaluation of it runs.

**Objective.** ``J(theta) = sum_k w_k ((m_k(theta) - r_k) / s_k)^2`` with ``m_k`` the mean of
target ``k`` over the replications, ``r_k`` its real value, ``w_k`` its weight and ``s_k`` its
``scale`` (default: its tolerance, so J counts squared tolerances).

**Common random numbers.** Replication ``j`` runs with seed ``task_seeds(seed,
replications)[j]`` (child ``j`` of ``numpy.random.SeedSequence(seed)``) at *every*
evaluation, and the means are taken in replication order, so J is a deterministic function of
theta: two evaluations differ only through their parameters, and the optimiser is not chasing
noise.

An evaluation of theta runs every scenario of the calibration (a :class:`Plan`: the base, and
the other scenarios of targets) once per replication seed; each such run is one task of the
experiment runner, named by :func:`task_key`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.calibration.spec import BASE, CalibrationSpec, Target, scenario_groups

__all__ = [
    "FAILED_OBJECTIVE",
    "RUN_TASK",
    "STYLIZED_TASK",
    "Evaluation",
    "Plan",
    "contributions",
    "objective",
    "plans",
    "task_key",
]

#: Objective given to an evaluation whose simulation failed (the optimiser then avoids it).
FAILED_OBJECTIVE = 1e12
RUN_TASK = "analysis.experiments.tasks:evaluate"
STYLIZED_TASK = "analysis.experiments.tasks:simulate_metrics"


def contributions(sim_means: Mapping[str, float], targets: Sequence[Target]) -> dict[str, float]:
    """Each target's term ``w_k ((m_k - r_k) / s_k)^2`` of the objective (NaN if missing)."""
    out = {}
    for t in targets:
        m = float(sim_means.get(t.label, math.nan))
        out[t.label] = t.weight * ((m - t.value) / t.s) ** 2
    return out


def objective(sim_means: Mapping[str, float], targets: Sequence[Target]) -> float:
    """MSM objective ``J = sum_k w_k ((m_k - r_k) / s_k)^2`` (dimensionless).

    ``sim_means`` maps each target's :attr:`Target.label` to the mean over replications of
    its simulated value. A missing or non-finite value gives :data:`FAILED_OBJECTIVE`.
    """
    terms = contributions(sim_means, targets)
    total = math.fsum(terms.values())
    return total if math.isfinite(total) else FAILED_OBJECTIVE


def task_key(
    task: str, scenario: str, overrides: Mapping[str, Any], seed: int, metrics: Sequence[str]
) -> str:
    """Deterministic name of a run: a hash of (task, scenario, overrides, seed, metrics).

    ``scenario`` is the frozen copy's name inside the calibration folder, so the keys do not
    depend on where the folder is. Equal keys are the same simulation (common random numbers):
    a calibration runs each key once and, resumed, takes recorded keys from its record.
    """
    text = json.dumps(
        [task, scenario, dict(overrides), int(seed), list(metrics)],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Plan:
    """One scenario that every evaluation runs ``replications`` times."""

    key: str  # BASE or the scenario as written in the spec
    path: str  # absolute path of the file the runs read
    name: str  # its frozen copy inside the calibration folder, e.g. scenarios/tiny_week.yaml
    overrides: dict[str, Any]
    parameters: tuple[int, ...]  # indices of the spec parameters applied to it
    labels: tuple[str, ...]  # target/validation labels it provides
    metrics: tuple[str, ...]  # task metric names, aligned with labels
    task: str
    fit: bool  # True: run at every evaluation; False: validation only, run once at the end

    def run_overrides(self, spec: CalibrationSpec, values: Mapping[str, float]) -> dict[str, Any]:
        """The plan's overrides with the parameter ``values`` it takes."""
        paths = spec.parameter_paths
        return {**self.overrides, **{paths[i]: values[paths[i]] for i in self.parameters}}


def plans(spec: CalibrationSpec) -> list[Plan]:
    """The scenarios of ``spec`` (base first), reading the source files."""
    out: list[Plan] = []
    used: set[str] = set()
    for key, over, items in scenario_groups(spec):
        if not items and key != BASE:
            continue
        path = spec.resolve(spec.base if key == BASE else key)
        name, k = f"scenarios/{path.stem}.yaml", 1
        while name in used:
            k += 1
            name = f"scenarios/{path.stem}_{k}.yaml"
        used.add(name)
        stylized = any(t.statistic for _, _, t in items)
        out.append(
            Plan(
                key=key,
                path=str(path),
                name=name,
                overrides=over,
                parameters=tuple(
                    i for i, p in enumerate(spec.parameters) if p.apply_to == "all" or key == BASE
                ),
                labels=tuple(t.label for _, _, t in items),
                metrics=tuple(t.key for _, _, t in items),
                task=spec.task or (STYLIZED_TASK if stylized else RUN_TASK),
                fit=any(sec == "targets" for sec, _, _ in items),
            )
        )
    return out


def task_module(spec: CalibrationSpec) -> str:
    """The module of the calibration's tasks (for a local pool to preload)."""
    return (spec.task or RUN_TASK).partition(":")[0]


def frozen_plans(plans: Sequence[Plan], folder: Path) -> list[Plan]:
    """``plans`` reading their frozen copies in ``folder`` instead of the source files."""
    from dataclasses import replace

    return [replace(p, path=str((folder / p.name).resolve())) for p in plans]


@dataclass
class Evaluation:
    """One parameter vector: its runs' values and, once complete, its objective.

    ``runs[label][j]`` is replication ``j``'s value (None until it arrives, or if that run
    failed); ``errors[(plan, j)]`` the failures. Both are kept in replication order, so means
    and the first error do not depend on the order runs finish in.
    """

    index: int
    generation: int | str
    unit: np.ndarray
    values: dict[str, float]  # parameter path -> value
    n_tasks: int
    fit: bool = True  # False: validation-only scenarios, no objective
    runs: dict[str, list[float | None]] = field(default_factory=dict)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    wall_s: float = 0.0
    done: int = 0
    objective: float = math.nan

    def values_by_label(self) -> dict[str, list[float]]:
        """Per label, the values of the runs that succeeded, in replication order."""
        out = {k: [v for v in vs if v is not None] for k, vs in self.runs.items()}
        return {k: vs for k, vs in out.items() if vs}

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in self.values_by_label().items()}

    @property
    def first_error(self) -> str:
        return self.errors[min(self.errors)] if self.errors else ""
