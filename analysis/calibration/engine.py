"""Calibration by the method of simulated moments (MSM), on the sweep executors.

A calibration file (YAML) names a base scenario, the real facts to match ("targets"),
untargeted facts to report ("validation"), the parameters to fit and their bounds::

    name: deepseek_msm
    base: ../deepseek_2025.yaml              # relative to this file
    overrides: {population.size: 2000}        # applied to the base at every evaluation
    targets:
      - {metric: "shock_return:NVDA", value: -16.97, weight: 2, tolerance: 3}
      - {metric: "daily_returns:NVDA", statistic: excess_kurtosis, value: 4.1,
         tolerance: 2, scenario: ../calm_2024.yaml}
    validation:
      - {metric: "group_return:sp500_like", value: -1.46, tolerance: 1}
    parameters:
      - {path: news.viral_cost_claim.credibility, low: 0.2, high: 3.0, scale: log, apply_to: base}
      - {path: population.cohorts.fundamental.risk_aversion, low: 0.5, high: 6.0}
    replications: 5                 # common random numbers: the same 5 seeds everywhere
    holdout_replications: 4         # final check of the fit on 4 fresh seeds
    seed: 20250127
    optimizer: {method: differential_evolution, maxiter: 3, popsize: 2, tol: 0.01}

**Targets.** A target is either a run metric of :mod:`analysis.metrics`
(``shock_return:T`` %, ``volume_multiple:T``, ``group_return:G`` %, ...), or, when it
has a ``statistic``, a stylized statistic (a key of :func:`analysis.validation.stylized.summary`:
``daily_volatility``, ``excess_kurtosis``, ``acf_returns_lag1``, ...) of the simulated
daily log returns named by ``metric: daily_returns:X`` (X a ticker or an index of that
scenario). ``scenario`` (relative to the calibration file; default: the base) lets a
target come from another scenario, e.g. a calm period; ``scenario_overrides`` gives
that scenario's own overrides (the top-level ``overrides`` apply to the base only).
``tolerance`` is absolute, in the metric's unit; a fact is "within" when
``|simulated mean - real| <= tolerance``.

**Objective.** ``J(theta) = sum_k w_k ((m_k(theta) - r_k) / s_k)^2`` with ``m_k`` the
mean of target ``k`` over the replications, ``r_k`` its real value, ``w_k`` its weight
and ``s_k`` its ``scale`` (default: its tolerance, so J counts squared tolerances).

**Common random numbers.** Replication ``j`` runs with seed ``task_seeds(seed,
replications)[j]`` (child ``j`` of ``numpy.random.SeedSequence(seed)``) at *every*
evaluation, so J is a deterministic function of theta: two evaluations differ only
through their parameters, and the optimiser is not chasing noise.

**Optimiser.** :func:`scipy.optimize.differential_evolution` over the unit cube
(parameters with ``scale: log`` are searched in log space) with ``updating="deferred"``
and ``workers=`` a map that sends every (parameter vector, scenario, replication) of a
generation as one task to a :func:`analysis.experiments.sweep.make_executor` executor (local process
pool or Dask). With ``include_base: true`` the base scenario's own values are one member
of the initial population, so the fit can only improve on them (in J).

**Acceptance.** An optional ``acceptance:`` block lists hard requirements on the base
scenario *as shipped* (no calibration ``overrides``: its own population, calendar and seed,
and medians over ``acceptance.seeds``). After the optimiser stops, evaluations are re-run in
order of J and the fit is the best one that passes every check (see :class:`Acceptance`).

Output directory::

    DIR/calibration.json       resolved spec, seeds, code commit (written at start)
    DIR/scenarios/*.yaml       frozen, resolved copies of the scenarios the runs read
    DIR/evaluations.csv        one line per evaluation, appended + fsync'ed as it finishes
    DIR/trace.csv              best objective so far after each generation
    DIR/fitted.json            fitted parameters, objective, every target sim vs real
    DIR/fitted_scenario.yaml   ``extends:`` the base and sets the fitted values
    DIR/report.md              targets and out-of-sample facts, misses flagged
    DIR/trace.png              objective vs generation
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import io
import json
import math
import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from tqdm.auto import tqdm

from analysis.experiments.designs import format_validation_error, task_seeds
from analysis.experiments.sweep import execute_task, make_executor
from analysis.metrics import check_metric, compute_metric, daily_log_returns
from analysis.validation.stylized import STATISTICS, statistic
from sim.scenario import yaml_error_text

__all__ = [
    "EVALUATIONS_CSV",
    "Acceptance",
    "AcceptanceCheck",
    "FAILED_OBJECTIVE",
    "CalibrationError",
    "CalibrationParameter",
    "CalibrationResult",
    "CalibrationSpec",
    "OptimizerConfig",
    "Target",
    "check_output_dir",
    "contributions",
    "load_calibration",
    "objective",
    "parse_calibration",
    "read_evaluations",
    "run_calibration",
    "simulate_metrics",
]

EVALUATIONS_CSV = "evaluations.csv"
TRACE_CSV = "trace.csv"
OUTPUT_FILES = (
    "calibration.json",
    EVALUATIONS_CSV,
    TRACE_CSV,
    "fitted.json",
    "fitted_scenario.yaml",
    "report.md",
    "trace.png",
)
#: Objective given to an evaluation whose simulation failed (the optimiser then avoids it).
FAILED_OBJECTIVE = 1e12
RUN_TASK = "analysis.experiments.tasks:evaluate"
STYLIZED_TASK = "analysis.calibration.engine:simulate_metrics"
_BASE = "base"


class CalibrationError(RuntimeError):
    """A calibration cannot start or go on; the message is one line naming file and field.

    A ``RuntimeError`` (like :class:`analysis.experiments.sweep.SweepError`) rather than a ``ValueError``
    because scipy's optimiser turns a ``ValueError`` raised in its map into a misleading
    message of its own.
    """


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------- spec


class Target(_Strict):
    """One real fact: a run metric, or a stylized statistic of simulated daily returns."""

    metric: str = Field(min_length=3, description="analysis.metrics name, or daily_returns:X")
    value: float = Field(description="the real value, in the metric's unit")
    tolerance: float = Field(gt=0, description="acceptable |sim - real|, metric's unit")
    weight: float = Field(1.0, ge=0, description="w_k in the objective (ignored in validation)")
    scale: float | None = Field(None, gt=0, description="s_k in the objective; default tolerance")
    statistic: str | None = Field(
        None,
        description="stylized statistic (analysis.validation.stylized.STATISTICS) of the "
        "daily log returns named by metric",
    )
    scenario: str | None = Field(None, description="other scenario file, relative to the spec")
    name: str | None = Field(None, description="column name in the outputs; default derived")
    source: str = Field("", description="where the real value comes from")

    @model_validator(mode="after")
    def _check(self) -> Target:
        if not math.isfinite(self.value):
            raise ValueError("value must be finite")
        kind, _, arg = self.metric.partition(":")
        if self.statistic is not None and self.statistic not in STATISTICS:
            raise ValueError(
                f"statistic: unknown {self.statistic!r} (one of {', '.join(STATISTICS)})"
            )
        if self.statistic is not None and kind != "daily_returns":
            raise ValueError(
                f"metric: with a statistic, metric must be daily_returns:TICKER_OR_INDEX "
                f"(got {self.metric!r})"
            )
        if self.statistic is None and kind == "daily_returns":
            raise ValueError(
                f"statistic: required with metric {self.metric!r} (one of {', '.join(STATISTICS)})"
            )
        if not arg:
            raise ValueError(f"metric: expected NAME:ARGUMENT, got {self.metric!r}")
        return self

    @property
    def key(self) -> str:
        """What the task computes: the metric, or ``statistic(daily_returns:X)``."""
        return f"{self.statistic}({self.metric})" if self.statistic else self.metric

    @property
    def label(self) -> str:
        """Unique name in evaluations.csv, fitted.json and the report."""
        if self.name:
            return self.name
        return self.key if self.scenario is None else f"{self.key}@{Path(self.scenario).stem}"

    @property
    def s(self) -> float:
        """Scale s_k of the objective."""
        return self.scale if self.scale is not None else self.tolerance


class CalibrationParameter(_Strict):
    """A parameter to fit: a dotted scenario path searched on ``[low, high]``."""

    path: str = Field(
        min_length=1, description="dotted override path, e.g. news.viral_cost_claim.credibility"
    )
    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    apply_to: Literal["all", "base"] = Field(
        "all", description="set it in every scenario, or only in the base (e.g. news.* paths)"
    )

    @model_validator(mode="after")
    def _bounds(self) -> CalibrationParameter:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"log scale needs low > 0 (got {self.low})")
        return self

    def from_unit(self, u: float) -> float:
        """Parameter value at unit coordinate ``u`` in [0, 1], to 12 significant digits.

        The rounding makes ``from_unit(to_unit(x)) == x`` for the base's own values
        (``1.5``, not ``1.4999999999999998``); it is far below any effect on a run.
        """
        u = min(max(float(u), 0.0), 1.0)
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            x = math.exp(lo + u * (hi - lo))
        else:
            x = self.low + u * (self.high - self.low)
        return min(max(float(f"{x:.12g}"), self.low), self.high)

    def to_unit(self, x: float) -> float:
        """Unit coordinate of value ``x`` (inverse of :meth:`from_unit`)."""
        if self.scale == "log":
            return (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)


class AcceptanceCheck(_Strict):
    """A hard requirement on the fitted scenario as shipped (its own population and seed)."""

    metric: str = Field(
        min_length=3, description="analysis.metrics run metric, e.g. shock_return:NVDA"
    )
    min: float | None = Field(None, description="lowest acceptable value, metric's unit")
    max: float | None = Field(None, description="highest acceptable value, metric's unit")
    over: Literal["default_seed", "seeds_median"] = Field(
        "default_seed",
        description="the run at the scenario's own seed, or the median over acceptance.seeds",
    )

    @model_validator(mode="after")
    def _check(self) -> AcceptanceCheck:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and not self.min <= self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        if self.metric.partition(":")[0] == "daily_returns":
            raise ValueError("acceptance checks take run metrics, not daily_returns statistics")
        return self

    @property
    def label(self) -> str:
        return f"{self.metric} ({'default seed' if self.over == 'default_seed' else 'median'})"

    def passes(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def bounds_text(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "+inf" if self.max is None else f"{self.max:g}"
        return f"[{lo}, {hi}]"


class Acceptance(_Strict):
    """Requirements the shipped scenario must meet, checked after the optimisation.

    The evaluations are tried in order of J (best first, at most ``candidates``): each is
    run as the base scenario would be shipped, i.e. with the fitted values but *without*
    the calibration's ``overrides`` (full population, full calendar), at the scenario's
    own seed and at ``seeds``. The fit is the best one that passes every check; if none
    does, it is the unconstrained best and the report says so.
    """

    seeds: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], min_length=1, description="for over: seeds_median"
    )
    candidates: int = Field(8, ge=1, description="best evaluations (by J) tried, in order")
    checks: list[AcceptanceCheck] = Field(min_length=1)


class OptimizerConfig(_Strict):
    """Settings of :func:`scipy.optimize.differential_evolution` (same names and meaning).

    The population has ``max(5, popsize * n_parameters)`` members (rounded up to a power
    of two for ``init: sobol``); at most ``maxiter`` generations follow the initial one.
    """

    method: Literal["differential_evolution"] = "differential_evolution"
    maxiter: int = Field(8, ge=0, description="generations after the initial population")
    popsize: int = Field(6, ge=1, description="population = popsize x number of parameters")
    tol: float = Field(0.01, ge=0, description="stop when std(J) <= atol + tol |mean(J)|")
    atol: float = Field(0.0, ge=0)
    mutation: float | tuple[float, float] = (0.5, 1.0)
    recombination: float = Field(0.7, ge=0, le=1)
    strategy: str = "best1bin"
    init: Literal["latinhypercube", "sobol", "halton", "random"] = "latinhypercube"
    polish: Literal[False] = Field(
        False, description="no gradient polishing: J of a simulation is piecewise constant"
    )
    include_base: bool = Field(True, description="the base's own values join the first population")
    seed: int | None = Field(None, ge=0, description="optimiser's random stream; default: seed")


class CalibrationSpec(_Strict):
    """A validated calibration file (see the module docstring for the YAML form)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    base: str = Field(min_length=1, description="base scenario, relative to this file")
    overrides: dict[str, Any] = Field(default_factory=dict, description="for the base scenario")
    scenario_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="other scenario (as written in targets) -> overrides"
    )
    targets: list[Target] = Field(min_length=1)
    validation: list[Target] = Field(default_factory=list)
    parameters: list[CalibrationParameter] = Field(min_length=1)
    replications: int = Field(2, ge=1, description="runs per evaluation (one seed each)")
    holdout_replications: int = Field(
        0, ge=0, description="fresh seeds on which the fitted parameters are re-run at the end"
    )
    seed: int = Field(0, ge=0)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    acceptance: Acceptance | None = Field(
        None, description="hard requirements on the shipped scenario, checked after the fit"
    )

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique(self) -> CalibrationSpec:
        labels = [t.label for t in (*self.targets, *self.validation)]
        if dup := sorted({x for x in labels if labels.count(x) > 1}):
            raise ValueError(f"duplicate target/validation name(s): {', '.join(dup)}")
        paths = [p.path for p in self.parameters]
        if dup := sorted({x for x in paths if paths.count(x) > 1}):
            raise ValueError(f"duplicate parameter path(s): {', '.join(dup)}")
        if clash := sorted(set(paths) & set(self.overrides)):
            raise ValueError(f"overrides: {', '.join(clash)} is also a fitted parameter")
        for key in self.overrides:
            for i, p in enumerate(paths):
                if p.startswith(key + "."):
                    raise ValueError(
                        f"overrides.{key} replaces what parameters.{i}.path ({p}) points into, "
                        "so the fitted scenario would set the wrong field; write a scenario "
                        "that extends the base instead"
                    )
        if sum(t.weight for t in self.targets) <= 0:
            raise ValueError("targets: at least one target needs a positive weight")
        used = {t.scenario for t in (*self.targets, *self.validation) if t.scenario}
        if extra := sorted(set(self.scenario_overrides) - used):
            raise ValueError(
                f"scenario_overrides: {', '.join(extra)} is not the scenario of any target"
            )
        return self

    @property
    def source(self) -> Path | None:
        """The calibration file this spec was read from (None if built in memory)."""
        return self._source

    def resolve(self, rel: str) -> Path:
        """Absolute path of a file named relative to the calibration file."""
        p = Path(rel)
        if not p.is_absolute():
            p = (self._source.parent if self._source else Path.cwd()) / p
        return p.resolve()

    @property
    def base_path(self) -> Path:
        return self.resolve(self.base)

    @property
    def parameter_paths(self) -> list[str]:
        return [p.path for p in self.parameters]

    @property
    def seeds(self) -> list[int]:
        """Replication seeds, the same at every evaluation (common random numbers)."""
        return [int(s) for s in task_seeds(self.seed, self.replications)]

    @property
    def holdout_seeds(self) -> list[int]:
        """Fresh seeds for the final check: children that follow the replication seeds."""
        n = self.replications + self.holdout_replications
        return [int(s) for s in task_seeds(self.seed, n)[self.replications :]]

    def population_size(self) -> int:
        """Members per generation of differential evolution."""
        n = max(5, self.optimizer.popsize * len(self.parameters))
        if self.optimizer.init == "sobol":
            n = int(2 ** math.ceil(math.log2(n)))
        return n


# -------------------------------------------------------------------------------- loading


def _filename(spec: CalibrationSpec) -> str:
    return spec.source.name if spec.source else "<calibration>"


def parse_calibration(
    data: Any, filename: str = "<calibration>", source: Path | None = None
) -> CalibrationSpec:
    """Validate a parsed mapping (no file checks); raises :class:`CalibrationError`."""
    if not isinstance(data, dict):
        raise CalibrationError(f"{filename}: expected a mapping of calibration fields at top level")
    try:
        spec = CalibrationSpec.model_validate(data)
    except ValidationError as err:
        raise CalibrationError(format_validation_error(err, filename)) from None
    spec._source = source
    return spec


def _scenario_error(filename: str, where: str, err: Exception) -> CalibrationError:
    text = " ".join(str(err).split())
    return CalibrationError(f"{filename}: {where}: {text}")


def _check_metric(metric: str, statistic: str | None, scn: Any) -> str | None:
    """Why ``metric`` cannot be computed on scenario ``scn`` (None if it can)."""
    kind, _, arg = metric.partition(":")
    tickers, indices = scn.tickers, list(scn.indices)
    if statistic is not None:
        if arg not in tickers and arg not in indices:
            return f"{arg!r} is neither a ticker nor an index of {scn.name} ({tickers + indices})"
        return None
    if kind == "daily_returns":
        return "daily_returns needs a statistic"
    return check_metric(metric, scn)


def _dotted_get(data: Any, path: str) -> Any:
    from sim.scenario import get_path

    return get_path(data, path)


def _check_files(spec: CalibrationSpec) -> None:
    """Every check that needs the scenario files: paths, overrides, bounds, metric names."""
    from sim.scenario import ScenarioError, load_scenario

    fname = _filename(spec)
    for key, plan_overrides, items in _scenario_groups(spec):
        rel = spec.base if key == _BASE else key
        path = spec.resolve(rel)
        where = "base" if key == _BASE else f"scenario {rel}"
        if not path.is_file():
            raise CalibrationError(f"{fname}: {where}: scenario file not found: {path}")
        try:
            scn = load_scenario(path, plan_overrides)
        except ScenarioError as err:
            field_name = "overrides" if key == _BASE else f"scenario_overrides.{rel}"
            raise _scenario_error(fname, field_name, err) from None
        for section, i, t in items:
            if why := _check_metric(t.metric, t.statistic, scn):
                raise CalibrationError(f"{fname}: {section}.{i}.metric: {why}")
        if key == _BASE and spec.acceptance is not None:
            shipped = load_scenario(path)  # acceptance runs the base as shipped
            for i, c in enumerate(spec.acceptance.checks):
                if why := _check_metric(c.metric, None, shipped):
                    raise CalibrationError(f"{fname}: acceptance.checks.{i}.metric: {why}")
        dumped = scn.model_dump(mode="json")
        for i, p in enumerate(spec.parameters):
            if p.apply_to == "base" and key != _BASE:
                continue
            try:
                _dotted_get(dumped, p.path)
            except (KeyError, IndexError, ValueError, TypeError):
                raise CalibrationError(
                    f"{fname}: parameters.{i}.path: {p.path!r} is not a field of {where} "
                    f"({path.name}); use apply_to: base for parameters of the base only"
                ) from None
            for bound in (p.low, p.high):
                try:
                    load_scenario(path, {**plan_overrides, p.path: bound})
                except ScenarioError as err:
                    raise _scenario_error(
                        fname, f"parameters.{i} ({p.path} = {bound:g} in {path.name})", err
                    ) from None


def load_calibration(path: str | Path) -> CalibrationSpec:
    """Read and validate a calibration file, including its scenarios, metrics and bounds.

    Raises :class:`CalibrationError` with a one-line message naming the file and the
    field; nothing is run or written.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CalibrationError(f"{path}: cannot read calibration file: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CalibrationError(f"{path.name}: invalid YAML{yaml_error_text(err)}") from None
    spec = parse_calibration(data, path.name, source=path.resolve())
    _check_files(spec)
    return spec


# ----------------------------------------------------------------------------- objective


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


# ---------------------------------------------------------------------- task (in workers)


def simulate_metrics(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Like :func:`analysis.experiments.tasks.evaluate`, and also ``statistic(daily_returns:X)`` metrics.

    Used as the task for scenarios with stylized targets (one run gives every metric).
    """
    from sim.simulate import run_scenario

    result = run_scenario(scenario, seed=seed, overrides=dict(overrides))
    out: dict[str, float] = {}
    for m in metrics:
        stat, paren, inner = m.partition("(")
        if paren and inner.endswith(")"):
            out[m] = statistic(stat, daily_log_returns(result, inner[:-1].partition(":")[2]))
        else:
            out[m] = compute_metric(result, m)
    return out


# ------------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class _Plan:
    """One scenario that every evaluation runs ``replications`` times."""

    key: str  # _BASE or the scenario as written in the spec
    path: str  # absolute
    overrides: dict[str, Any]
    parameters: tuple[int, ...]  # indices of the spec parameters applied to it
    labels: tuple[str, ...]  # target/validation labels it provides
    metrics: tuple[str, ...]  # task metric names, aligned with labels
    task: str
    fit: bool  # True: run at every evaluation; False: validation only, run once at the end


def _scenario_groups(
    spec: CalibrationSpec,
) -> list[tuple[str, dict[str, Any], list[tuple[str, int, Target]]]]:
    groups: dict[str, list[tuple[str, int, Target]]] = {_BASE: []}
    for section, items in (("targets", spec.targets), ("validation", spec.validation)):
        for i, t in enumerate(items):
            groups.setdefault(t.scenario or _BASE, []).append((section, i, t))
    out = []
    for key, items in groups.items():
        over = dict(spec.overrides) if key == _BASE else dict(spec.scenario_overrides.get(key, {}))
        out.append((key, over, items))
    return out


def _plans(spec: CalibrationSpec) -> list[_Plan]:
    plans = []
    for key, over, items in _scenario_groups(spec):
        if not items and key != _BASE:
            continue
        params = tuple(
            i for i, p in enumerate(spec.parameters) if p.apply_to == "all" or key == _BASE
        )
        stylized = any(t.statistic for _, _, t in items)
        plans.append(
            _Plan(
                key=key,
                path=str(spec.resolve(spec.base if key == _BASE else key)),
                overrides=over,
                parameters=params,
                labels=tuple(t.label for _, _, t in items),
                metrics=tuple(t.key for _, _, t in items),
                task=STYLIZED_TASK if stylized else RUN_TASK,
                fit=any(sec == "targets" for sec, _, _ in items),
            )
        )
    return plans


@dataclass
class _Evaluation:
    """One parameter vector: its runs' values and, once complete, its objective."""

    index: int
    generation: int | str
    unit: np.ndarray
    values: dict[str, float]  # parameter path -> value
    n_tasks: int
    fit: bool = True  # False: validation-only scenarios, no objective
    runs: dict[str, list[float]] = field(default_factory=dict)  # label -> per replication
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    done: int = 0
    objective: float = math.nan

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) for k, v in self.runs.items()}


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else repr(float(x))
    return str(x)


class _Engine:
    """Evaluates generations of parameter vectors on an executor and records them."""

    def __init__(
        self,
        spec: CalibrationSpec,
        executor: Executor,
        fh: io.TextIOBase,
        plans: list[_Plan],
    ) -> None:
        self.spec = spec
        self.executor = executor
        self.fh = fh
        self.plans = plans
        self.seeds = spec.seeds
        self.records: list[_Evaluation] = []
        self.generation = 0
        self.all_labels = [t.label for t in (*spec.targets, *spec.validation)]
        self.columns = [
            "eval",
            "generation",
            *spec.parameter_paths,
            "objective",
            *self.all_labels,
            "n_runs",
            "wall_s",
            "status",
            "error",
        ]
        self._write_line(self.columns)

    def _write_line(self, row: Sequence[Any]) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_fmt(x) for x in row])
        self.fh.write(buf.getvalue())  # one whole line per write, then fsync
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def values_of(self, unit: np.ndarray) -> dict[str, float]:
        return {p.path: p.from_unit(u) for p, u in zip(self.spec.parameters, unit, strict=True)}

    def _overrides(self, plan: _Plan, values: Mapping[str, float]) -> dict[str, Any]:
        paths = self.spec.parameter_paths
        return {**plan.overrides, **{paths[i]: values[paths[i]] for i in plan.parameters}}

    def _finish(self, ev: _Evaluation) -> None:
        means = ev.means()
        if ev.fit:
            ev.objective = FAILED_OBJECTIVE if ev.errors else objective(means, self.spec.targets)
        self._write_line(
            [
                ev.index,
                ev.generation,
                *(ev.values[p] for p in self.spec.parameter_paths),
                ev.objective,
                *(means.get(k, math.nan) for k in self.all_labels),
                ev.n_tasks,
                round(ev.wall_s, 3),
                "error" if ev.errors else "ok",
                ev.errors[0] if ev.errors else "",
            ]
        )

    def evaluate(
        self,
        units: Iterable[np.ndarray],
        fit: bool = True,
        generation: int | str | None = None,
        seeds: Sequence[int] | None = None,
    ) -> list[_Evaluation]:
        """Run every (vector, scenario, replication) as one task; return the evaluations.

        ``fit``: run the scenarios with targets (else the validation-only ones); ``seeds``:
        default the replication seeds (common random numbers).
        """
        plans = [p for p in self.plans if p.fit == fit]
        seeds = self.seeds if seeds is None else list(seeds)
        gen = self.generation if generation is None else generation
        evals: list[_Evaluation] = []
        futures: dict[Future[Any], tuple[_Evaluation, _Plan]] = {}
        try:
            for unit in units:
                unit = np.asarray(unit, dtype=float)
                values = self.values_of(unit)
                n = len(plans) * len(seeds)
                ev = _Evaluation(len(self.records), gen, unit.copy(), values, n, fit)
                self.records.append(ev)
                evals.append(ev)
                for plan in plans:
                    over = self._overrides(plan, values)
                    for seed in seeds:
                        fut = self.executor.submit(
                            execute_task, plan.task, plan.path, over, seed, list(plan.metrics)
                        )
                        futures[fut] = (ev, plan)
            for fut in as_completed(futures):
                ev, plan = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # the executor itself failed (dead pool, lost cluster)
                    raise CalibrationError(
                        f"evaluation {ev.index} could not be run: {type(exc).__name__}: {exc}"
                    ) from exc
                ev.wall_s += float(res["wall_s"])
                if res["error"]:
                    ev.errors.append(f"{plan.key}: {res['error']}")
                else:
                    for label, metric in zip(plan.labels, plan.metrics, strict=True):
                        ev.runs.setdefault(label, []).append(float(res["values"][metric]))
                ev.done += 1
                if ev.done == ev.n_tasks:
                    self._finish(ev)
        finally:
            for fut in futures:
                fut.cancel()
        return evals

    # scipy calls workers(func, iterable): func(x) for each x, computed here in parallel
    def __call__(self, func: Any, iterable: Iterable[np.ndarray]) -> list[float]:
        evals = self.evaluate(list(iterable))
        if self.generation == 0 and all(ev.errors for ev in evals):
            raise CalibrationError(
                f"every evaluation of the first generation failed; first error: {evals[0].errors[0]}"
            )
        self.generation += 1
        return [ev.objective for ev in evals]

    def single(self, unit: np.ndarray) -> float:
        """Objective at one unit-cube point (what ``func`` means; scipy maps it via __call__)."""
        return self.evaluate([unit])[0].objective


# -------------------------------------------------------------------------------- results


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


def _fact_rows(
    items: Sequence[Target], runs: Mapping[str, list[float]], fit: bool
) -> list[dict[str, Any]]:
    rows = []
    for t in items:
        vals = [float(v) for v in runs.get(t.label, [])]
        mean = float(np.mean(vals)) if vals else math.nan
        dev = mean - t.value
        row: dict[str, Any] = {
            "name": t.label,
            "custom_name": t.name is not None,
            "metric": t.metric,
            "statistic": t.statistic,
            "scenario": t.scenario or "base",
            "real": t.value,
            "simulated_mean": mean,
            "simulated_min": min(vals) if vals else math.nan,
            "simulated_max": max(vals) if vals else math.nan,
            "per_replication": vals,
            "tolerance": t.tolerance,
            "deviation": dev,
            "within": bool(abs(dev) <= t.tolerance),
            "source": t.source,
        }
        if fit:
            row["weight"] = t.weight
            row["scale"] = t.s
            row["contribution"] = t.weight * (dev / t.s) ** 2
        rows.append(row)
    return rows


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


def _relative(target: Path, start: Path) -> str:
    try:
        return os.path.relpath(target, start)
    except ValueError:  # different drives: no relative path exists
        return str(target)


def fitted_scenario_text(
    spec: CalibrationSpec, values: Mapping[str, float], out_dir: Path, header: str = ""
) -> str:
    """YAML of a scenario that ``extends:`` the base and sets ``values`` (dotted paths).

    Paths through mappings become nested mappings (merged into the base by ``extends:``).
    A path through a list (``news.viral_cost_claim.credibility``) writes that whole list, changed, since a
    child's list replaces its parent's; the base's other entries are copied unchanged.
    """
    from sim.scenario import apply_overrides, load_raw

    base_raw = load_raw(spec.base_path)
    changed = apply_overrides(base_raw, dict(values), spec.base_path.name)
    nested: dict[str, Any] = {}
    for path in values:
        parts = path.split(".")
        node: Any = changed
        cut = len(parts)
        for i, part in enumerate(parts):
            if isinstance(node, list):
                cut = i  # write the list that holds the value, whole
                break
            node = node[part]
        keys = parts[:cut] if cut < len(parts) else parts
        value = _dotted_get(changed, ".".join(keys))
        tgt = nested
        for k in keys[:-1]:
            tgt = tgt.setdefault(k, {})
        tgt[keys[-1]] = copy.deepcopy(value)
    doc = {"extends": _relative(spec.base_path, out_dir.resolve()), **nested}
    if "name" not in nested:
        doc["name"] = f"{spec.name}_fitted"
    return header + yaml.safe_dump(doc, sort_keys=False, width=100)


def _md_num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    ax = abs(x)
    if ax != 0 and (ax >= 1e6 or ax < 1e-3):
        return f"{x:.3g}"
    return f"{x:.3f}" if ax < 100 else f"{x:.1f}"


def _fact_table(rows: list[dict[str, Any]], fit: bool) -> list[str]:
    head = "| fact | scenario | real | simulated mean [min, max] | tolerance | verdict |"
    sep = "|---|---|---:|---|---:|---|"
    if fit:
        head += " weight | J term |"
        sep += "---:|---:|"
    lines = [head, sep]
    for r in rows:
        what = f"{r['statistic']} of {r['metric']}" if r["statistic"] else r["metric"]
        fact = f"{r['name']} ({what})" if r.get("custom_name") else r["name"]
        sim = (
            f"{_md_num(r['simulated_mean'])} "
            f"[{_md_num(r['simulated_min'])}, {_md_num(r['simulated_max'])}]"
        )
        verdict = "within" if r["within"] else f"**MISS** (off by {_md_num(r['deviation'])})"
        line = (
            f"| {fact} | {r['scenario']} | {_md_num(r['real'])} | {sim} | "
            f"±{_md_num(r['tolerance'])} | {verdict} |"
        )
        if fit:
            line += f" {r['weight']:g} | {_md_num(r['contribution'])} |"
        lines.append(line)
    return lines


def _report(fitted: dict[str, Any]) -> str:
    opt = fitted["optimizer"]
    lines = [
        f"# Calibration `{fitted['name']}`",
        "",
        f"Method of simulated moments: minimise J = sum_k w_k ((m_k - r_k)/s_k)^2 with m_k the "
        f"mean over {fitted['replications']} replications (common random numbers: seeds "
        f"{fitted['seeds']} at every evaluation), by differential evolution "
        f"(population {fitted['population_size']}, maxiter {opt['maxiter']}, "
        f"tol {opt['tol']}, strategy {opt['strategy']}, init {opt['init']}, no polish).",
        "",
        f"- spec: `{fitted['spec_file']}`; base: `{fitted['base']}`; overrides at every "
        f"evaluation: `{json.dumps(fitted['overrides'], default=str)}` (scenarios ran from "
        "the frozen copies in scenarios/)",
        f"- evaluations: {fitted['n_evaluations']} in {fitted['n_generations']} generations, "
        f"{fitted['wall_s'] / 60:.1f} min wall; optimiser: {fitted['optimizer_message']}",
        f"- objective J: fitted **{_md_num(fitted['objective'])}**"
        + (
            f" (hand-set base values: {_md_num(fitted['base_objective'])})"
            if fitted["base_objective"] is not None
            else ""
        ),
        f"- code (when the calibration started): commit {fitted['code']['commit']}"
        + (" with local changes in sim/" if fitted["code"]["sim_modified"] else ""),
    ]
    for path in fitted.get("scenarios_changed_since_start", []):
        lines.append(
            f"- **warning**: `{path}` changed while the calibration ran; the fit is to the "
            "frozen copy, and fitted_scenario.yaml extends the file as it is now"
        )
    lines += _acceptance_lines(fitted)
    lines += [
        "",
        "## Fitted parameters",
        "",
        "| parameter | low | high | scale | base value | fitted | note |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for p in fitted["parameter_table"]:
        note = "at a bound: the optimum may lie outside" if p["at_bound"] else ""
        lines.append(
            f"| `{p['path']}` | {p['low']:g} | {p['high']:g} | {p['scale']} | "
            f"{_md_num(p['base_value'])} | **{p['fitted']:.4g}** | {note} |"
        )
    t = fitted["targets"]
    n_in = sum(r["within"] for r in t)
    lines += [
        "",
        f"## Targets (fitted): {n_in} of {len(t)} within tolerance",
        "",
        *_fact_table(t, fit=True),
    ]
    v = fitted["validation"]
    if v:
        n_in = sum(r["within"] for r in v)
        lines += [
            "",
            f"## Out-of-sample validation (NOT targeted): {n_in} of {len(v)} within tolerance",
            "",
            "These facts played no part in the fit; they test it.",
            "",
            *_fact_table(v, fit=False),
        ]
    h = fitted.get("holdout")
    if h:
        rows = [*h["targets"], *h["validation"]]
        n_in = sum(r["within"] for r in rows)
        lines += [
            "",
            f"## Fresh seeds: the fitted parameters on {len(h['seeds'])} seeds not used in the "
            f"fit: {n_in} of {len(rows)} within tolerance (J = {_md_num(h['objective'])})",
            "",
            "Same parameters, new random streams: how much of the fit is the particular seeds.",
            "",
            *_fact_table(rows, fit=False),
        ]
    misses = [r["name"] for r in (*t, *v) if not r["within"]]
    lines += ["", "## Misses", ""]
    lines += [f"- {m}" for m in misses] if misses else ["None."]
    return "\n".join(lines) + "\n"


def _acceptance_lines(fitted: dict[str, Any]) -> list[str]:
    """The acceptance section: every candidate tried, its checks, and the choice."""
    acc = fitted.get("acceptance")
    if not acc:
        return []
    unc = fitted["unconstrained_best"]
    if acc["met"]:
        head = (
            f"evaluation {acc['accepted_evaluation']} (J = {_md_num(fitted['objective'])}) is "
            "the best that meets every check"
            + (
                f"; the unconstrained optimum, evaluation {unc['evaluation']} "
                f"(J = {_md_num(unc['objective'])}), does not"
                if unc["evaluation"] != acc["accepted_evaluation"]
                else ""
            )
        )
    else:
        head = (
            f"**NO candidate among the best {len(acc['tried'])} meets every check**: the fitted "
            f"values are the unconstrained optimum (evaluation {unc['evaluation']}), which the "
            "shipped scenario's requirements reject"
        )
    lines = [
        "",
        "## Acceptance: requirements on the scenario as shipped",
        "",
        f"Candidates in order of J, each run with its fitted values and the base's own population "
        f"and calendar, at the scenario's seed {acc['default_seed']} and at seeds "
        f"{acc['seeds'][1:]} (for medians). Result: {head}.",
        "",
    ]
    names = [c["name"] for c in acc["tried"][0]["checks"]] if acc["tried"] else []
    bounds = (
        [f"{c['min'] if c['min'] is not None else '-inf'}..{c['max'] if c['max'] is not None else '+inf'}"
         for c in acc["tried"][0]["checks"]]
        if acc["tried"]
        else []
    )  # fmt: skip
    lines.append(
        "| evaluation | J | "
        + " | ".join(f"{n} in {b}" for n, b in zip(names, bounds, strict=True))
        + " | verdict |"
    )
    lines.append("|---:|---:|" + "---:|" * len(names) + "---|")
    for t in acc["tried"]:
        cells = [
            (_md_num(c["value"]) if c["passed"] else f"**{_md_num(c['value'])}**")
            for c in t["checks"]
        ]
        verdict = "accepted" if t["accepted"] else "rejected"
        if t["errors"]:
            verdict += f" (error: {t['errors'][0]})"
        lines.append(
            f"| {t['evaluation']} | {_md_num(t['objective'])} | "
            + " | ".join(cells)
            + f" | {verdict} |"
        )
    return lines


def _plot_trace(trace: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from sim.io import atomic_write

    fig, ax = plt.subplots(figsize=(6, 3.5))
    g = [r["generation"] for r in trace]
    ax.plot(g, [r["best_objective"] for r in trace], "o-", label="best so far")
    ax.plot(g, [r["generation_best"] for r in trace], "x", color="grey", label="generation best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation (0 = initial population)")
    ax.set_ylabel("objective J")
    if all(r["generation_best"] > 0 for r in trace):
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda t: fig.savefig(t, dpi=110, format="png"))
    plt.close(fig)


def check_output_dir(out_dir: str | Path) -> None:
    """Raise :class:`CalibrationError` if ``out_dir`` cannot take a new calibration."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CalibrationError(f"{out} exists and is not a directory")
    if (out / EVALUATIONS_CSV).exists():
        raise CalibrationError(
            f"{out / EVALUATIONS_CSV} already holds a calibration; choose another --out"
        )


def _freeze(spec: CalibrationSpec, plans: list[_Plan]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each scenario's resolved content and the name of its frozen copy in the output dir."""
    from sim.scenario import load_raw

    out: dict[str, tuple[str, dict[str, Any]]] = {}
    used: set[str] = set()
    for p in plans:
        stem = Path(p.path).stem
        name = f"scenarios/{stem}.yaml"
        k = 1
        while name in used:
            k += 1
            name = f"scenarios/{stem}_{k}.yaml"
        used.add(name)
        out[p.key] = (name, load_raw(p.path))
    return out


def _changed_scenarios(plans: list[_Plan], frozen: Mapping[str, tuple[str, Any]]) -> list[str]:
    """Scenario files whose content differs now from the frozen copy the fit ran on."""
    from sim.scenario import ScenarioError, load_raw

    changed = []
    for p in plans:
        try:
            now = load_raw(p.path)
        except ScenarioError:
            now = None
        if now != frozen[p.key][1]:
            changed.append(p.path)
    return changed


def _base_values(spec: CalibrationSpec, raw: dict[str, Any]) -> dict[str, float | None]:
    from sim.scenario import apply_overrides, validate

    data = apply_overrides(raw, spec.overrides, spec.base_path.name)
    dumped = validate(data, spec.base_path.name).model_dump(mode="json")
    out: dict[str, float | None] = {}
    for p in spec.parameters:
        v = _dotted_get(dumped, p.path)
        out[p.path] = float(v) if isinstance(v, int | float) else None
    return out


def run_calibration(
    spec: CalibrationSpec | str | Path,
    out_dir: str | Path,
    executor: Executor | None = None,
    workers: int | None = None,
    maxiter: int | None = None,
    progress: bool = True,
) -> CalibrationResult:
    """Fit ``spec``'s parameters to its targets and write the outputs into ``out_dir``.

    ``executor``: any ``concurrent.futures.Executor`` (see
    :func:`analysis.experiments.sweep.make_executor`); default a local process pool of ``workers``.
    ``maxiter`` overrides the spec's optimiser setting. Raises :class:`CalibrationError`
    on bad input before anything is written.
    """
    from sim.io import atomic_write, write_json

    t0 = time.perf_counter()
    if not isinstance(spec, CalibrationSpec):
        spec = load_calibration(spec)
    if maxiter is not None:
        if maxiter < 0:
            raise CalibrationError(f"maxiter must be >= 0, got {maxiter}")
        spec = spec.model_copy(
            update={"optimizer": spec.optimizer.model_copy(update={"maxiter": maxiter})}
        )
    out = Path(out_dir)
    check_output_dir(out)
    source_plans = _plans(spec)
    # Tasks read frozen copies of the scenarios, so that editing a scenario file while a
    # long calibration runs cannot change it half-way (each task reloads its scenario).
    frozen = _freeze(spec, source_plans)
    base_values = _base_values(spec, frozen[_BASE][1])
    x0 = _start_point(spec, base_values)

    out.mkdir(parents=True, exist_ok=True)
    start_record = _start_record(spec, source_plans, frozen, out)
    write_json(start_record, out / "calibration.json")
    for p in source_plans:
        rel, raw = frozen[p.key]
        text = (
            f"# Frozen copy of {p.path} (extends: resolved) taken when calibration "
            f"{spec.name} started; its evaluations ran on this file.\n"
            + yaml.safe_dump(raw, sort_keys=False, width=100)
        )
        atomic_write(out / rel, lambda t, text=text: Path(t).write_text(text, encoding="utf-8"))
    plans = [
        dataclasses.replace(p, path=str((out / frozen[p.key][0]).resolve())) for p in source_plans
    ]

    with contextlib.ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(
                make_executor(
                    workers=workers,
                    preload=("analysis.experiments.tasks", "analysis.calibration.engine"),
                )
            )
        fh = stack.enter_context((out / EVALUATIONS_CSV).open("w", encoding="utf-8", newline=""))
        bar = stack.enter_context(
            tqdm(
                total=spec.optimizer.maxiter + 1,
                desc=f"calibrate {spec.name}",
                unit="gen",
                disable=not progress,
                dynamic_ncols=True,
            )
        )
        engine = _Engine(spec, executor, fh, plans)
        message, trace = _optimise(spec, engine, x0, out, bar)
        best = min(
            (r for r in engine.records if r.objective == r.objective), key=lambda r: r.objective
        )
        if best.errors:
            raise CalibrationError(f"every evaluation failed; first error: {best.errors[0]}")
        unconstrained = best
        acceptance = None
        if spec.acceptance is not None:
            base_plan = next(p for p in plans if p.key == _BASE)
            best, acceptance = _accept(spec, engine, base_plan.path, executor)
        runs = dict(best.runs)
        if any(not p.fit for p in plans):  # validation-only scenarios: once, at the optimum
            runs.update(engine.evaluate([best.unit], fit=False, generation="validation")[0].runs)
        holdout = None
        if spec.holdout_replications:
            holdout = engine.evaluate([best.unit], generation="holdout", seeds=spec.holdout_seeds)
        bar.close()

    fitted = {
        "name": spec.name,
        "spec_file": str(spec.source) if spec.source else None,
        "base": str(spec.base_path),
        "overrides": spec.overrides,
        "parameters": best.values,
        "parameter_table": _parameter_table(spec, best.values, base_values),
        "objective": best.objective,
        "base_objective": None if x0 is None else engine.records[_x0_index(engine, x0)].objective,
        "best_evaluation": best.index,
        "unconstrained_best": {
            "evaluation": unconstrained.index,
            "objective": unconstrained.objective,
            "parameters": unconstrained.values,
        },
        "acceptance": acceptance,
        "targets": _fact_rows(spec.targets, runs, fit=True),
        "validation": _fact_rows(spec.validation, runs, fit=False),
        "seeds": spec.seeds,
        "replications": spec.replications,
        "holdout": None
        if holdout is None
        else {
            "seeds": spec.holdout_seeds,
            "objective": holdout[0].objective,
            "targets": _fact_rows(spec.targets, holdout[0].runs, fit=True),
            "validation": _fact_rows(
                [t for t in spec.validation if t.label in holdout[0].runs],
                holdout[0].runs,
                fit=False,
            ),
        },
        "population_size": spec.population_size(),
        "optimizer": spec.optimizer.model_dump(mode="json"),
        "optimizer_message": message,
        "n_evaluations": len(engine.records),
        "n_generations": len(trace),
        "wall_s": time.perf_counter() - t0,
        # the workers imported the simulator when the calibration started
        "code": start_record["code"],
        "scenarios_changed_since_start": _changed_scenarios(source_plans, frozen),
    }
    _write_outputs(spec, fitted, trace, out)
    if progress:
        print(
            f"calibrate {spec.name}: J = {best.objective:.4g} after {len(engine.records)} "
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
        n_evaluations=len(engine.records),
        n_generations=len(trace),
        wall_s=fitted["wall_s"],
        fitted=fitted,
    )


def _accept(
    spec: CalibrationSpec, engine: _Engine, base_path: str, executor: Executor
) -> tuple[_Evaluation, dict[str, Any]]:
    """The best evaluation (by J) whose shipped scenario passes every acceptance check.

    Runs the frozen base with only the fitted values set (no calibration overrides), at
    its own seed and at ``acceptance.seeds``; candidates are tried one at a time, best
    first, their runs in parallel.
    """
    from sim.scenario import load_scenario

    acc = spec.acceptance
    assert acc is not None
    own_seed = load_scenario(base_path).seed
    seeds = [own_seed, *acc.seeds]
    metrics = sorted({c.metric for c in acc.checks})
    ranked = sorted(
        (r for r in engine.records if r.fit and not r.errors and r.objective == r.objective),
        key=lambda r: (r.objective, r.index),
    )
    # an evaluation revisited by the optimiser (same values) is tried once
    seen: set[tuple[float, ...]] = set()
    candidates = []
    for r in ranked:
        key = tuple(r.values[p] for p in spec.parameter_paths)
        if key not in seen:
            seen.add(key)
            candidates.append(r)
    tried: list[dict[str, Any]] = []
    chosen = None
    for ev in candidates[: acc.candidates]:
        futures = [
            executor.submit(execute_task, RUN_TASK, base_path, dict(ev.values), s, metrics)
            for s in seeds
        ]
        try:
            results = [f.result() for f in futures]
        except Exception as exc:  # the executor itself failed (dead pool, lost cluster)
            raise CalibrationError(
                f"acceptance runs of evaluation {ev.index} could not be run: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        errors = [r["error"] for r in results if r["error"]]
        per_seed = {m: [r["values"].get(m, math.nan) for r in results] for m in metrics}
        checks = []
        for c in acc.checks:
            vals = per_seed[c.metric]
            value = vals[0] if c.over == "default_seed" else float(np.median(vals[1:]))
            checks.append(
                {
                    "name": c.label,
                    "metric": c.metric,
                    "over": c.over,
                    "min": c.min,
                    "max": c.max,
                    "value": value,
                    "passed": not errors and c.passes(value),
                }
            )
        ok = all(c["passed"] for c in checks)
        tried.append(
            {
                "evaluation": ev.index,
                "objective": ev.objective,
                "parameters": ev.values,
                "checks": checks,
                "per_seed": per_seed,
                "errors": errors,
                "accepted": ok,
            }
        )
        if ok:
            chosen = ev
            break
    record = {
        "seeds": seeds,
        "default_seed": own_seed,
        "candidates": acc.candidates,
        "tried": tried,
        "accepted_evaluation": None if chosen is None else chosen.index,
        "met": chosen is not None,
    }
    return (chosen if chosen is not None else candidates[0]), record


def _start_point(
    spec: CalibrationSpec, base_values: Mapping[str, float | None]
) -> np.ndarray | None:
    """Unit-cube point of the base's own values (None if excluded or out of bounds)."""
    if not spec.optimizer.include_base:
        return None
    bv = [base_values[p.path] for p in spec.parameters]
    if not all(
        v is not None and p.low <= v <= p.high for p, v in zip(spec.parameters, bv, strict=True)
    ):
        return None
    return np.array([p.to_unit(v) for p, v in zip(spec.parameters, bv, strict=True)])


def _start_record(
    spec: CalibrationSpec,
    plans: list[_Plan],
    frozen: Mapping[str, tuple[str, Any]],
    out: Path,
) -> dict[str, Any]:
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
                "frozen_copy": str(out / frozen[p.key][0]),
                "task": p.task,
                "fit": p.fit,
                "metrics": p.metrics,
            }
            for p in plans
        ],
        "objective": "J = sum_k weight_k ((mean_k - real_k) / scale_k)^2, scale = tolerance",
        "code": _git_state(Path(__file__).resolve().parents[1]),
    }


def _optimise(
    spec: CalibrationSpec, engine: _Engine, x0: np.ndarray | None, out: Path, bar: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Run differential evolution on ``engine``; returns its message and the trace rows."""
    from scipy.optimize import differential_evolution

    from sim.io import write_csv

    opt = spec.optimizer
    trace: list[dict[str, Any]] = []

    def mapper(func: Any, iterable: Iterable[np.ndarray]) -> list[float]:
        first = len(engine.records)
        energies = engine(func, iterable)
        best = min(
            (r for r in engine.records if r.objective == r.objective), key=lambda r: r.objective
        )
        trace.append(
            {
                "generation": engine.generation - 1,
                "n_evaluations": len(engine.records),
                "generation_evaluations": len(engine.records) - first,
                "generation_best": float(np.min(energies)) if energies else math.nan,
                "best_objective": best.objective,
                **best.values,
            }
        )
        write_csv(pd.DataFrame(trace), out / TRACE_CSV)
        bar.update(1)
        bar.set_postfix(best=f"{best.objective:.4g}", evals=len(engine.records), refresh=True)
        return energies

    res = differential_evolution(
        engine.single,
        bounds=[(0.0, 1.0)] * len(spec.parameters),
        strategy=opt.strategy,
        maxiter=opt.maxiter,
        popsize=opt.popsize,
        tol=opt.tol,
        atol=opt.atol,
        mutation=opt.mutation,
        recombination=opt.recombination,
        rng=np.random.default_rng(opt.seed if opt.seed is not None else spec.seed),
        polish=False,
        init=opt.init,
        updating="deferred",
        workers=mapper,
        x0=x0,
    )
    return str(res.message), trace


def _parameter_table(
    spec: CalibrationSpec,
    values: Mapping[str, float],
    base_values: Mapping[str, float | None],
) -> list[dict[str, Any]]:
    rows = []
    for p in spec.parameters:
        u = p.to_unit(values[p.path])
        rows.append(
            {
                "path": p.path,
                "low": p.low,
                "high": p.high,
                "scale": p.scale,
                "base_value": base_values[p.path],
                "fitted": values[p.path],
                "at_bound": bool(u < 0.01 or u > 0.99),
            }
        )
    return rows


def _write_outputs(
    spec: CalibrationSpec, fitted: dict[str, Any], trace: list[dict[str, Any]], out: Path
) -> None:
    """fitted.json, fitted_scenario.yaml (checked by reloading it), report.md, trace.png."""
    from sim.io import atomic_write, write_json

    write_json(fitted, out / "fitted.json")
    overrides = json.dumps(spec.overrides, default=str)
    header = (
        f"# Fitted by `calibrate {fitted['spec_file']}` (objective J = {fitted['objective']:.6g})\n"
        f"# at overrides {overrides} with seeds {fitted['seeds']}; see fitted.json, report.md.\n"
    )
    text = fitted_scenario_text(spec, fitted["parameters"], out, header)
    atomic_write(out / "fitted_scenario.yaml", lambda t: Path(t).write_text(text, encoding="utf-8"))
    _verify_fitted_scenario(out / "fitted_scenario.yaml", fitted["parameters"])
    atomic_write(out / "report.md", lambda t: Path(t).write_text(_report(fitted), encoding="utf-8"))
    _plot_trace(trace, out / "trace.png")


def _x0_index(engine: _Engine, x0: np.ndarray) -> int:
    """Index of the evaluation at the base's values (scipy puts x0 first in generation 0)."""
    gen0 = [r for r in engine.records if r.generation == 0]
    return min(gen0, key=lambda r: float(np.abs(r.unit - x0).max())).index


def _verify_fitted_scenario(path: Path, values: Mapping[str, float]) -> None:
    """The written scenario must load and hold exactly the fitted values."""
    from sim.scenario import load_scenario

    dumped = load_scenario(path).model_dump(mode="json")
    for p, v in values.items():
        got = _dotted_get(dumped, p)
        if not math.isclose(float(got), float(v), rel_tol=1e-12, abs_tol=1e-12):
            raise CalibrationError(f"{path}: {p} reads back as {got}, expected {v}")


def read_evaluations(out_dir: str | Path) -> pd.DataFrame:
    """``DIR/evaluations.csv`` as a DataFrame (a line torn by a kill is dropped).

    ``generation`` is the optimiser's generation (0 = initial population), or
    ``validation`` / ``holdout`` for the final runs at the fitted parameters.
    """
    text = (Path(out_dir) / EVALUATIONS_CSV).read_text(encoding="utf-8")
    text = text[: text.rfind("\n") + 1]
    return pd.read_csv(io.StringIO(text), dtype={"generation": str, "error": str})
