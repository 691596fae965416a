"""Fan charts of an ensemble: median and 5-95 % band of every asset's simulated path.

``plots/fan_<TICKER>.png`` and ``plots/fan_grid.png``: the simulated intraday path and daily
closes of every replication (:func:`analysis.experiments.ensemble.run_ensemble`), in percent
from the starting price against trading time, with the real daily closes overlaid.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.plots import save_figure

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

    from sim.scenario import Scenario

__all__ = ["BAND", "fan_bands", "plot_fans"]

BAND = (5.0, 95.0)  # percentiles of the fan


def fan_bands(paths: np.ndarray) -> dict[str, np.ndarray]:
    """Median and 5-95 % band across replications of ``paths`` (replications x time)."""
    lo, med, hi = np.percentile(paths, [BAND[0], 50.0, BAND[1]], axis=0)
    return {"median": med, "p5": lo, "p95": hi}


def _fan_axes(
    ax: plt.Axes,
    ticker: str,
    price0: float,
    sessions: list[pd.Timestamp],
    steps: int,
    intraday: np.ndarray,
    closes: np.ndarray,
    real: pd.Series | None,
    shock: dt.date | None,
    compact: bool,
) -> None:
    """One fan chart, in % from the starting price against trading time (sessions)."""
    n_days = len(sessions)
    # x: session i spans [i, i + 1]; a close sits at i + 1, intraday step k at i + (k + 1)/steps
    x_intra = np.arange(1, n_days * steps + 1) / steps
    x_close = np.arange(1, n_days + 1, dtype=float)
    pct_i = 100.0 * (intraday / price0 - 1.0)
    pct_c = 100.0 * (closes / price0 - 1.0)
    bi = fan_bands(pct_i)
    bc = fan_bands(pct_c)
    blue = "#1f77b4"
    if steps > 1:
        ax.fill_between(
            x_intra, bi["p5"], bi["p95"], color=blue, alpha=0.15, lw=0, label="intraday 5-95%"
        )
        ax.plot(x_intra, bi["median"], color=blue, lw=0.6, alpha=0.6, label="intraday median")
    ms = 2.5 if compact or n_days > 40 else 4.0
    if n_days <= 40:
        # few sessions: the close band as bars, distinct from the intraday band
        err = np.vstack([bc["median"] - bc["p5"], bc["p95"] - bc["median"]])
        ax.errorbar(x_close, bc["median"], yerr=err, fmt="none", ecolor="#0b3c66", lw=1.6,
                    capsize=3, label="daily close 5-95%")  # fmt: skip
    else:
        ax.fill_between(x_close, bc["p5"], bc["p95"], color=blue, alpha=0.3, lw=0,
                        label="daily close 5-95%")  # fmt: skip
    ax.plot(x_close, bc["median"], "o-", color="#0b3c66", lw=1.2, ms=ms, label="median close")
    if real is not None:
        day_index = {d: i for i, d in enumerate(sessions)}
        pts = [(day_index[d] + 1.0, v) for d, v in real.items() if d in day_index]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(
                xs,
                100.0 * (np.array(ys) / price0 - 1.0),
                "o",
                color="black",
                ms=ms + 0.5,
                label="real close",
                zorder=5,
            )
    if shock is not None and pd.Timestamp(shock) in sessions:
        i = sessions.index(pd.Timestamp(shock))
        ax.axvspan(i, i + 1, color="red", alpha=0.08, lw=0)
    ax.axhline(0, color="grey", lw=0.5)
    every = max(1, int(np.ceil(n_days / (6 if compact else 12))))
    ticks = list(range(0, n_days, every))
    ax.set_xticks([i + 1 for i in ticks])
    fmt = "%d %b" if n_days <= 60 else "%b %y"
    ax.set_xticklabels(
        [sessions[i].strftime(fmt) for i in ticks],
        rotation=45,
        ha="right",
        fontsize=7 if compact else 8,
    )
    ax.set_xlim(0, n_days + 0.2)
    ax.set_title(f"{ticker} (start ${price0:,.2f})", fontsize=10 if compact else 12)
    ax.set_ylabel("% from start", fontsize=8 if compact else 10)
    ax.grid(alpha=0.3)


def plot_fans(
    scenario: Scenario,
    panel: dict[str, tuple[np.ndarray, np.ndarray]],
    sessions: list[pd.Timestamp],
    out: Path,
    mdir: Path | None,
    shock: dt.date | None,
) -> list[Path]:
    """Write ``plots/fan_<TICKER>.png`` for every asset and ``plots/fan_grid.png``.

    ``panel``: per ticker, the intraday prices and the daily closes of every replication
    (replications x steps, replications x sessions, USD); ``sessions``: the trading days.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.plots.run import real_closes

    tickers = scenario.tickers
    price0 = {a.ticker: a.price for a in scenario.universe.assets}
    n_rep, n_steps = panel[tickers[0]][0].shape
    steps = max(1, n_steps // len(sessions))
    real = {t: real_closes(mdir, t) for t in tickers}
    paths = []
    for t in tickers:
        fig, ax = plt.subplots(figsize=(10, 5))
        _fan_axes(ax, t, price0[t], sessions, steps, *panel[t], real[t], shock, compact=False)
        ax.legend(fontsize=8, loc="best")
        fig.suptitle(
            f"{scenario.name}: {t}, {n_rep} replications (shaded red: shock date)", fontsize=11
        )
        fig.tight_layout()
        p = out / "plots" / f"fan_{t}.png"
        save_figure(fig, p)
        paths.append(p)
    ncol = min(4, len(tickers))
    nrow = int(np.ceil(len(tickers) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.2 * nrow), squeeze=False)
    flat = axes.ravel()
    for ax, t in zip(flat, tickers, strict=False):
        _fan_axes(ax, t, price0[t], sessions, steps, *panel[t], real[t], shock, compact=True)
    for ax in flat[len(tickers) :]:
        ax.set_visible(False)
    handles, labels = flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(labels),
        fontsize=8,
        bbox_to_anchor=(0.5, -0.02),
    )
    fig.suptitle(
        f"{scenario.name}: median and 5-95% band of {n_rep} replications, real closes in black",
        fontsize=12,
    )
    # room for the legend below and ~0.45 inch for the title above, whatever the rows
    fig.tight_layout(rect=(0, 0.03, 1, 1 - 0.45 / fig.get_figheight()))
    p = out / "plots" / "fan_grid.png"
    save_figure(fig, p)
    paths.append(p)
    return paths
