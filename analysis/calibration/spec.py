"""Calibration files: what to fit (parameters and bounds) to which real facts (targets).

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

**Targets.** A target is either a run metric (a name of :mod:`analysis.metrics`; ``python -m
analysis.metrics`` lists them), or, when it has a ``statistic``, a stylized statistic (a name
of :data:`analysis.validation.stylized.STATISTICS`) of the simulated daily log returns named by
``metric: daily_returns:X`` (X a ticker or an index of that scenario). ``scenario`` (relative
to the calibration file; default: the base) lets a target come from another scenario, e.g. a
calm period; ``scenario_overrides`` gives that scenario's own overrides (the top-level
``overrides`` apply to the base only). ``tolerance`` is absolute, in the metric's unit; a fact
is "within" when ``|simulated mean - real| <= tolerance``.

Every check that needs the scenario files (paths, overrides, bounds, metric names) runs in
:func:`load_calibration`, before anything is run or written; errors are one line naming the
file and the field.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from analysis.calibration.acceptance import Acceptance
from analysis.experiments.protocol import resolve_task, task_seeds
from analysis.experiments.spec import validate_spec
from analysis.experiments.specfile import SpecFile, StrictModel, finite_values, read_yaml
from analysis.experiments.tasks import metric_problem, scenario_loader
from analysis.validation.stylized import STATISTICS
from sim.scenario import get_path

__all__ = [
    "BASE",
    "CalibrationError",
    "CalibrationParameter",
    "CalibrationSpec",
    "OptimizerConfig",
    "Target",
    "load_calibration",
    "parse_calibration",
    "scenario_groups",
]

#: How the base scenario is named among the scenarios of a calibration.
BASE = "base"


class CalibrationError(RuntimeError):
    """A calibration cannot start or go on; the message is one line naming file and field.

    A ``RuntimeError`` (like :class:`analysis.experiments.sweep.SweepError`) rather than a ``ValueError``
    because scipy's optimiser turns a ``ValueError`` raised in its map into a misleading
    message of its own.
    """


# ----------------------------------------------------------------------------------- spec


class Target(StrictModel):
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


class CalibrationParameter(StrictModel):
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


class OptimizerConfig(StrictModel):
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


class CalibrationSpec(SpecFile):
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
    task: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="the unit of work of every run (package.module:function with the signature "
        "of analysis.experiments.tasks.evaluate); default evaluate, or simulate_metrics for the "
        "scenarios with stylized targets",
    )
    retries: int = Field(2, ge=0, description="re-runs of a run whose worker process died")

    @field_validator("overrides", "scenario_overrides")
    @classmethod
    def _finite(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        return finite_values(overrides)

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
    return validate_spec(CalibrationSpec, data, filename, source, "calibration", CalibrationError)


def _scenario_error(filename: str, where: str, err: Exception) -> CalibrationError:
    text = " ".join(str(err).split())
    return CalibrationError(f"{filename}: {where}: {text}")


#: Most corners of the parameter box validated up front (2^10: ten parameters).
MAX_CORNERS = 1024


def _check_files(spec: CalibrationSpec) -> None:
    """Every check that needs the scenario files: paths, overrides, bounds, metric names.

    Each parameter is validated at its low, high and middle value with the others as in the
    scenario, then the corners of the parameter box (all of them up to :data:`MAX_CORNERS`),
    so that a combination the scenario refuses (a cross-field rule) fails here, not in runs.
    """
    from sim.scenario import ScenarioError

    fname = _filename(spec)
    if spec.task is not None:
        try:
            resolve_task(spec.task)
        except Exception as exc:
            raise CalibrationError(
                f"{fname}: task: cannot import {spec.task!r}: {type(exc).__name__}: {exc}"
            ) from None
    for key, plan_overrides, items in scenario_groups(spec):
        rel = spec.base if key == BASE else key
        path = spec.resolve(rel)
        where = "base" if key == BASE else f"scenario {rel}"
        if not path.is_file():
            raise CalibrationError(f"{fname}: {where}: scenario file not found: {path}")
        field_name = "overrides" if key == BASE else f"scenario_overrides.{rel}"
        try:
            load = scenario_loader(path)
            scn = load(plan_overrides)
        except ScenarioError as err:
            raise _scenario_error(fname, field_name, err) from None
        for section, i, t in items:
            if why := metric_problem(t.key, scn, stylized=True):
                raise CalibrationError(f"{fname}: {section}.{i}.metric: {why}")
        if key == BASE and spec.acceptance is not None:
            shipped = load(None)  # acceptance runs the base as shipped
            for i, c in enumerate(spec.acceptance.checks):
                if why := metric_problem(c.metric, shipped):
                    raise CalibrationError(f"{fname}: acceptance.checks.{i}.metric: {why}")
        dumped = scn.model_dump(mode="json")
        fitted = [
            (i, p) for i, p in enumerate(spec.parameters) if p.apply_to == "all" or key == BASE
        ]
        for i, p in fitted:
            try:
                get_path(dumped, p.path)
            except (KeyError, IndexError, ValueError, TypeError):
                raise CalibrationError(
                    f"{fname}: parameters.{i}.path: {p.path!r} is not a field of {where} "
                    f"({path.name}); use apply_to: base for parameters of the base only"
                ) from None
            for value in (p.low, p.high, p.from_unit(0.5)):
                try:
                    load({**plan_overrides, p.path: value})
                except ScenarioError as err:
                    raise _scenario_error(
                        fname, f"parameters.{i} ({p.path} = {value:g} in {path.name})", err
                    ) from None
        if len(fitted) < 2:
            continue
        corners = itertools.product(*[(p.low, p.high) for _, p in fitted])
        for corner in itertools.islice(corners, MAX_CORNERS):
            values = {p.path: v for (_, p), v in zip(fitted, corner, strict=True)}
            try:
                load({**plan_overrides, **values})
            except ScenarioError as err:
                at = ", ".join(f"{k} = {v:g}" for k, v in values.items())
                raise _scenario_error(
                    fname, f"parameters (the corner {at} in {path.name})", err
                ) from None


def load_calibration(path: str | Path) -> CalibrationSpec:
    """Read and validate a calibration file, including its scenarios, metrics and bounds.

    Raises :class:`CalibrationError` with a one-line message naming the file and the
    field; nothing is run or written.
    """
    path = Path(path)
    data = read_yaml(path, "calibration", CalibrationError)
    spec = parse_calibration(data, path.name, source=path.resolve())
    _check_files(spec)
    return spec


def scenario_groups(
    spec: CalibrationSpec,
) -> list[tuple[str, dict[str, Any], list[tuple[str, int, Target]]]]:
    """Per scenario (``BASE`` first): its overrides and its (section, index, fact) items."""
    groups: dict[str, list[tuple[str, int, Target]]] = {BASE: []}
    for section, items in (("targets", spec.targets), ("validation", spec.validation)):
        for i, t in enumerate(items):
            groups.setdefault(t.scenario or BASE, []).append((section, i, t))
    out = []
    for key, items in groups.items():
        over = dict(spec.overrides) if key == BASE else dict(spec.scenario_overrides.get(key, {}))
        out.append((key, over, items))
    return out
