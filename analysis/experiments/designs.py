"""Experimental designs of parameter sweeps: which parameter combinations ("points") to run.

Every design except ``grid`` is generated in the unit hypercube ``[0, 1)^D`` and then
mapped to parameter values: ranges through ``scipy.stats.qmc.scale`` (in log space for
``scale: log``), distributions through their quantile function (ppf), discrete value
lists by cutting ``[0, 1)`` into equal bins. The unit matrix is kept because SALib's
analyses are defined on it. The sweep file itself is :mod:`analysis.experiments.spec`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from analysis.experiments.spec import SweepSpec

__all__ = ["Design", "build_design", "salib_problem"]


# ------------------------------------------------------------------------------ mapping


def _map_unit(param: Any, u: np.ndarray) -> np.ndarray:
    """Map unit-cube coordinates ``u`` in [0, 1] to parameter values (vectorised)."""
    u = np.asarray(u, dtype=float)
    if param.kind == "values":
        k = len(param.values)
        # Equal-width bins of [0, 1): u = 1 (Morris' top level) falls in the last bin.
        idx = np.minimum((u * k).astype(np.int64), k - 1)
        return np.asarray(param.values, dtype=object)[idx]
    if param.kind == "range":
        lo, hi = param.low, param.high
        if param.scale == "log":
            x = np.exp(qmc.scale(u[:, None], math.log(lo), math.log(hi))[:, 0])
            return (
                np.clip(np.rint(x), math.ceil(lo), math.floor(hi)).astype(np.int64)
                if param.integer
                else x
            )
        if param.integer:
            # floor over [low, high + 1) gives each integer an equal share of the cube;
            # rounding would give the two end values only half a share.
            ilo, ihi = math.ceil(lo), math.floor(hi)
            return np.clip(np.floor(ilo + u * (ihi - ilo + 1)), ilo, ihi).astype(np.int64)
        return qmc.scale(u[:, None], lo, hi)[:, 0]
    q_lo, q_hi = param.truncate if param.distribution != "uniform" else (0.0, 1.0)
    x = param.scipy_dist().ppf(q_lo + u * (q_hi - q_lo))
    return np.rint(x).astype(np.int64) if param.integer else x


def _grid_levels(param: Any) -> np.ndarray:
    if param.kind == "values":
        return np.asarray(param.values, dtype=object)
    n = param.levels
    if param.kind == "range":
        if param.scale == "log":
            x = np.geomspace(param.low, param.high, n)
        else:
            x = np.linspace(param.low, param.high, n)
        return np.unique(np.rint(x).astype(np.int64)) if param.integer else x
    # Distribution on a grid: quantile midpoints, i.e. equal-probability strata.
    x = _map_unit(param, (np.arange(n) + 0.5) / n)
    return np.unique(x) if param.integer else x


# ------------------------------------------------------------------------------ designs


@dataclass(frozen=True)
class Design:
    """A realised design.

    ``points``: one row per design point, one column per parameter path (parameter
    units). ``unit``: the same points in the unit hypercube (None for grids, whose
    analysis works on the levels themselves).
    """

    method: str
    points: pd.DataFrame
    unit: np.ndarray | None

    @property
    def n_points(self) -> int:
        return len(self.points)

    def overrides(self, point: int) -> dict[str, object]:
        """Override mapping for one point, with plain Python scalars (picklable, YAML-safe)."""
        row = self.points.iloc[point]
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}

    def all_overrides(self) -> list[dict[str, object]]:
        """:meth:`overrides` of every point (pandas boxes numpy scalars to Python ones)."""
        return self.points.to_dict(orient="records")  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable record (stored in ``sweep.json``)."""
        cols = list(self.points.columns)
        data = [
            [(v.item() if isinstance(v, np.generic) else v) for v in row]
            for row in self.points.itertuples(index=False)
        ]
        return {
            "method": self.method,
            "columns": cols,
            "points": data,
            "unit": None if self.unit is None else self.unit.tolist(),
        }


def _unit_design(spec: SweepSpec) -> np.ndarray:
    d = len(spec.parameters)
    cfg = spec.design
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed))
    if cfg.method == "lhs":
        return qmc.LatinHypercube(d=d, rng=rng).random(cfg.n)
    if cfg.method == "sobol":
        return qmc.Sobol(d=d, scramble=True, rng=rng).random_base2(int(math.log2(cfg.n)))
    # Deferred import: SALib is heavy and only these two designs need it.
    problem = salib_problem(spec)
    if cfg.method == "saltelli":
        from SALib.sample import sobol as sobol_sample

        return sobol_sample.sample(
            problem, cfg.n, calc_second_order=cfg.calc_second_order, scramble=True, seed=rng
        )
    if cfg.method == "morris":
        from SALib.sample import morris as morris_sample

        return morris_sample.sample(problem, cfg.n, num_levels=cfg.levels, seed=rng)
    raise AssertionError(cfg.method)


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """SALib problem over the unit cube (the mapping to parameter units happens after)."""
    d = len(spec.parameters)
    return {"num_vars": d, "names": spec.parameter_paths, "bounds": [[0.0, 1.0]] * d}


def build_design(spec: SweepSpec) -> Design:
    """Generate the design points of ``spec`` (deterministic given ``spec.seed``)."""
    paths = spec.parameter_paths
    if spec.design.method == "grid":
        levels = [_grid_levels(p) for p in spec.parameters]
        # Cartesian product with the first parameter varying slowest (itertools order).
        idx = np.indices([len(lv) for lv in levels]).reshape(len(levels), -1)
        cols = {
            path: pd.Series(lv[i], dtype=_dtype(lv))
            for path, lv, i in zip(paths, levels, idx, strict=True)
        }
        return Design("grid", pd.DataFrame(cols), None)
    unit = _unit_design(spec)
    cols = {}
    for j, p in enumerate(spec.parameters):
        x = _map_unit(p, unit[:, j])
        cols[p.path] = pd.Series(x, dtype=_dtype(x))
    return Design(spec.design.method, pd.DataFrame(cols), unit)


def _dtype(x: np.ndarray) -> Any:
    if x.dtype != object:
        return x.dtype
    kinds = {type(v) for v in x}
    if kinds <= {int}:
        return np.int64
    if kinds <= {int, float}:
        return np.float64
    if kinds <= {bool}:
        return bool
    return object
