"""Acceptance: hard requirements on the fitted scenario as shipped, checked after the fit.

The objective is about *means over seeds* at the calibration's configuration (for speed, fewer
investors and a shorter calendar). An optional ``acceptance:`` block lists requirements on the
base scenario *as shipped* (no calibration ``overrides``: its own population, calendar and
seed, and medians over ``acceptance.seeds``). After the optimiser stops, evaluations are re-run
in order of J and the fit is the best one that passes every check (:func:`accept`); the runs
are tasks of the calibration's runner, recorded (and resumed) like every other run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from analysis.experiments.specfile import StrictModel

if TYPE_CHECKING:
    from analysis.calibration.evaluations import Evaluator
    from analysis.calibration.objective import Evaluation, Plan
    from analysis.calibration.spec import CalibrationSpec

__all__ = ["Acceptance", "AcceptanceCheck", "accept"]


class AcceptanceCheck(StrictModel):
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


class Acceptance(StrictModel):
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


def accept(
    spec: CalibrationSpec, evaluator: Evaluator, base: Plan
) -> tuple[Evaluation, dict[str, Any]]:
    """The best evaluation (by J) whose shipped scenario passes every acceptance check.

    Runs the frozen base (``base``) with only the fitted values set (no calibration
    overrides), at its own seed and at ``acceptance.seeds``; candidates are tried one at a
    time, best first, their runs in parallel.
    """
    from analysis.calibration.evaluations import Run
    from analysis.calibration.objective import RUN_TASK
    from sim.scenario import load_scenario

    acc = spec.acceptance
    assert acc is not None
    own_seed = load_scenario(base.path).seed
    seeds = [own_seed, *acc.seeds]
    metrics = sorted({c.metric for c in acc.checks})
    ranked = sorted(
        (r for r in evaluator.records if r.fit and not r.errors and r.objective == r.objective),
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
        task = spec.task or RUN_TASK
        runs = [Run(base, dict(ev.values), s, task, tuple(metrics)) for s in seeds]
        by_key = evaluator.run(runs)
        results = [by_key[r.key] for r in runs]
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
