"""Ensembles: one scenario run with many seeds, summarised as bands and fan charts.

``run_ensemble`` is what ``run.py run SCENARIO --replications N`` calls. Replication ``i`` runs
with seed ``replication_seeds(seed, N)[i]`` -- children of ``numpy.random.SeedSequence(seed)``,
derived exactly as the sweep engine derives task seeds -- so every replication can be re-run
alone with ``run.py run SCENARIO --seed S``. The replications are tasks of the experiment
runner (:mod:`analysis.experiments.runner`: a local process pool or a Dask cluster), and the
results do not depend on where they ran.

Files written into ``out``:

* ``replications/NNN/daily.parquet`` and ``intraday.parquet`` -- each replication's daily bars
  and intraday prices (timestamp, ticker, price in USD), written by the task itself so that
  the parent never holds every replication's tables; replaced by each ensemble run.
* ``ensemble_daily.csv`` -- the daily bars of every replication: replication, seed, date,
  ticker, open, high, low, close (USD), volume (shares), market_cap_usd, return_pct (percent,
  close to close).
* ``ensemble_summary.json`` -- per ticker and index, the shock-day metrics across replications
  (median, p5, p95, min, max), the seeds, the reference values and whether the real close on
  the shock date falls inside the simulated 5-95 % band.
* ``plots/fan_<TICKER>.png`` and ``plots/fan_grid.png`` -- fan charts
  (:mod:`analysis.plots.fans`): median and 5-95 % band of the simulated intraday path and daily
  closes, with the real daily closes overlaid.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.experiments.protocol import task_seeds
from analysis.experiments.runner import (
    Outcome,
    Pool,
    RunnerError,
    Task,
    make_executor,
    run_tasks,
)
from analysis.plots.fans import BAND

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.tables import RunResult

__all__ = [
    "replication_seeds",
    "run_ensemble",
    "run_replications",
    "simulate_replication",
]

# shock-day metrics summarised per ticker: summary key -> analysis.metrics name
TICKER_METRICS = {
    "shock_return_pct": "shock_return",
    "dollar_change_usd": "dollar_change",
    "volume_multiple": "volume_multiple",
    "max_drawdown_pct": "max_drawdown",
    "rebound_pct": "rebound",
}
INDEX_METRICS = {"shock_return_pct": "group_return", "rebound_pct": "group_rebound"}
REPLICATIONS_DIR = "replications"
#: Modules the workers of an ensemble import once (in the local pool's fork server).
PRELOAD = ("sim.simulate", "analysis.metrics", "analysis.experiments.ensemble")


# --------------------------------------------------------------------------------------------
# Seeds and replications (shared with analysis.validation.validate)
# --------------------------------------------------------------------------------------------
def replication_seeds(seed: int, n: int) -> list[int]:
    """``n`` deterministic integer seeds (63-bit) spawned from ``SeedSequence(seed)``.

    The sweep engine's task seeds (:func:`analysis.experiments.protocol.task_seeds`):
    ``SeedSequence(seed).spawn(n)[i].generate_state(1, uint64)[0] >> 1``.
    """
    if n < 1:
        raise ValueError(f"replications must be at least 1, got {n}")
    return [int(s) for s in task_seeds(seed, n)]


def run_replications(
    job: Callable[..., Any],
    arguments: Sequence[tuple[Any, ...]],
    executor: Pool | Executor | None = None,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "replications",
    preload: tuple[str, ...] = (),
) -> list[Any]:
    """``[job(*args) for args in arguments]``, in order, run by the experiment runner.

    ``executor``: a pool of :func:`~analysis.experiments.runner.make_executor` or any
    ``concurrent.futures.Executor``; default a local process pool of ``workers`` processes
    (default: CPU count, at most one per job) with ``preload`` imported in its fork server.
    ``job`` must be a module-level function. The first job that fails stops the others and
    raises :class:`~analysis.experiments.runner.RunnerError`; a dead worker is retried.
    """
    from tqdm.auto import tqdm

    results: list[Any] = [None] * len(arguments)

    def keep(task: Task, outcome: Outcome) -> None:
        if not outcome.ok:
            raise RunnerError(f"{desc}: replication {task.key} failed: {outcome.error}")
        results[int(task.key)] = outcome.value  # type: ignore[call-overload]

    with contextlib.ExitStack() as stack:
        if executor is None:
            n = min(workers or os.cpu_count() or 1, len(arguments))
            executor = stack.enter_context(make_executor(workers=n, preload=preload))
        bar = stack.enter_context(
            tqdm(total=len(arguments), disable=not progress, desc=desc, unit="run")
        )
        tasks = [Task(i, job, tuple(args)) for i, args in enumerate(arguments)]
        run_tasks(executor, tasks, keep, bar=bar)
    return results


# --------------------------------------------------------------------------------------------
# One replication
# --------------------------------------------------------------------------------------------
def _safe_metric(result: RunResult, name: str) -> float:
    from analysis.metrics import MetricError, compute_metric

    try:
        return float(compute_metric(result, name))
    except MetricError:
        return float("nan")


def simulate_replication(scenario: Scenario, seed: int, folder: str) -> dict[str, Any]:
    """Run one replication; write its tables into ``folder``; return what the summary needs.

    Writes ``folder/daily.parquet`` (the daily bars) and ``folder/intraday.parquet``
    (timestamp, ticker, price in USD), each atomically. Returns ``{"seed", "shock_date",
    "metrics", "index_metrics", "folder"}`` with the metrics as ``{ticker: {summary key:
    value}}``.
    """
    from analysis.metrics import index_returns, shock_date
    from sim.io import atomic_write
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
    tables = {"daily": res.daily, "intraday": res.intraday[["timestamp", "ticker", "price"]]}
    for name, table in tables.items():
        atomic_write(
            Path(folder) / f"{name}.parquet", lambda t, df=table: df.to_parquet(t, index=False)
        )
    return {
        "seed": seed,
        "shock_date": shock_date(res),
        "metrics": metrics,
        "index_metrics": index_metrics,
        "folder": folder,
    }


def _read_tables(
    reps: list[dict[str, Any]], tickers: list[str]
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every replication's daily bars, and per ticker its intraday prices and daily closes
    (replications x steps, replications x sessions), reading one replication at a time."""
    dailies = []
    prices: dict[str, list[np.ndarray]] = {t: [] for t in tickers}
    closes: dict[str, list[np.ndarray]] = {t: [] for t in tickers}
    for i, r in enumerate(reps):
        daily = pd.read_parquet(Path(r["folder"]) / "daily.parquet")
        intraday = pd.read_parquet(Path(r["folder"]) / "intraday.parquet")
        for t in tickers:
            prices[t].append(intraday.loc[intraday["ticker"] == t, "price"].to_numpy())
            closes[t].append(daily.loc[daily["ticker"] == t, "close"].to_numpy())
        dailies.append(daily.assign(replication=i, seed=r["seed"]))
    daily = pd.concat(dailies, ignore_index=True)
    panel = {t: (np.stack(prices[t]), np.stack(closes[t])) for t in tickers}
    return daily, panel


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


def _market_dir(scenario: Scenario, out: Path) -> Path | None:
    from analysis.plots.run import market_data_dir

    return market_data_dir({"reference": scenario.reference.model_dump(mode="json")}, out)


def _real_close_like(scenario: Scenario, ticker: str, day: dt.date) -> float | None:
    """The real close to compare with the simulated one, like with like: from the asset's own
    price file, and only when its starting price is that file's close of the session before the
    calendar (so both levels start from the same close); None otherwise."""
    from analysis.cross_section import real_close

    return real_close(scenario, ticker, day)


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
    workers: int | None = None,
    executor: Pool | Executor | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Run ``replications`` seeds of ``scenario``; write tables, summary and fan charts.

    Seeds are ``replication_seeds(seed if given else scenario.seed, replications)``; the
    replications run on ``executor`` (see :func:`run_replications`; default a local pool of
    ``workers`` processes). ``plots=False`` skips the fan charts. Returns the summary written
    to ``ensemble_summary.json`` (returns in percent, money in USD).
    """
    from analysis.plots.fans import plot_fans
    from sim.io import write_csv, write_json

    out = Path(out)
    base = scenario.seed if seed is None else seed
    seeds = replication_seeds(base, replications)
    folders = out.resolve() / REPLICATIONS_DIR
    shutil.rmtree(folders, ignore_errors=True)
    reps = run_replications(
        simulate_replication,
        [(scenario, s, str(folders / f"{i:03d}")) for i, s in enumerate(seeds)],
        executor=executor,
        workers=workers,
        progress=progress,
        desc=f"{scenario.name} ensemble",
        preload=PRELOAD,
    )

    daily, panel = _read_tables(reps, scenario.tickers)
    cols = ["replication", "seed"] + [c for c in daily.columns if c not in ("replication", "seed")]
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
            rc = _real_close_like(scenario, t, shock)
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
    if plots:
        sessions = [pd.Timestamp(d) for d in sorted(daily["date"].unique())]
        plot_fans(scenario, panel, sessions, out, mdir, shock)
    print_table(summary)
    print(f"\nwrote {out}/ ({replications} replications)")
    return summary
