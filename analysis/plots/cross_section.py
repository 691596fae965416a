"""Scatter of simulated vs real shock-day returns, one colour per company group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.plots import save_figure  # noqa: E402

#: Colours of the shipped groups; any other group takes the next colour of the palette.
GROUP_COLORS = {
    "chips": "#d62728",
    "networking_hardware": "#ff7f0e",
    "power_cooling": "#9467bd",
    "big_tech": "#1f77b4",
    "software": "#2ca02c",
    "rest": "#7f7f7f",
}
_EXTRA = ("#8c564b", "#e377c2", "#bcbd22", "#17becf")


def group_color(group: str, order: list[str]) -> str:
    """The colour of ``group`` (fixed for shipped groups, else by first appearance)."""
    if group in GROUP_COLORS:
        return GROUP_COLORS[group]
    others = [g for g in order if g not in GROUP_COLORS]
    return _EXTRA[others.index(group) % len(_EXTRA)] if group in others else _EXTRA[0]


def plot_cross_section(table: pd.DataFrame, stats: dict[str, Any], path: Path) -> Path:
    """Simulated (y) vs real (x) return in percent per company, labelled, with the 45-degree
    line; the title gives Spearman and MAE (points)."""
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    order = list(dict.fromkeys(table["group"]))
    for g, t in table.groupby("group", sort=False):
        ax.scatter(t["real_pct"], t["sim_pct"], s=36, color=group_color(str(g), order), label=g)
        for _, r in t.iterrows():
            ax.annotate(r["ticker"], (r["real_pct"], r["sim_pct"]), fontsize=7,
                        xytext=(3, 2), textcoords="offset points")  # fmt: skip
    lo = min(table["real_pct"].min(), table["sim_pct"].min()) - 1
    hi = max(table["real_pct"].max(), table["sim_pct"].max()) + 1
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--")
    ax.axhline(0, color="0.85", lw=0.6)
    ax.axvline(0, color="0.85", lw=0.6)
    ax.set_xlabel("real return on the shock date, %")
    ax.set_ylabel("simulated return, %")
    ax.set_title(
        f"Cross-section: Spearman {stats['spearman']:.2f}, MAE {stats['mae_points']:.1f} points "
        f"(n={stats['n']})"
    )
    ax.legend(fontsize=8, loc="upper left")
    save_figure(fig, path)
    return path
