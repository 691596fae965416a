"""Plot of a calibration: the objective J against the optimiser's generations (``trace.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis.plots import save_figure

__all__ = ["plot_trace"]


def plot_trace(trace: list[dict[str, Any]], path: Path) -> None:
    """Best J so far and each generation's best against the generation (log scale if J > 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 3.5))
    g = [r["generation"] for r in trace]
    ax.plot(g, [r["best_objective"] for r in trace], "o-", label="best so far")
    ax.plot(g, [r["generation_best"] for r in trace], "x", color="grey", label="generation best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation (0 = initial population)")
    ax.set_ylabel("objective J")
    if all(r["generation_best"] > 0 for r in trace):
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
