"""Plots of a sweep's analysis (:func:`analysis.experiments.sensitivity.analyze`).

Each function draws one figure into ``path`` (PNG): a metric's mean over a pair of grid
parameters, bar charts of sensitivity indices, a Morris mu*-sigma plane, and the spread of a
metric across runs and replications.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["bar_plot", "heatmap", "morris_plot", "replication_plot"]

_MAX_BOXPLOT_POINTS = 40


def _label(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float | np.floating) else str(v)


def heatmap(path: Path, runs: pd.DataFrame, metric: str, p: str, q: str) -> None:
    table = runs.pivot_table(index=p, columns=q, values=metric, aggfunc="mean")
    fig = Figure(figsize=(1.2 + 0.9 * max(4, table.shape[1]), 1.0 + 0.7 * max(4, table.shape[0])))
    ax = fig.add_subplot()
    im = ax.imshow(table.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(
        range(table.shape[1]), [_label(v) for v in table.columns], rotation=45, ha="right"
    )
    ax.set_yticks(range(table.shape[0]), [_label(v) for v in table.index])
    ax.set_xlabel(q)
    ax.set_ylabel(p)
    if table.size <= 100:
        vals = table.to_numpy(dtype=float)
        mid = np.nanmean(vals)
        for (i, j), v in np.ndenumerate(vals):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.3g}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v < mid else "black",
                )
    fig.colorbar(im, ax=ax, label=f"mean {metric}")
    ax.set_title(f"{metric}: mean over replications")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def bar_plot(
    path: Path, table: pd.DataFrame, cols: list[tuple[str, str | None]], title: str
) -> None:
    fig = Figure(figsize=(max(5.0, 1.2 * len(table) + 2), 4.5))
    ax = fig.add_subplot()
    x = np.arange(len(table))
    width = 0.8 / len(cols)
    for i, (col, err) in enumerate(cols):
        yerr = table[err].to_numpy() if err else None
        ax.bar(
            x + (i - (len(cols) - 1) / 2) * width,
            table[col],
            width,
            yerr=yerr,
            capsize=3,
            label=col,
        )
    ax.set_xticks(x, [str(v) for v in table.index], rotation=30, ha="right", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def morris_plot(path: Path, table: pd.DataFrame, metric: str) -> None:
    fig = Figure(figsize=(6.5, 5))
    ax = fig.add_subplot()
    ax.errorbar(table["mu_star"], table["sigma"], xerr=table["mu_star_conf"], fmt="o", capsize=3)
    for name, row in table.iterrows():
        ax.annotate(
            str(name),
            (row["mu_star"], row["sigma"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlabel("mu* (mean |elementary effect| per parameter range)")
    ax.set_ylabel("sigma (interaction / non-linearity)")
    ax.set_title(f"Morris screening of {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def replication_plot(path: Path, runs: pd.DataFrame, metric: str, replications: int) -> None:
    values = runs[metric].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    n_points = runs["point"].nunique()
    with_box = replications > 1 and n_points <= _MAX_BOXPLOT_POINTS
    fig = Figure(figsize=(11 if with_box else 6, 4.5))
    ax = fig.add_subplot(1, 2 if with_box else 1, 1)
    ax.hist(values, bins=int(min(50, max(5, np.sqrt(len(values))))), color="tab:blue", alpha=0.8)
    ax.set_xlabel(metric)
    ax.set_ylabel("runs")
    ax.set_title(f"{metric}: {len(values)} successful runs")
    if with_box:
        ax2 = fig.add_subplot(1, 2, 2)
        groups = [g[metric].dropna().to_numpy(dtype=float) for _, g in runs.groupby("point")]
        labels = [str(p) for p in sorted(runs["point"].unique())]
        ax2.boxplot(groups, tick_labels=labels)
        ax2.set_xlabel("design point")
        ax2.set_ylabel(metric)
        ax2.set_title(f"spread across {replications} replications")
        ax2.tick_params(axis="x", labelsize=7, rotation=90)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
