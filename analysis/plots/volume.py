"""``volume_multiples.png``: simulated and real volume multiples side by side.

Drawn from a run's ``volume.csv`` (:mod:`analysis.vs_real`): for the shock day and the session
after it, each ticker's volume over its 63-session average daily volume, simulated next to
real, on a log scale (a factor of 2 either way is the target band, shaded around real).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.plots import save_figure  # noqa: E402

#: The target band around a real multiple: within this factor either way.
TARGET_FACTOR = 2.0


def plot_volume_multiples(run: Path, summary: dict) -> Path | None:
    """Grouped bars per ticker (sim, real) for the shock day and the next session."""
    vt = pd.read_csv(run / "volume.csv", parse_dates=["date"])
    sd = pd.Timestamp(summary["metrics"]["shock_date"])
    days = sorted(d for d in vt["date"].unique() if d >= sd)[:2]
    if not days:
        return None
    fig, axes = plt.subplots(1, len(days), figsize=(6.5 * len(days), 4), sharey=True)
    for ax, day in zip(np.atleast_1d(axes), days, strict=True):
        v = vt[vt["date"] == day]
        x = np.arange(len(v))
        real = v["real_multiple"].to_numpy(dtype=float)
        ax.bar(x - 0.2, v["sim_multiple"], width=0.4, color="#1f77b4", label="simulated")
        ax.bar(x + 0.2, real, width=0.4, color="black", label="real")
        for xi, r in zip(x, real, strict=True):
            if np.isfinite(r):
                ax.fill_between(
                    [xi - 0.45, xi + 0.45], r / TARGET_FACTOR, r * TARGET_FACTOR,
                    color="grey", alpha=0.2, lw=0,
                )  # fmt: skip
        ax.axhline(1.0, color="black", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(v["ticker"], rotation=45, fontsize=8)
        ax.set_title(f"{pd.Timestamp(day):%d %b %Y}: volume / 63-session average")
        ax.grid(axis="y", alpha=0.3, which="both")
    np.atleast_1d(axes)[0].set_ylabel("volume multiple (log scale)")
    np.atleast_1d(axes)[0].legend(fontsize=8, title=f"grey: real ÷/× {TARGET_FACTOR:g}")
    fig.tight_layout()
    path = run / "plots" / "volume_multiples.png"
    save_figure(fig, path)
    return path
