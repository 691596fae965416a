"""The files of a posterior (:mod:`analysis.calibration.posterior`): tables, JSON, Markdown,
the corner plot; written into a temporary folder that replaces the output folder at the end
(:func:`analysis.rundir.results_folder`), so a killed run leaves the old outputs whole."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.calibration.abc import AbcResult, prior_predictive_check
from analysis.calibration.posterior import (
    PINNED,
    TRADE_OFF,
    WEAK,
    PosteriorInputs,
    dumps,
    target_correlations,
    trade_offs,
)

__all__ = ["render_report", "write_outputs"]


def _samples(inputs: PosteriorInputs, res: AbcResult) -> pd.DataFrame:
    acc = inputs.runs.iloc[res.index]
    df = pd.DataFrame(
        {
            "task": acc["task"].to_numpy(),
            "point": acc["point"].to_numpy(),
            "distance": res.distance,
            "weight": res.weights,
        }
    )
    for j, pr in enumerate(inputs.priors):
        df[pr.path] = pr.from_unit(res.unit[:, j])
    for j, pr in enumerate(inputs.priors if res.adjusted else ()):
        df[f"{pr.path} (unadjusted)"] = pr.from_unit(res.raw_unit[:, j])
    for k, t in enumerate(inputs.targets):
        df[t.metric] = inputs.S[res.index, k]
    return df.sort_values("distance", kind="stable").reset_index(drop=True)


def _recovery_table(inputs: PosteriorInputs, rec: Mapping[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for i, r in enumerate(rec["rows"]):
        for j, pr in enumerate(inputs.priors):
            rows.append(
                {
                    "task": int(inputs.runs["task"].iloc[r]),
                    "parameter": pr.path,
                    "truth": float(pr.from_unit(rec["truth"][i, j])),
                    "median": float(pr.from_unit(rec["median"][i, j])),
                    "q05": float(pr.from_unit(rec["low"][i, j])),
                    "q95": float(pr.from_unit(rec["high"][i, j])),
                    "covered": bool(rec["covered"][i, j]),
                }
            )
    return pd.DataFrame(rows)


def _g(x: Any) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def render_report(
    inputs: PosteriorInputs,
    res: AbcResult,
    table: pd.DataFrame,
    pairs: pd.DataFrame,
    settings: Mapping[str, Any],
) -> str:
    """``report.md``: settings, the identification table, the trade-offs, the notes."""
    n = len(inputs.runs)
    how = "rejection + local-linear regression adjustment" if res.adjusted else "rejection"
    lines = [
        f"# Posterior of {inputs.spec.name} (ABC on {inputs.sweep_dir})",
        "",
        f"ABC {how}: {res.n_accepted} of {n} runs accepted (quantile {settings['quantile']}, "
        f"tolerance: distance <= {res.delta:.3g}, i.e. single-run J <= {res.delta**2:.3g}).",
        "Observed data: "
        + ", ".join(
            f"`{t.metric}` = {t.value:g} (scale {t.s:g}, weight {t.weight:g})"
            for t in inputs.targets
        )
        + ".",
        "",
        "Width = 90 % interval as a fraction of the prior range (search space; the prior's own: "
        f"0.90); pinned down <= {PINNED}, weakly identified >= {WEAK}. Recovery: "
        f"{settings['n_recovery']} runs of the table held out in turn as pseudo-observed data; "
        "coverage = share whose true value lies in the 90 % interval (nominal 0.90); bias = mean "
        "(median - truth) and width in the same search-space units.",
        "",
    ]
    has_rec = "recovery_coverage90" in table.columns
    head = "| parameter | prior | base | median | 5-95 % | width | verdict |"
    sep = "| --- | --- | ---: | ---: | --- | ---: | --- |"
    if has_rec:
        head += " coverage | bias | width (recovery) |"
        sep += " ---: | ---: | ---: |"
    lines += [head, sep]
    for r in table.to_dict(orient="records"):
        log = ", log" if r["scale"] == "log" else ""
        row = (
            f"| `{r['parameter']}` | {r['prior_low']:g}-{r['prior_high']:g}{log} | "
            f"{_g(r['base_value'])} | {r['median']:.3g} | [{r['q05']:.3g}, {r['q95']:.3g}] | "
            f"{r['width_frac']:.2f} | {r['verdict']} |"
        )
        if has_rec:
            row += (
                f" {r['recovery_coverage90']:.2f} | {r['recovery_bias']:+.3f} | "
                f"{r['recovery_width']:.2f} |"
            )
        lines.append(row)
    alt = "rejection" if res.adjusted else "adjusted"
    if f"{alt}_width_frac" in table.columns:
        what = (
            "plain rejection (the same accepted runs, no adjustment)"
            if res.adjusted
            else "with the local-linear regression adjustment (the same accepted runs)"
        )
        lines += [
            "",
            f"For comparison, {what}:",
            "",
            "| parameter | 5-95 % | width | coverage |",
            "| --- | --- | ---: | ---: |",
        ]
        for r in table.to_dict(orient="records"):
            lines.append(
                f"| `{r['parameter']}` | [{r[f'{alt}_q05']:.3g}, {r[f'{alt}_q95']:.3g}] | "
                f"{r[f'{alt}_width_frac']:.2f} | {_g(r.get(f'{alt}_coverage90'))} |"
            )
    lines += ["", f"Trade-offs (posterior correlation, |r| >= {TRADE_OFF}):", ""]
    if pairs.empty:
        lines.append("none")
    for p in pairs.to_dict(orient="records"):
        lines.append(f"* `{p['a']}` - `{p['b']}`: r = {p['corr']:+.2f}")
    check = prior_predictive_check(inputs.S, inputs.s_obs)
    pct = ", ".join(
        f"`{t.metric}` {p:.2f}" for t, p in zip(inputs.targets, check["percentile"], strict=True)
    )
    lines += [
        "",
        f"Prior-predictive check: share of runs below each real value: {pct}. Jointly, the "
        f"real targets' Mahalanobis distance from the runs' mean is {check['mahalanobis']:.2f}; "
        f"{check['share_farther']:.1%} of the runs are at least as far"
        + (
            " (the model rarely produces the real combination of targets anywhere in the box: "
            "the regression adjustment extrapolates, prefer plain rejection)."
            if check["share_farther"] < 0.05
            else "."
        ),
    ]
    tc = target_correlations(inputs)
    lines += [
        "",
        "Which target informs which parameter (correlation over all runs of the table):",
        "",
        "| parameter | " + " | ".join(f"`{c}`" for c in tc.columns) + " |",
        "| --- |" + " ---: |" * len(tc.columns),
    ]
    for name, values in tc.iterrows():
        lines.append(f"| `{name}` | " + " | ".join(f"{v:+.2f}" for v in values) + " |")
    if inputs.notes:
        lines += ["", "Notes:", ""] + [f"* {note}" for note in inputs.notes]
    return "\n".join(lines) + "\n"


def write_outputs(
    out: Path,
    inputs: PosteriorInputs,
    res: AbcResult,
    rec: Mapping[str, np.ndarray] | None,
    table: pd.DataFrame,
    settings: Mapping[str, Any],
) -> None:
    """Write every output file into ``out`` as a whole (see the module docstring)."""
    from analysis.plots.posterior import plot_corner
    from analysis.rundir import results_folder

    names = [pr.path for pr in inputs.priors]
    corr = res.corr()
    pairs = trade_offs(names, corr)
    record = {
        "sweep": str(inputs.sweep_dir.resolve()),
        "calibration": str(inputs.spec.source) if inputs.spec.source else None,
        "settings": dict(settings),
        "n_runs": len(inputs.runs),
        "n_accepted": res.n_accepted,
        "delta": res.delta,
        "adjusted": res.adjusted,
        "local_r2": dict(zip(names, res.r2.tolist(), strict=True)),
        "targets": [
            {"metric": t.metric, "value": t.value, "scale": t.s, "weight": t.weight}
            for t in inputs.targets
        ],
        "identification": table.to_dict(orient="records"),
        "correlation": {"parameters": names, "matrix": corr.tolist()},
        "trade_offs": pairs.to_dict(orient="records"),
        "prior_predictive_check": prior_predictive_check(inputs.S, inputs.s_obs),
        "notes": inputs.notes,
    }
    with results_folder(out, "posterior") as tmp:
        _samples(inputs, res).to_csv(tmp / "posterior_samples.csv", index=False)
        table.to_csv(tmp / "identification.csv", index=False)
        pd.DataFrame(corr, index=names, columns=names).to_csv(tmp / "correlation.csv")
        target_correlations(inputs).to_csv(tmp / "target_correlation.csv")
        if rec is not None:
            _recovery_table(inputs, rec).to_csv(tmp / "recovery.csv", index=False)
        (tmp / "posterior.json").write_text(dumps(record) + "\n", encoding="utf-8")
        (tmp / "report.md").write_text(
            render_report(inputs, res, table, pairs, settings), encoding="utf-8"
        )
        plot_corner(inputs, res, corr, tmp / "corner.png")
