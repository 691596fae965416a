"""Pairwise ("corner") plot of an ABC posterior (:mod:`analysis.calibration.posterior`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.plots import save_figure

if TYPE_CHECKING:
    from analysis.calibration.abc import AbcResult
    from analysis.calibration.posterior import PosteriorInputs

__all__ = ["plot_corner"]


def _short(path: str) -> str:
    """Axis label of a parameter path: its last two parts."""
    parts = path.split(".")
    return ".".join(parts[-2:]) if len(parts) > 1 else path


def _plain_ticks(axis: Any, low: float, high: float) -> None:
    """Three or four plainly written ticks on a log axis from ``low`` to ``high``."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ticks = [t for t in (0.03, 0.1, 0.3, 1, 3, 10) if low <= t <= high * 1.0001]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(lambda v, _pos: f"{v:g}")


def plot_corner(
    inputs: PosteriorInputs, res: AbcResult, corr: np.ndarray, path: Path, bins: int = 10
) -> None:
    """Diagonal: posterior share of each parameter per bin (bins of equal width in the search
    space; the flat prior as a dashed line; the 5-95 % interval shaded, the median a line); below: accepted runs (size by weight) over every prior draw
    (grey); above: the posterior correlation. Axes span the prior ranges, in log scale for
    ``scale: log``; a red cross marks the base scenario's values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    priors = inputs.priors
    d = len(priors)
    vals = np.column_stack([pr.from_unit(res.unit[:, j]) for j, pr in enumerate(priors)])
    prior_vals = np.column_stack([pr.from_unit(inputs.theta[:, j]) for j, pr in enumerate(priors)])
    base = [inputs.base_values.get(pr.path) for pr in priors]
    w = res.weights
    size = 6 + 40 * w / w.max()
    fig, axes = plt.subplots(d, d, figsize=(2.1 * d + 0.8, 2.1 * d + 0.6), squeeze=False)
    for i, pi in enumerate(priors):
        for j, pj in enumerate(priors):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                r = corr[i, j]
                ax.text(
                    0.5,
                    0.5,
                    f"r = {r:+.2f}",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=11 + 6 * abs(r),
                    color="firebrick" if abs(r) >= 0.3 else "grey",
                )
                continue
            if i == j:
                # bins of equal width in the search space: the flat prior is 1 / bins
                edges = pi.from_unit(np.linspace(0, 1, bins + 1))
                ax.hist(vals[:, i], bins=edges, weights=w / w.sum(), color="steelblue")
                ax.axhline(1 / bins, color="grey", linestyle="--", lw=1)
                q = res.quantiles([0.05, 0.5, 0.95])[:, i]
                lo, med, hi = pi.from_unit(q)
                ax.axvspan(lo, hi, color="steelblue", alpha=0.15)
                ax.axvline(med, color="navy", lw=1)
                ax.set_yticks([])
            else:
                ax.scatter(prior_vals[:, j], prior_vals[:, i], s=3, color="0.8", lw=0)
                ax.scatter(vals[:, j], vals[:, i], s=size, color="steelblue", alpha=0.7, lw=0)
                if base[i] is not None and base[j] is not None:
                    ax.plot(base[j], base[i], "x", color="red", ms=8, mew=2)
                ax.set_ylim(pi.low, pi.high)
                if pi.scale == "log":
                    ax.set_yscale("log")
            if i == j and base[i] is not None:
                ax.axvline(base[i], color="red", lw=1, ls=":")
            ax.set_xlim(pj.low, pj.high)
            if pj.scale == "log":
                ax.set_xscale("log")
                _plain_ticks(ax.xaxis, pj.low, pj.high)
            if i != j and pi.scale == "log":
                _plain_ticks(ax.yaxis, pi.low, pi.high)
            if i == d - 1:
                ax.set_xlabel(_short(pj.path), fontsize=9)
            else:
                ax.tick_params(labelbottom=False, which="both")
            if j == 0 and i > 0:
                ax.set_ylabel(_short(pi.path), fontsize=9)
            elif j > 0 and i != j:
                ax.tick_params(labelleft=False, which="both")
            ax.tick_params(labelsize=7)
    how = "regression-adjusted" if res.adjusted else "rejection"
    fig.suptitle(
        f"ABC posterior ({how}): {res.n_accepted} of {len(inputs.theta)} runs; "
        "grey: prior draws, red: base scenario",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, path)
