"""Analysis of a finished (or partly finished) sweep directory.

:func:`analyze` reads ``DIR/sweep.json`` and ``DIR/runs.csv`` and writes into
``DIR/analysis/``:

- ``point_means.csv``: per design point, each metric's mean, standard deviation and
  number of successful replications (failed runs excluded).
- ``heatmap_<metric>__<p>__<q>.png``: grid designs with >= 2 parameters, a metric's
  mean over each pair of parameters (averaged over replications and the others).
- ``sobol_<metric>.csv`` / ``.png``: saltelli designs, first-order (S1) and total
  (ST) Sobol' indices with 95 % bootstrap confidence intervals (SALib).
- ``morris_<metric>.csv`` / ``.png``: morris designs, mu, mu*, sigma, mu* confidence
  (elementary effects per unit of the parameter's *range*, so comparable across
  parameters).
- ``screening_<metric>.csv``: any design, a model-free first-order variance ratio
  (correlation ratio eta^2 over bins of each parameter, adjusted for the number of
  bins), the standardised rank regression coefficient (SRRC) and Spearman's rho.
- ``replications_<metric>.png``: histogram of the metric over all successful runs and
  a box plot per design point (its spread across replications).
- ``seed_share`` (in ``analysis.json``, printed): for each metric, the share of the
  runs' variance due to seeds, i.e. the mean within-point variance over replications
  divided by the variance of all runs, and the seed-noise share left in the point means
  the indices are computed from (that within-point variance / R over the variance of the
  point means). Needs replications >= 2.
- ``drivers.csv``: parameters ranked by how much they drive the crash-depth metric
  (ST for saltelli, mu* for morris, eta^2 otherwise); also printed.
- ``analysis.json``: counts (failed and missing runs included), indices, file list.

SALib expects one output per design row, so replications are averaged per point
first. The Sobol' table adds ``S1_clipped`` (S1 floored at 0: a variance share cannot be
negative, a negative estimate is noise), ``S1_nonneg`` (S1 >= 0 within its 95 % interval,
i.e. ``S1 + S1_conf >= 0``) and ``S1_resolved`` / ``ST_resolved`` (the interval's half-width
is smaller than the index, so the interval excludes 0). Sobol' and Morris estimators need whole blocks (a base sample with its cross
samples; a trajectory), so a block with a point whose every replication failed is
dropped as a whole, and the number dropped is reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError
from scipy import stats

from analysis.experiments.designs import salib_problem
from analysis.experiments.spec import SweepSpec
from analysis.experiments.sweep import (
    RUNS_CSV,
    SWEEP_JSON,
    SweepError,
    read_runs,
    read_sweep_json,
    write_parquet,
)
from analysis.plots.sensitivity import bar_plot, heatmap, morris_plot, replication_plot

__all__ = [
    "SweepData",
    "analyze",
    "crash_metric",
    "load_sweep",
    "morris_indices",
    "point_means",
    "screening_indices",
    "seed_share",
    "sobol_indices",
]

_MAX_HEATMAP_PAIRS = 6


@dataclass(frozen=True)
class SweepData:
    """A sweep directory loaded: spec, design matrix (parameter units), unit matrix, runs."""

    spec: SweepSpec
    points: pd.DataFrame
    unit: np.ndarray | None
    runs: pd.DataFrame
    n_tasks: int


def load_sweep(out_dir: str | Path) -> SweepData:
    """Load ``sweep.json`` and ``runs.csv`` of a sweep directory."""
    out_dir = Path(out_dir)
    json_path = out_dir / SWEEP_JSON
    if not json_path.is_file() or not (out_dir / RUNS_CSV).is_file():
        raise SweepError(f"{out_dir}: not a sweep directory (needs {SWEEP_JSON} and {RUNS_CSV})")
    rec = read_sweep_json(out_dir)
    try:
        spec = SweepSpec.model_validate(rec["spec"])
        design = rec["design"]
        points = pd.DataFrame(design["points"], columns=design["columns"])
        unit = None if design["unit"] is None else np.asarray(design["unit"], dtype=float)
        n_tasks = int(rec["n_tasks"])
    except (ValidationError, KeyError, TypeError, ValueError) as err:
        why = " ".join(str(err).split())[:200]
        raise SweepError(f"{json_path}: damaged ({why}); not a sweep record") from None
    return SweepData(spec, points, unit, read_runs(out_dir), n_tasks)


def crash_metric(metrics: list[str]) -> str:
    """The metric measuring crash depth: the first ``shock_return`` (else ``max_drawdown``,
    else the first metric)."""
    for prefix in ("shock_return", "max_drawdown"):
        for m in metrics:
            if m.startswith(prefix):
                return m
    return metrics[0]


def point_means(data: SweepData, metrics: list[str]) -> pd.DataFrame:
    """Per point: parameters, ``<metric>`` mean, ``<metric>:std``, ``<metric>:n`` over ok runs."""
    ok = data.runs[data.runs["status"] == "ok"]
    grouped = ok.groupby("point")[metrics]
    index = pd.RangeIndex(len(data.points), name="point")
    mean = grouped.mean().reindex(index)
    std = grouped.std(ddof=1).reindex(index).add_suffix(":std")
    count = grouped.count().reindex(index, fill_value=0).add_suffix(":n")
    out = pd.concat([data.points.set_axis(index), mean, std, count], axis=1)
    return out


def seed_share(data: SweepData, metric: str) -> dict[str, Any]:
    """How much of ``metric``'s variance the seeds make (ok runs; points with >= 2 runs).

    ``runs``: mean within-point variance / variance of all runs (the share of one run's
    variance due to seeds); ``point_means``: (mean within-point variance / replications) /
    variance of the point means (the seed noise left in what the indices are computed
    from). ``None`` when no point has two successful replications.
    """
    ok = data.runs[data.runs["status"] == "ok"]
    y = ok[metric].astype(float)
    grouped = y.groupby(ok["point"])
    within = grouped.var(ddof=1).dropna()
    out: dict[str, Any] = {"runs": None, "point_means": None, "points_with_replications": 0}
    if within.empty or len(y) < 2:
        return out
    total = float(y.var(ddof=1))
    means = grouped.mean()
    between = float(means.var(ddof=1)) if len(means) > 1 else float("nan")
    noise = float(within.mean())
    reps = float(grouped.count().loc[within.index].mean())
    out["points_with_replications"] = int(len(within))
    out["runs"] = noise / total if total > 0 else 0.0
    out["point_means"] = noise / reps / between if between > 0 else 0.0
    return out


# ------------------------------------------------------------------------ sensitivity


def _complete_blocks(y: np.ndarray, block: int) -> tuple[np.ndarray, int]:
    """Keep whole consecutive blocks of ``block`` rows without NaN; return kept mask, dropped."""
    n_blocks = len(y) // block
    good = ~np.isnan(y[: n_blocks * block].reshape(n_blocks, block)).any(axis=1)
    return np.repeat(good, block), int((~good).sum())


def sobol_indices(
    spec: SweepSpec, y: np.ndarray, seed: int | None = None
) -> tuple[pd.DataFrame, int]:
    """Sobol' S1/ST (and 95 % CI half-widths) from point means ``y`` of a saltelli design.

    Returns the table (one row per parameter) and the number of base samples dropped
    for missing outputs.
    """
    from SALib.analyze import sobol  # deferred: heavy, only needed for saltelli designs

    cfg = spec.design
    d = len(spec.parameters)
    block = 2 * d + 2 if cfg.calc_second_order else d + 2  # type: ignore[union-attr]
    keep, dropped = _complete_blocks(np.asarray(y, dtype=float), block)
    if keep.sum() < 2 * block:
        raise ValueError("fewer than 2 complete Saltelli blocks; cannot estimate Sobol' indices")
    yk = np.asarray(y, dtype=float)[: len(keep)][keep]
    if np.std(yk) == 0:
        zero = np.zeros(d)
        res = {"S1": zero, "S1_conf": zero, "ST": zero, "ST_conf": zero}
    else:
        res = sobol.analyze(
            salib_problem(spec),
            yk,
            calc_second_order=cfg.calc_second_order,  # type: ignore[union-attr]
            conf_level=0.95,
            seed=np.random.default_rng(spec.seed if seed is None else seed),
        )
    table = pd.DataFrame(
        {k: np.asarray(res[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")},
        index=pd.Index(spec.parameter_paths, name="parameter"),
    )
    table["S1_clipped"] = table["S1"].clip(lower=0.0)
    table["S1_nonneg"] = table["S1"] + table["S1_conf"] >= 0
    table["S1_resolved"] = table["S1_conf"] < table["S1"]
    table["ST_resolved"] = table["ST_conf"] < table["ST"]
    return table, dropped


def morris_indices(
    spec: SweepSpec, unit: np.ndarray, y: np.ndarray, seed: int | None = None
) -> tuple[pd.DataFrame, int]:
    """Morris mu, mu*, sigma, mu*_conf from point means ``y`` of a morris design.

    Effects are computed on the unit cube, i.e. per full parameter range.
    """
    from SALib.analyze import morris  # deferred: heavy, only needed for morris designs

    d = len(spec.parameters)
    keep, dropped = _complete_blocks(np.asarray(y, dtype=float), d + 1)
    if keep.sum() < 2 * (d + 1):
        raise ValueError("fewer than 2 complete Morris trajectories; cannot estimate effects")
    res = morris.analyze(
        salib_problem(spec),
        unit[: len(keep)][keep],
        np.asarray(y, dtype=float)[: len(keep)][keep],
        conf_level=0.95,
        num_levels=spec.design.levels,  # type: ignore[union-attr]
        seed=np.random.default_rng(spec.seed if seed is None else seed),
    )
    table = pd.DataFrame(
        {k: np.asarray(res[k], dtype=float) for k in ("mu", "mu_star", "sigma", "mu_star_conf")},
        index=pd.Index(spec.parameter_paths, name="parameter"),
    )
    return table, dropped


def _codes(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=float)
    return pd.factorize(col, sort=True)[0].astype(float)


def screening_indices(points: pd.DataFrame, y: np.ndarray, max_bins: int = 10) -> pd.DataFrame:
    """Model-free sensitivity of ``y`` (one value per row of ``points``; NaN rows skipped).

    - ``eta2``: first-order variance ratio Var(E[y | bin of x]) / Var(y), with x cut
      into its distinct values (<= ``max_bins`` of them, e.g. grid levels) or into
      equal-count bins; adjusted for the number of bins like an adjusted R^2, because
      noise alone gives each bin mean some spread.
    - ``srrc``: standardised rank regression coefficient (all parameters jointly).
    - ``spearman``: rank correlation of x and y.
    """
    y = np.asarray(y, dtype=float)
    ok = ~np.isnan(y)
    y = y[ok]
    x = np.column_stack([_codes(points[c]) for c in points.columns])[ok]
    n, d = x.shape
    cols = pd.Index(points.columns, name="parameter")
    if n < 3 or np.std(y) == 0:
        return pd.DataFrame({"eta2": 0.0, "srrc": 0.0, "spearman": 0.0, "n_bins": 0}, index=cols)
    n_bins_max = int(min(max_bins, max(2, np.sqrt(n))))
    eta2 = np.zeros(d)
    n_bins = np.zeros(d, dtype=int)
    ss_tot = ((y - y.mean()) ** 2).sum()
    for j in range(d):  # one vectorised pass per parameter; D is small
        uniq, inv = np.unique(x[:, j], return_inverse=True)
        if len(uniq) > n_bins_max:
            edges = np.quantile(x[:, j], np.linspace(0, 1, n_bins_max + 1)[1:-1])
            inv = np.unique(np.searchsorted(edges, x[:, j], side="right"), return_inverse=True)[1]
        k = int(inv.max()) + 1
        counts = np.bincount(inv, minlength=k)
        means = np.bincount(inv, weights=y, minlength=k) / np.maximum(counts, 1)
        raw = (counts * (means - y.mean()) ** 2).sum() / ss_tot
        eta2[j] = max(0.0, 1 - (1 - raw) * (n - 1) / max(n - k, 1)) if k > 1 else 0.0
        n_bins[j] = k
    rx = stats.rankdata(x, axis=0)
    ry = stats.rankdata(y)
    zx = (rx - rx.mean(0)) / np.where(rx.std(0) > 0, rx.std(0), 1.0)
    zy = (ry - ry.mean()) / ry.std()
    srrc = np.linalg.lstsq(np.column_stack([zx, np.ones(n)]), zy, rcond=None)[0][:d]
    spearman = (zx * zy[:, None]).mean(0)
    return pd.DataFrame(
        {"eta2": eta2, "srrc": srrc, "spearman": spearman, "n_bins": n_bins}, index=cols
    )


# --------------------------------------------------------------------------------- names


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


# ------------------------------------------------------------------------------ analyze


def _write_csv(df: pd.DataFrame, path: Path, files: list[str], index: bool = True) -> None:
    df.to_csv(path, index=index)
    files.append(path.name)


def analyze(out_dir: str | Path, metric: str | None = None) -> dict[str, Any]:
    """Analyse sweep directory ``out_dir`` (see the module docstring for the outputs).

    ``metric``: analyse only this metric and rank drivers by it; default: all metrics,
    drivers ranked for :func:`crash_metric`. Returns the ``analysis.json`` content.
    Raises :class:`~analysis.experiments.sweep.SweepError` for a missing directory or unknown metric.
    """
    out_dir = Path(out_dir)
    data = load_sweep(out_dir)
    spec = data.spec
    if metric is not None and metric not in spec.metrics:
        raise SweepError(f"unknown metric {metric!r}; this sweep has: {', '.join(spec.metrics)}")
    metrics = [metric] if metric else list(spec.metrics)
    focus = metric or crash_metric(spec.metrics)
    write_parquet(out_dir)
    adir = out_dir / "analysis"
    adir.mkdir(exist_ok=True)
    files: list[str] = []

    runs = data.runs
    ok_runs = runs[runs["status"] == "ok"]
    failed = runs[runs["status"] != "ok"]
    msgs = failed["error"].value_counts().head(10)
    summary: dict[str, Any] = {
        "name": spec.name,
        "design": spec.design.method,
        "parameters": spec.parameter_paths,
        "n_points": len(data.points),
        "replications": spec.replications,
        "n_tasks": data.n_tasks,
        "n_recorded": len(runs),
        "n_ok": len(ok_runs),
        "n_failed": len(failed),
        "n_missing": data.n_tasks - len(runs),
        "failure_messages": {str(k): int(v) for k, v in msgs.items()},
        "crash_metric": focus,
        "metrics": {},
    }

    means = point_means(data, metrics)
    _write_csv(means, adir / "point_means.csv", files)
    paths = spec.parameter_paths
    method = spec.design.method

    for m in metrics:
        info: dict[str, Any] = {
            "mean": float(ok_runs[m].mean()) if len(ok_runs) else None,
            "std": float(ok_runs[m].std()) if len(ok_runs) > 1 else None,
            "points_without_result": int(means[m].isna().sum()),
        }
        slug = _slug(m)
        if len(ok_runs):
            name = f"replications_{slug}.png"
            replication_plot(adir / name, ok_runs, m, spec.replications)
            files.append(name)
        y = means[m].to_numpy(dtype=float)

        if method == "grid":
            varied = [p for p in paths if data.points[p].nunique() > 1]
            pairs = [(p, q) for i, p in enumerate(varied) for q in varied[i + 1 :]][
                :_MAX_HEATMAP_PAIRS
            ]
            for p, q in pairs:
                if ok_runs[m].notna().any():
                    name = f"heatmap_{slug}__{_slug(p)}__{_slug(q)}.png"
                    heatmap(adir / name, ok_runs, m, p, q)
                    files.append(name)
        if method == "saltelli":
            try:
                table, dropped = sobol_indices(spec, y)
            except ValueError as err:
                info["sobol_error"] = str(err)
            else:
                _write_csv(table, adir / f"sobol_{slug}.csv", files)
                name = f"sobol_{slug}.png"
                bar_plot(
                    adir / name,
                    table,
                    [("S1", "S1_conf"), ("ST", "ST_conf")],
                    f"Sobol' indices of {m} (95 % CI)",
                )
                files.append(name)
                info["sobol"] = table.to_dict(orient="index")
                info["sobol_blocks_dropped"] = dropped
        if method == "morris" and data.unit is not None:
            try:
                table, dropped = morris_indices(spec, data.unit, y)
            except ValueError as err:
                info["morris_error"] = str(err)
            else:
                _write_csv(table, adir / f"morris_{slug}.csv", files)
                name = f"morris_{slug}.png"
                morris_plot(adir / name, table, m)
                files.append(name)
                info["morris"] = table.to_dict(orient="index")
                info["morris_trajectories_dropped"] = dropped
        info["seed_share"] = seed_share(data, m)
        screen = screening_indices(data.points, y)
        _write_csv(screen, adir / f"screening_{slug}.csv", files)
        info["screening"] = screen.to_dict(orient="index")
        summary["metrics"][m] = info

    drivers = _drivers(summary["metrics"][focus], focus)
    _write_csv(drivers, adir / "drivers.csv", files, index=False)
    summary["drivers"] = drivers.to_dict(orient="records")
    summary["files"] = files
    (adir / "analysis.json").write_text(json.dumps(_finite(summary), indent=1), encoding="utf-8")

    print(
        f"sweep {spec.name}: {summary['n_ok']} ok, {summary['n_failed']} failed, "
        f"{summary['n_missing']} missing of {summary['n_tasks']} runs"
    )
    for msg, count in summary["failure_messages"].items():
        print(f"  failed x{count}: {msg[:160]}")
    for key in ("sobol_error", "morris_error"):
        if key in summary["metrics"][focus]:
            print(
                f"  {key.split('_')[0]} analysis of {focus} skipped: {summary['metrics'][focus][key]}"
            )
    print(f"drivers of {focus} ({drivers['method'].iloc[0] if len(drivers) else 'n/a'}):")
    print(drivers.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    share = summary["metrics"][focus]["seed_share"]
    if share["runs"] is None:
        print("share of variance due to seeds: n/a (needs replications >= 2)")
    else:
        print(
            f"share of variance due to seeds: {100 * share['runs']:.1f} % of a run's variance, "
            f"{100 * share['point_means']:.1f} % of the point means' "
            f"({share['points_with_replications']} points)"
        )
    if "sobol" in summary["metrics"][focus]:
        t = pd.DataFrame.from_dict(summary["metrics"][focus]["sobol"], orient="index")
        print(
            f"intervals narrower than the index: ST {int(t['ST_resolved'].sum())}/{len(t)}, "
            f"S1 {int(t['S1_resolved'].sum())}/{len(t)}; "
            f"S1 >= 0 within its interval: {int(t['S1_nonneg'].sum())}/{len(t)}"
        )
    print(f"wrote {len(files) + 1} files to {adir}")
    return summary


def _drivers(info: dict[str, Any], metric: str) -> pd.DataFrame:
    """Rank parameters: by ST (saltelli), mu* (morris), else adjusted eta^2."""
    if "sobol" in info:
        table = pd.DataFrame.from_dict(info["sobol"], orient="index")
        method, key = "sobol_ST", "ST"
    elif "morris" in info:
        table = pd.DataFrame.from_dict(info["morris"], orient="index")
        method, key = "morris_mu_star", "mu_star"
    else:
        table = pd.DataFrame.from_dict(info["screening"], orient="index")
        method, key = "eta2_binned", "eta2"
    table = table.sort_values(key, ascending=False, kind="stable")
    table.insert(0, "score", table[key])
    table.insert(0, "parameter", table.index)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.insert(3, "method", method)
    table.insert(4, "metric", metric)
    return table.reset_index(drop=True)


def _finite(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to null (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
