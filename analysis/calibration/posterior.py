"""Posterior over a calibration's parameters by ABC on a prior sweep's runs table.

``python run.py posterior SWEEP_DIR CALIBRATION.yaml`` reads the runs of a finished (or
partly finished) sweep whose design is a prior over the calibration's parameters (e.g.
``scenarios/sweeps/deepseek_prior.yaml``: a Sobol' design within the calibration's bounds,
one seed per point), takes the calibration's targets (real values ``value``, scales ``s_k``,
weights ``w_k``) as the observed data, and computes an ABC posterior
(:mod:`analysis.calibration.abc`). It writes, atomically, into ``OUT`` (default
``SWEEP_DIR/posterior``):

* ``posterior_samples.csv``: the accepted runs (sweep ``task`` and ``point``, distance,
  posterior weight, regression-adjusted parameter values in their units);
* ``identification.csv``: per parameter the prior range and scale, the value in the base
  scenario, the posterior median and 5-95 % interval, the interval's width as a fraction of
  the prior range (in the search space: log for ``scale: log``; the prior's own 90 % interval
  is 0.90), the verdict, and the parameter-recovery coverage, bias and mean width; and the
  other method's (regression adjustment, or plain rejection with ``adjust``) interval, width
  and recovery coverage, for comparison;
* ``correlation.csv``: the posterior correlation matrix (search-space coordinates);
* ``target_correlation.csv``: over every run, each parameter's correlation with each target
  (which target carries information on which parameter);
* ``recovery.csv``: every held-out pseudo-observation, truth, median and interval;
* ``corner.png``: pairwise plot; ``posterior.json`` (settings, inputs, every table) and
  ``report.md`` (the tables as Markdown).

Verdicts: **pinned down** if the 90 % interval covers at most half the prior range,
**weakly identified** if it covers at least three quarters, **partly** in between; "at the
lower (upper) bound" when the interval reaches within 2 % of the prior range of that bound
(the data push the parameter against the edge of the box, so the box, not the data, decides
how far).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.calibration.abc import AbcResult, abc_posterior, recovery
from analysis.calibration.spec import CalibrationError, CalibrationSpec, Target, load_calibration

__all__ = [
    "PINNED",
    "PosteriorError",
    "PosteriorInputs",
    "Prior",
    "WEAK",
    "load_inputs",
    "run_posterior",
    "summarise",
]

#: 90 % interval width (fraction of the prior range) at or below which a parameter is pinned.
PINNED = 0.5
#: ... and at or above which it is weakly identified.
WEAK = 0.75
#: Posterior correlations at least this large (absolute) are listed as trade-offs.
TRADE_OFF = 0.3
#: A 90 % interval closer than this (fraction of the prior range) to a bound is "at" it.
EDGE = 0.02


class PosteriorError(ValueError):
    """The inputs of a posterior are unusable; the message is one line saying why."""


@dataclass(frozen=True)
class Prior:
    """A uniform prior on ``[low, high]``, uniform in log space for ``scale == "log"``."""

    path: str
    low: float
    high: float
    scale: str

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Search-space coordinate in [0, 1] of values ``x`` (parameter units)."""
        x = np.asarray(x, float)
        if self.scale == "log":
            return (np.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Parameter values at search-space coordinates ``u`` (inverse of :meth:`to_unit`)."""
        u = np.asarray(u, float)
        if self.scale == "log":
            return np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)


@dataclass
class PosteriorInputs:
    """What the ABC needs, read and checked: ``theta`` (n x D, unit cube) and ``S`` (n x k)
    from the sweep's ok runs, the observed values, scales and weights of ``targets`` (the
    calibration's targets, with ``include_validation`` also validation facts)."""

    sweep_dir: Path
    spec: CalibrationSpec
    priors: list[Prior]
    targets: list[Target]
    runs: pd.DataFrame
    theta: np.ndarray
    S: np.ndarray
    base_values: dict[str, float | None]
    notes: list[str] = field(default_factory=list)

    @property
    def s_obs(self) -> np.ndarray:
        return np.array([t.value for t in self.targets])

    @property
    def scales(self) -> np.ndarray:
        return np.array([t.s for t in self.targets])

    @property
    def weights(self) -> np.ndarray:
        return np.array([t.weight for t in self.targets])


def _base_values(spec: CalibrationSpec, paths: list[str]) -> dict[str, float | None]:
    """The base scenario's own values of ``paths`` (with the calibration's overrides)."""
    from analysis.experiments.tasks import scenario_loader
    from sim.scenario import get_path

    dumped = scenario_loader(spec.base_path)(spec.overrides).model_dump(mode="json")
    out: dict[str, float | None] = {}
    for p in paths:
        try:
            v = get_path(dumped, p)
        except KeyError:
            v = None
        out[p] = float(v) if isinstance(v, int | float) else None
    return out


def _priors(spec: CalibrationSpec, sweep: dict[str, Any], where: str) -> list[Prior]:
    """The sweep's range parameters, checked against the calibration's parameters."""
    swept = {p["path"]: p for p in sweep["spec"]["parameters"]}
    priors: list[Prior] = []
    for p in spec.parameters:
        q = swept.get(p.path)
        if q is None:
            raise PosteriorError(
                f"{where}: the sweep does not vary the calibration's parameter {p.path!r} "
                f"(it varies {', '.join(swept)})"
            )
        if "low" not in q or "high" not in q:
            raise PosteriorError(f"{where}: parameter {p.path!r} is not a low/high range")
        scale = q.get("scale", "linear")
        if scale != p.scale or not (
            math.isclose(q["low"], p.low, rel_tol=1e-9)
            and math.isclose(q["high"], p.high, rel_tol=1e-9)
        ):
            raise PosteriorError(
                f"{where}: {p.path} is swept on [{q['low']:g}, {q['high']:g}] ({scale}) but the "
                f"calibration searches [{p.low:g}, {p.high:g}] ({p.scale}); the prior must be "
                "the calibration's box: update the sweep file and rerun it"
            )
        priors.append(Prior(p.path, p.low, p.high, p.scale))
    return priors


def load_inputs(
    sweep_dir: str | Path,
    calibration: str | Path,
    include_validation: bool = False,
    exclude: Sequence[str] = (),
) -> PosteriorInputs:
    """Read the sweep's runs and the calibration; :class:`PosteriorError` (one line) if the
    folder is not a sweep, a calibration parameter is not swept on its box, or a target is
    not a column of the runs table.

    ``include_validation`` adds the calibration's validation facts that are run metrics of
    the base and columns of the table (the others are listed in the notes) to the observed
    data; ``exclude`` drops facts by metric name or label."""
    from analysis.experiments.sweep import SweepError, read_runs, read_sweep_json

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise PosteriorError(f"{sweep_dir}: no such folder (expected a sweep's output folder)")
    try:
        spec = load_calibration(calibration)
        sweep = read_sweep_json(sweep_dir)
        runs = read_runs(sweep_dir)
    except (CalibrationError, SweepError, FileNotFoundError) as err:
        raise PosteriorError(" ".join(str(err).split())) from None
    where = str(sweep_dir / "sweep.json")
    priors = _priors(spec, sweep, where)
    cal = Path(calibration).name
    for i, t in enumerate(spec.targets):
        if t.scenario is not None or t.statistic is not None:
            raise PosteriorError(
                f"{cal}: targets.{i} ({t.label}) is not a run metric of the base scenario; "
                "a sweep's runs table cannot answer it"
            )
        if t.metric not in runs.columns:
            metrics = sweep["spec"].get("metrics", [])
            raise PosteriorError(
                f"{cal}: targets.{i}: metric {t.metric!r} is not in the sweep's runs table "
                f"(its metrics: {', '.join(metrics)}); add it to the sweep's metrics and rerun"
            )
    notes: list[str] = []
    facts = list(spec.targets)
    if include_validation:
        for v in spec.validation:
            if v.scenario is None and v.statistic is None and v.metric in runs.columns:
                facts.append(v)
            else:
                notes.append(f"validation fact {v.label} left out (not a column of the runs)")
    for name in exclude:
        if not any(name in (f.metric, f.label) for f in facts):
            raise PosteriorError(
                f"--exclude {name}: not one of the facts ({', '.join(f.label for f in facts)})"
            )
    facts = [f for f in facts if f.metric not in exclude and f.label not in exclude]
    if not facts:
        raise PosteriorError(f"{cal}: no facts left to compare with the runs")
    fixed = sweep["spec"].get("fixed", {})
    over = {k: (str(v) if not isinstance(v, int | float) else v) for k, v in spec.overrides.items()}
    fix = {k: (str(v) if not isinstance(v, int | float) else v) for k, v in fixed.items()}
    if over != fix:
        notes.append(
            f"the sweep's fixed overrides {fix} differ from the calibration's overrides {over}"
        )
    n_all = len(runs)
    ok = runs[runs["status"] == "ok"]
    cols = [t.metric for t in facts]
    S = ok[cols].to_numpy(dtype=float)
    finite = np.isfinite(S).all(axis=1)
    ok, S = ok[finite].reset_index(drop=True), S[finite]
    if n_all - len(ok):
        notes.append(f"{n_all - len(ok)} of {n_all} runs left out (failed or non-finite targets)")
    n_tasks = int(sweep.get("n_tasks", n_all))
    if n_all < n_tasks:
        notes.append(f"the sweep is unfinished: {n_all} of {n_tasks} runs recorded")
    if len(ok) < 4 * (len(priors) + len(cols) + 2):
        raise PosteriorError(
            f"{sweep_dir / 'runs.csv'}: only {len(ok)} usable runs; ABC on {len(priors)} "
            f"parameters and {len(cols)} targets needs at least {4 * (len(priors) + len(cols) + 2)}"
        )
    theta = np.column_stack([pr.to_unit(ok[pr.path].to_numpy(float)) for pr in priors])
    base = _base_values(spec, [p.path for p in priors])
    return PosteriorInputs(sweep_dir, spec, priors, facts, ok, theta, S, base, notes)


def _verdict(low: float, high: float) -> str:
    """Verdict of a 90 % interval ``[low, high]`` in search-space coordinates."""
    width = high - low
    text = "pinned down" if width <= PINNED else "weakly identified" if width >= WEAK else "partly"
    if width < WEAK and low < EDGE:
        text += ", at the lower bound"
    elif width < WEAK and high > 1 - EDGE:
        text += ", at the upper bound"
    return text


def summarise(
    inputs: PosteriorInputs,
    res: AbcResult,
    rec: dict[str, np.ndarray] | None,
    other: AbcResult | None = None,
    rec_other: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The identification table (one row per parameter; see the module docstring).

    ``other`` and ``rec_other``, the posterior and recovery of the other method (with the
    regression adjustment if ``res`` is plain rejection, and the other way round), add its
    interval, width and coverage for comparison, in columns named ``adjusted_*`` or
    ``rejection_*``."""
    q05, q50, q95 = res.quantiles([0.05, 0.5, 0.95])
    rq = other.quantiles([0.05, 0.95]) if other is not None else None
    alt = "adjusted" if other is not None and other.adjusted else "rejection"
    rows = []
    for j, pr in enumerate(inputs.priors):
        lo, med, hi = (float(pr.from_unit(np.array(v[j]))) for v in (q05, q50, q95))
        row: dict[str, Any] = {
            "parameter": pr.path,
            "scale": pr.scale,
            "prior_low": pr.low,
            "prior_high": pr.high,
            "base_value": inputs.base_values.get(pr.path),
            "median": med,
            "q05": lo,
            "q95": hi,
            "width_frac": float(q95[j] - q05[j]),
            "verdict": _verdict(float(q05[j]), float(q95[j])),
        }
        if rec is not None:
            row["recovery_coverage90"] = float(rec["covered"][:, j].mean())
            row["recovery_bias"] = float((rec["median"][:, j] - rec["truth"][:, j]).mean())
            row["recovery_width"] = float((rec["high"][:, j] - rec["low"][:, j]).mean())
        if rq is not None:
            row[f"{alt}_q05"] = float(pr.from_unit(np.array(rq[0, j])))
            row[f"{alt}_q95"] = float(pr.from_unit(np.array(rq[1, j])))
            row[f"{alt}_width_frac"] = float(rq[1, j] - rq[0, j])
        if rec_other is not None:
            row[f"{alt}_coverage90"] = float(rec_other["covered"][:, j].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def target_correlations(inputs: PosteriorInputs) -> pd.DataFrame:
    """Which target informs which parameter: the correlation, over every run of the table
    (the prior predictive), of each parameter (search-space coordinate) with each target."""
    rows = {}
    for j, pr in enumerate(inputs.priors):
        with np.errstate(invalid="ignore", divide="ignore"):  # a constant target: NaN
            rows[pr.path] = {
                t.metric: float(np.corrcoef(inputs.theta[:, j], inputs.S[:, k])[0, 1])
                for k, t in enumerate(inputs.targets)
            }
    return pd.DataFrame.from_dict(rows, orient="index")


def trade_offs(names: list[str], corr: np.ndarray, threshold: float = TRADE_OFF) -> pd.DataFrame:
    """Parameter pairs whose posterior correlation is at least ``threshold`` in size."""
    rows = [
        {"a": names[i], "b": names[j], "corr": float(corr[i, j])}
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if abs(corr[i, j]) >= threshold
    ]
    df = pd.DataFrame(rows, columns=["a", "b", "corr"])
    return df.reindex(df["corr"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def run_posterior(
    sweep_dir: str | Path,
    calibration: str | Path,
    out: str | Path | None = None,
    quantile: float = 0.1,
    adjust: bool = False,
    n_recovery: int = 100,
    seed: int = 0,
    include_validation: bool = False,
    exclude: Sequence[str] = (),
) -> Path:
    """Compute the posterior and write every output into ``out`` (atomically, as a whole);
    returns the folder. Raises :class:`PosteriorError` before writing anything on bad input."""
    from analysis.calibration.posterior_report import write_outputs
    from analysis.rundir import OutputError, check_target

    if not 0 < quantile <= 1:
        raise PosteriorError(f"--quantile must be in (0, 1], got {quantile}")
    inputs = load_inputs(sweep_dir, calibration, include_validation, exclude)
    out_path = Path(out) if out is not None else Path(sweep_dir) / "posterior"
    try:
        check_target(out_path)
    except OutputError as err:
        raise PosteriorError(str(err)) from None
    res, other = (
        abc_posterior(
            inputs.theta, inputs.S, inputs.s_obs, inputs.scales, inputs.weights, quantile, a
        )
        for a in (adjust, not adjust)
    )
    recs: dict[bool, dict[str, np.ndarray]] = {}
    for a in (adjust, not adjust) if n_recovery > 0 else ():
        # recovery of the chosen method, and of the other one for comparison
        recs[a] = recovery(
            inputs.theta,
            inputs.S,
            inputs.scales,
            inputs.weights,
            quantile,
            a,
            n_points=n_recovery,
            seed=seed,
            groups=inputs.runs["point"].to_numpy(),
        )
    rec = recs.get(adjust)
    table = summarise(inputs, res, rec, other, recs.get(not adjust))
    settings = {
        "quantile": quantile,
        "adjust": adjust,
        "n_recovery": n_recovery,
        "seed": seed,
        "include_validation": include_validation,
        "exclude": list(exclude),
    }
    write_outputs(out_path, inputs, res, rec, table, settings)
    return out_path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


def dumps(data: Any) -> str:
    """JSON text of ``data`` (numpy scalars and arrays allowed; NaN written as null)."""
    text = json.dumps(data, indent=1, default=_json_default, allow_nan=True)
    return text.replace("NaN", "null")
