"""Ensembles: one scenario run with many seeds, summarised as bands and fan charts.

``run_ensemble`` is what ``run.py run SCENARIO --replications N`` calls. Replication ``i`` runs
with seed ``replication_seeds(seed, N)[i]`` -- children of ``numpy.random.SeedSequence(seed)``,
derived exactly as the sweep engine derives task seeds -- so every replication can be re-run
alone with ``run.py run SCENARIO --seed S``, and the results do not depend on whether the runs
went through worker processes or not.

Files written into ``out``:

* ``ensemble_daily.csv`` -- the daily bars of every replication: replication, seed, date,
  ticker, open, high, low, close (USD), volume (shares), market_cap_usd, return_pct (percent,
  close to close).
* ``ensemble_summary.json`` -- per ticker and index, the shock-day metrics across replications
  (median, p5, p95, min, max), the seeds, the reference values and whether the real close on
  the shock date falls inside the simulated 5-95 % band.
* ``plots/fan_<TICKER>.png`` and ``plots/fan_grid.png`` -- fan charts: median and 5-95 % band
  of the simulated intraday path and daily closes, with the real daily closes overlaid.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

    from sim.scenario import Scenario
    from sim.tables import RunResult

__all__ = [
    "fan_bands",
    "plot_fans",
    "replication_seeds",
    "run_ensemble",
    "run_replications",
    "simulate_replication",
]

T = TypeVar("T")

# shock-day metrics summarised per ticker: summary key -> analysis.metrics name
TICKER_METRICS = {
    "shock_return_pct": "shock_return",
    "dollar_change_usd": "dollar_change",
    "volume_multiple": "volume_multiple",
    "max_drawdown_pct": "max_drawdown",
    "rebound_pct": "rebound",
}
INDEX_METRICS = {"shock_return_pct": "group_return", "rebound_pct": "group_rebound"}
BAND = (5.0, 95.0)  # percentiles of the fan


# --------------------------------------------------------------------------------------------
# Seeds and replications (shared with analysis.validation.validate)
# --------------------------------------------------------------------------------------------
def replication_seeds(seed: int, n: int) -> list[int]:
    """``n`` deterministic integer seeds (63-bit) spawned from ``SeedSequence(seed)``.

    Same derivation as the sweep engine's task seeds:
    ``SeedSequence(seed).spawn(n)[i].generate_state(1, uint64)[0] >> 1``.
    """
    if n < 1:
        raise ValueError(f"replications must be at least 1, got {n}")
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(c.generate_state(1, np.uint64)[0] >> 1) for c in children]


def run_replications(
    job: Callable[[Scenario, int], T],
    scenario: Scenario,
    seeds: Sequence[int],
    workers: int = 1,
    progress: bool = True,
    desc: str = "replications",
) -> list[T]:
    """``[job(scenario, s) for s in seeds]``, in seed order, with a progress bar.

    With ``workers > 1`` the jobs run in a ``ProcessPoolExecutor`` (forkserver processes);
    ``job`` must then be a module-level function. Each job depends on its seed alone, so the
    result is the same either way.
    """
    from tqdm.auto import tqdm

    out: list[Any] = [None] * len(seeds)
    with tqdm(total=len(seeds), disable=not progress, desc=desc, unit="run") as bar:
        if workers <= 1 or len(seeds) == 1:
            for i, s in enumerate(seeds):
                out[i] = job(scenario, s)
                bar.update(1)
            return out
        ctx = multiprocessing.get_context("forkserver")
        # workers fork from a server that has imported the simulator once
        ctx.set_forkserver_preload(
            ["sim.simulate", "analysis.metrics", "analysis.experiments.ensemble"]
        )
        with ProcessPoolExecutor(max_workers=min(workers, len(seeds)), mp_context=ctx) as ex:
            futures = {ex.submit(job, scenario, s): i for i, s in enumerate(seeds)}
            for fut in as_completed(futures):
                out[futures[fut]] = fut.result()
                bar.update(1)
    return out


# --------------------------------------------------------------------------------------------
# One replication
# --------------------------------------------------------------------------------------------
def _safe_metric(result: RunResult, name: str) -> float:
    from analysis.metrics import MetricError, compute_metric

    try:
        return float(compute_metric(result, name))
    except MetricError:
        return float("nan")


def simulate_replication(scenario: Scenario, seed: int) -> dict[str, Any]:
    """Run one replication; keep only what an ensemble needs (small enough to pickle).

    Returns ``{"seed", "shock_date", "daily", "intraday", "metrics", "index_metrics"}`` with
    ``intraday`` reduced to timestamp, ticker, price (USD) and the metrics as
    ``{ticker: {summary key: value}}``.
    """
    from analysis.metrics import index_returns, shock_date
    from sim.simulate import run_model

    _, res = run_model(scenario, seed=seed, progress=False)
    metrics = {
        t: {k: _safe_metric(res, f"{m}:{t}") for k, m in TICKER_METRICS.items()}
        for t in res.tickers
    }
    groups = list(index_returns(res).columns) if scenario.indices else []
    index_metrics = {
        g: {k: _safe_metric(res, f"{m}:{g}") for k, m in INDEX_METRICS.items()} for g in groups
    }
    return {
        "seed": seed,
        "shock_date": shock_date(res),
        "daily": res.daily,
        "intraday": res.intraday[["timestamp", "ticker", "price"]],
        "metrics": metrics,
        "index_metrics": index_metrics,
    }


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------
def _stats(values: Sequence[float]) -> dict[str, float | None]:
    """median, p5, p95, min, max of the finite values (None when there are none)."""
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return {"median": None, "p5": None, "p95": None, "min": None, "max": None}
    lo, med, hi = np.percentile(a, [BAND[0], 50.0, BAND[1]])
    return {
        "median": float(med),
        "p5": float(lo),
        "p95": float(hi),
        "min": float(a.min()),
        "max": float(a.max()),
    }


def fan_bands(paths: np.ndarray) -> dict[str, np.ndarray]:
    """Median and 5-95 % band across replications of ``paths`` (replications x time)."""
    lo, med, hi = np.percentile(paths, [BAND[0], 50.0, BAND[1]], axis=0)
    return {"median": med, "p5": lo, "p95": hi}


def _market_dir(scenario: Scenario, out: Path) -> Path | None:
    from analysis.plots.run import market_data_dir

    return market_data_dir({"reference": scenario.reference.model_dump(mode="json")}, out)


def _real_close_on(mdir: Path | None, ticker: str, day: dt.date) -> float | None:
    from analysis.plots.run import real_closes

    real = real_closes(mdir, ticker)
    if real is None or pd.Timestamp(day) not in real.index:
        return None
    return float(real.loc[pd.Timestamp(day)])


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------
def _save(fig: plt.Figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    from sim.io import atomic_write

    atomic_write(path, lambda t: fig.savefig(t, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)


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
    reps: list[dict[str, Any]],
    out: Path,
    mdir: Path | None,
    shock: dt.date | None,
) -> list[Path]:
    """Write ``plots/fan_<TICKER>.png`` for every asset and ``plots/fan_grid.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.plots.run import real_closes

    tickers = scenario.tickers
    price0 = {a.ticker: a.price for a in scenario.universe.assets}
    d0 = reps[0]["daily"]
    sessions = [pd.Timestamp(d) for d in sorted(d0["date"].unique())]
    n_steps = reps[0]["intraday"]["timestamp"].nunique()
    steps = max(1, n_steps // len(sessions))
    n_rep = len(reps)
    real = {t: real_closes(mdir, t) for t in tickers}
    panel: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for t in tickers:
        intra = np.stack(
            [r["intraday"].loc[r["intraday"]["ticker"] == t, "price"].to_numpy() for r in reps]
        )
        closes = np.stack(
            [r["daily"].loc[r["daily"]["ticker"] == t, "close"].to_numpy() for r in reps]
        )
        panel[t] = (intra, closes)
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
        _save(fig, p)
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
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    p = out / "plots" / "fan_grid.png"
    _save(fig, p)
    paths.append(p)
    return paths


# --------------------------------------------------------------------------------------------
# The ensemble
# --------------------------------------------------------------------------------------------
def _fmt(v: float | None, spec: str) -> str:
    """``format(v, spec)``, or a dash padded to the same width when there is no value."""
    if v is not None and np.isfinite(v):
        return format(v, spec)
    width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
    return "-".rjust(int(width) if width else 1)


def print_table(summary: dict[str, Any]) -> None:
    """Ticker, median shock-day return, 5-95 % band, real return, real close inside the band."""
    sd = summary["shock_date"]
    print(
        f"\n{summary['scenario']}: {summary['replications']} replications, shock date {sd}"
        + ("" if summary["shock_date_from_reference"] else " (largest move of each run)")
    )
    print(f"{'ticker':14s}{'median %':>10s}{'5-95% band':>20s}{'real %':>9s}  real close in band")
    for t, m in summary["tickers"].items():
        r = m["shock_return_pct"]
        band = f"[{_fmt(r['p5'], '.2f')}, {_fmt(r['p95'], '.2f')}]"
        inside = m["real_close_in_band"]
        txt = "-" if inside is None else ("yes" if inside else "no")
        if inside is not None:
            txt += (
                f" (real {m['real_close']:.2f} vs "
                f"[{m['close']['p5']:.2f}, {m['close']['p95']:.2f}])"
            )
        print(
            f"{t:14s}{_fmt(r['median'], '10.2f')}{band:>20s}{_fmt(m['real_return_pct'], '9.2f')}  {txt}"
        )
    for g, m in summary["indices"].items():
        r = m["shock_return_pct"]
        band = f"[{_fmt(r['p5'], '.2f')}, {_fmt(r['p95'], '.2f')}]"
        print(
            f"{'[' + g + ']':14s}{_fmt(r['median'], '10.2f')}{band:>20s}{_fmt(m['real_return_pct'], '9.2f')}"
        )


def run_ensemble(
    scenario: Scenario,
    out: Path,
    replications: int,
    seed: int | None = None,
    progress: bool = True,
    workers: int = 1,
) -> dict[str, Any]:
    """Run ``replications`` seeds of ``scenario``; write tables, summary and fan charts.

    Seeds are ``replication_seeds(seed if given else scenario.seed, replications)``. Returns
    the summary written to ``ensemble_summary.json`` (returns in percent, money in USD).
    """
    from sim.io import write_csv, write_json

    out = Path(out)
    base = scenario.seed if seed is None else seed
    seeds = replication_seeds(base, replications)
    reps = run_replications(
        simulate_replication,
        scenario,
        seeds,
        workers=workers,
        progress=progress,
        desc=f"{scenario.name} ensemble",
    )

    daily = pd.concat(
        [r["daily"].assign(replication=i, seed=r["seed"]) for i, r in enumerate(reps)],
        ignore_index=True,
    )
    cols = ["replication", "seed"] + [c for c in reps[0]["daily"].columns]
    daily = daily[cols].assign(date=daily["date"].dt.date)
    write_csv(daily, out / "ensemble_daily.csv", float_format="%.6f")

    ref = scenario.reference
    from_ref = ref.shock_date is not None
    shock = ref.shock_date if from_ref else None
    mdir = _market_dir(scenario, out)
    tickers: dict[str, Any] = {}
    for t in scenario.tickers:
        entry: dict[str, Any] = {
            k: _stats([r["metrics"][t][k] for r in reps]) for k in TICKER_METRICS
        }
        entry["real_return_pct"] = ref.returns_pct.get(t)
        entry["close"] = None
        entry["real_close"] = None
        entry["real_close_in_band"] = None
        if shock is not None:
            d = daily[(daily["ticker"] == t) & (daily["date"] == shock)]
            entry["close"] = _stats(d["close"].to_numpy())
            rc = _real_close_on(mdir, t, shock)
            entry["real_close"] = rc
            if rc is not None and entry["close"]["p5"] is not None:
                entry["real_close_in_band"] = bool(
                    entry["close"]["p5"] <= rc <= entry["close"]["p95"]
                )
        tickers[t] = entry
    groups = reps[0]["index_metrics"].keys()
    indices = {
        g: {
            **{k: _stats([r["index_metrics"][g][k] for r in reps]) for k in INDEX_METRICS},
            "real_return_pct": ref.index_returns_pct.get(g),
        }
        for g in groups
    }
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "replications": replications,
        "base_seed": base,
        "seeds": seeds,
        "shock_date": str(shock) if shock is not None else None,
        "shock_date_from_reference": from_ref,
        "shock_dates": [str(r["shock_date"]) for r in reps],
        "band_percentiles": list(BAND),
        "tickers": tickers,
        "indices": indices,
        "reference": ref.model_dump(mode="json"),
        "market_data_dir": str(mdir) if mdir is not None else None,
        "units": {
            "shock_return_pct": "percent, close to close",
            "dollar_change_usd": "USD",
            "volume_multiple": "shock-day volume / average daily volume",
            "max_drawdown_pct": "percent, intraday path",
            "rebound_pct": "percent, session after the shock",
            "close": "USD",
        },
    }
    write_json(summary, out / "ensemble_summary.json")
    plot_fans(scenario, reps, out, mdir, shock)
    print_table(summary)
    print(f"\nwrote {out}/ ({replications} replications)")
    return summary
