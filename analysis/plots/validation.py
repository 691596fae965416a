"""Plots of a validation (:func:`analysis.validation.validate.validate`): simulated daily
returns against a real series.

``acf.png`` (ACF of returns and of ``|returns|``, simulated median with min-max band against
the real series), ``distribution.png`` (standardised returns, log-scale density, simulated
pooled against real and the normal) and ``qq.png`` (QQ plot against the normal).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.plots import save_figure
from analysis.validation import stylized

__all__ = ["plot_acf", "plot_distribution", "plot_qq"]

SIM_COLOR = "#1f77b4"
REAL_COLOR = "black"


def _standardise(a: np.ndarray) -> np.ndarray:
    s = a.std()
    return (a - a.mean()) / s if s > 0 else a - a.mean()


def plot_acf(
    sims: list[np.ndarray], real: np.ndarray, max_lag: int, title: str, path: Path
) -> None:
    """ACF of returns and of |returns|: simulated median with min-max band, and the real."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharex=True)
    lags = np.arange(1, max_lag + 1)
    for ax, fn, what in (
        (axes[0], stylized.acf_returns, "returns $r_t$"),
        (axes[1], stylized.acf_abs_returns, "absolute returns $|r_t|$"),
    ):
        curves = np.array([fn(s, max_lag) for s in sims])
        ax.fill_between(lags, curves.min(axis=0), curves.max(axis=0), color=SIM_COLOR, alpha=0.25,
                        lw=0, label=f"simulated min-max ({len(sims)} runs)")  # fmt: skip
        ax.plot(lags, np.median(curves, axis=0), color=SIM_COLOR, lw=1.5, label="simulated median")
        ax.plot(lags, fn(real, max_lag), color=REAL_COLOR, lw=1.2, label="real")
        # 95 % band of an i.i.d. series of the simulated length
        ci = 1.96 / np.sqrt(min(s.size for s in sims))
        ax.axhspan(-ci, ci, color="grey", alpha=0.15, lw=0, label="±1.96/√n (i.i.d.)")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel("lag (trading days)")
        ax.set_ylabel("autocorrelation")
        ax.set_title(f"ACF of {what}")
        ax.set_xlim(0.5, max_lag + 0.5)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def plot_distribution(sims: list[np.ndarray], real: np.ndarray, title: str, path: Path) -> None:
    """Density of standardised daily returns on a log scale: simulated pooled, real, normal."""
    import matplotlib.pyplot as plt
    import scipy.stats

    pooled = np.concatenate([_standardise(s) for s in sims])
    z_real = _standardise(real)
    lim = float(np.ceil(max(np.abs(pooled).max(), np.abs(z_real).max(), 4.0)))
    bins = np.linspace(-lim, lim, int(4 * lim) + 1)  # 0.5-sigma bins
    centres = 0.5 * (bins[1:] + bins[:-1])
    fig, ax = plt.subplots(figsize=(8, 5))
    for z, color, label, marker in (
        (pooled, SIM_COLOR, f"simulated (pooled, {len(sims)} runs, n={pooled.size})", "o"),
        (z_real, REAL_COLOR, f"real (n={z_real.size})", "s"),
    ):
        dens, _ = np.histogram(z, bins=bins, density=True)
        ok = dens > 0
        ax.plot(centres[ok], dens[ok], marker=marker, ms=4, lw=1.0, color=color, label=label)
    x = np.linspace(-lim, lim, 400)
    ax.plot(x, scipy.stats.norm.pdf(x), "--", color="grey", lw=1.0, label="standard normal")
    ax.set_yscale("log")
    floor = 0.5 / (max(pooled.size, z_real.size) * (bins[1] - bins[0]))
    ax.set_ylim(floor, 1.0)
    ax.set_xlabel("standardised daily log return (in standard deviations)")
    ax.set_ylabel("density (log scale)")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    save_figure(fig, path)


def plot_qq(sims: list[np.ndarray], real: np.ndarray, title: str, path: Path) -> None:
    """QQ plot of standardised daily returns against the standard normal."""
    import matplotlib.pyplot as plt
    import scipy.stats

    fig, ax = plt.subplots(figsize=(6.2, 6))
    zlim = qlim = 0.0
    pooled = np.sort(np.concatenate([_standardise(s) for s in sims]))
    z_real = np.sort(_standardise(real))
    series = (
        (z_real, dict(ls="-", lw=1.8, color=REAL_COLOR, label=f"real (n={z_real.size})")),
        (pooled, dict(ls="none", marker="o", ms=3.5, color=SIM_COLOR, alpha=0.7, mec="none",
                      label=f"simulated, pooled (n={pooled.size})")),
    )  # fmt: skip
    for z, style in series:
        q = scipy.stats.norm.ppf((np.arange(1, z.size + 1) - 0.5) / z.size)
        ax.plot(q, z, **style)
        zlim = max(zlim, float(np.abs(z).max()))
        qlim = max(qlim, float(np.abs(q).max()))
    ax.plot([-zlim, zlim], [-zlim, zlim], "--", color="grey", lw=1, label="normal (y = x)")
    ax.set_xlim(-qlim - 0.3, qlim + 0.3)
    ax.set_ylim(-zlim * 1.05, zlim * 1.05)
    ax.set_xlabel("standard normal quantile")
    ax.set_ylabel("standardised daily log return quantile")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    save_figure(fig, path)
