"""The optimiser of a calibration: differential evolution over the unit cube.

:func:`scipy.optimize.differential_evolution` over the unit cube (parameters with ``scale:
log`` are searched in log space) with ``updating="deferred"``, no polishing, a seeded random
stream, and ``workers=`` a map that evaluates a whole generation at once through the
:class:`~analysis.calibration.evaluations.Evaluator` (every run a task of the experiment
runner). With ``include_base: true`` the base scenario's own values are one member of the
initial population, so the fit can only improve on them (in J). Given the same values of J --
which common random numbers make a deterministic function of the parameters -- the search is
deterministic: a resumed calibration replays it from the start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.calibration.evaluations import Evaluator
from analysis.calibration.spec import CalibrationSpec

__all__ = ["TRACE_CSV", "optimise", "start_point", "x0_index"]

TRACE_CSV = "trace.csv"


def start_point(
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


def optimise(
    spec: CalibrationSpec, evaluator: Evaluator, x0: np.ndarray | None, out: Path, bar: Any
) -> tuple[str, list[dict[str, Any]]]:
    """Run differential evolution on ``evaluator``; returns its message and the trace rows."""
    from scipy.optimize import differential_evolution

    from sim.io import write_csv

    opt = spec.optimizer
    trace: list[dict[str, Any]] = []

    def mapper(func: Any, iterable: Iterable[np.ndarray]) -> list[float]:
        first = len(evaluator.records)
        energies = evaluator(func, iterable)
        best = min(
            (r for r in evaluator.records if r.objective == r.objective), key=lambda r: r.objective
        )
        trace.append(
            {
                "generation": evaluator.generation - 1,
                "n_evaluations": len(evaluator.records),
                "generation_evaluations": len(evaluator.records) - first,
                "generation_best": float(np.min(energies)) if energies else math.nan,
                "best_objective": best.objective,
                **best.values,
            }
        )
        write_csv(pd.DataFrame(trace), out / TRACE_CSV)
        bar.update(1)
        bar.set_postfix(best=f"{best.objective:.4g}", evals=len(evaluator.records), refresh=True)
        return energies

    res = differential_evolution(
        evaluator.single,
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


def x0_index(evaluator: Evaluator, x0: np.ndarray) -> int:
    """Index of the evaluation at the base's values (scipy puts x0 first in generation 0)."""
    gen0 = [r for r in evaluator.records if r.generation == 0]
    return min(gen0, key=lambda r: float(np.abs(r.unit - x0).max())).index
