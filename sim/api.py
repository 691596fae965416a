"""Running scenarios from Python: one run, its tables, and the metrics sweeps ask for.

``run_scenario`` drives a :class:`~sim.model.MoatshockModel` through every tick and turns what
Mesa's ``DataCollector`` recorded into plain tables (:class:`RunResult`). ``evaluate`` is the
unit of work of sweeps and calibration: scenario file + overrides + seed -> metric values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sim.model import MoatshockModel
from sim.scenario import Scenario, load_scenario


@dataclass
class RunResult:
    """Tables of one run. Prices in USD, volumes in shares, returns in percent."""

    scenario: Scenario
    seed: int
    intraday: pd.DataFrame  # timestamp, ticker, price, volume
    daily: pd.DataFrame  # date, ticker, open, high, low, close, volume, market_cap_usd, return_pct
    flows: pd.DataFrame  # timestamp, cohort, ticker, shares (net bought in the step)
    beliefs: pd.DataFrame  # timestamp, factor, q05, q25, q50, q75, q95
    events: pd.DataFrame  # time, label, shock, informed_share
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def tickers(self) -> list[str]:
        return self.scenario.tickers


def _collect_tables(model: MoatshockModel) -> dict[str, pd.DataFrame]:
    u = model.universe
    df = model.datacollector.get_model_vars_dataframe()
    trading = df[df["trading"]]
    ts = pd.to_datetime(np.array(trading["timestamp"].tolist(), dtype="M8[m]"))
    lp = np.stack(trading["log_price"].to_numpy())
    vol = np.stack(trading["volume"].to_numpy())
    n_steps, n_a = lp.shape
    intraday = pd.DataFrame(
        {
            "timestamp": np.repeat(ts, n_a),
            "ticker": np.tile(u.tickers, n_steps),
            "price": np.exp(lp).ravel(),
            "volume": vol.ravel(),
        }
    )
    # daily bars from the intraday path; the open is the opening call auction
    day = model.ticks.day[model.ticks.trading]
    s = model.ticks.steps_per_session
    n_days = n_steps // s
    px = np.exp(lp).reshape(n_days, s, n_a)
    close = px[:, -1]
    prev = np.vstack([u.price0, close[:-1]])
    dates = [model.ticks.sessions[int(d)] for d in day[::s]]
    daily = pd.DataFrame(
        {
            "date": np.repeat(pd.to_datetime(dates), n_a),
            "ticker": np.tile(u.tickers, n_days),
            "open": px[:, 0].ravel(),
            "high": px.max(axis=1).ravel(),
            "low": px.min(axis=1).ravel(),
            "close": close.ravel(),
            "volume": vol.reshape(n_days, s, n_a).sum(axis=1).ravel(),
            "market_cap_usd": (close * u.shares).ravel(),
            "return_pct": (100.0 * (close / prev - 1.0)).ravel(),
        }
    )
    names = list(model.cohorts)
    fl = np.stack([np.stack([f[k] for k in names]) for f in trading["flows"]])  # (T, C, A)
    flows = pd.DataFrame(
        {
            "timestamp": np.repeat(ts, len(names) * n_a),
            "cohort": np.tile(np.repeat(names, n_a), n_steps),
            "ticker": np.tile(u.tickers, n_steps * len(names)),
            "shares": fl.ravel(),
        }
    )
    all_ts = pd.to_datetime(np.array(df["timestamp"].tolist(), dtype="M8[m]"))
    rows = []
    for t, q in zip(all_ts, df["beliefs"], strict=True):
        for f, vals in (q or {}).items():
            rows.append((t, f, *vals))
    beliefs = pd.DataFrame(rows, columns=["timestamp", "factor", "q05", "q25", "q50", "q75", "q95"])
    n = model.scenario.population.size
    ev = [
        (pd.Timestamp(e.time), e.label, e.shock, e.n_informed / n)
        for e in model.diffusion.released
        if not e.relative
    ]
    events = pd.DataFrame(ev, columns=["time", "label", "shock", "informed_share"])
    return {
        "intraday": intraday,
        "daily": daily,
        "flows": flows,
        "beliefs": beliefs,
        "events": events,
    }


def run_model(
    scenario: Scenario, seed: int | None = None, progress: bool = False
) -> tuple[MoatshockModel, RunResult]:
    """Run a validated scenario to the end; returns the model and its tables."""
    model = MoatshockModel(scenario, seed=seed)
    n_ticks = len(model.ticks)
    with tqdm(
        total=n_ticks, disable=not progress, desc=scenario.name, unit="tick", leave=False
    ) as bar:
        while model.running:
            model.step()
            bar.update(1)
    tables = _collect_tables(model)
    diag = {
        "ticks": n_ticks,
        "trading_steps": model.n_trading,
        "investors": scenario.population.size,
        "clearings_at_price_limit": model.at_limit_count,
        "max_auction_approximation_adv": model.max_abs_quote_error,
        "margin_calls": int(model.cohorts["leveraged"].margin_calls),
    }
    result = RunResult(scenario, model.seed, diagnostics=diag, **tables)
    return model, result


def run_scenario(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
) -> RunResult:
    """Load (if a path), override, validate and run a scenario."""
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, overrides)
    if isinstance(scenario, Scenario) and overrides:
        from sim.scenario import apply_overrides, validate

        scn = validate(apply_overrides(scenario.model_dump(mode="json"), overrides, "<overrides>"))
    return run_model(scn, seed=seed, progress=progress)[1]


def evaluate(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Sweep/calibration unit of work: run and return ``{metric: value}``.

    Metric names are those of :func:`analysis.metrics.compute_metric`
    (``shock_return:NVDA``, ``dollar_loss:NVDA``, ``group_return:chips``, ...).
    """
    from analysis.metrics import compute_metric

    result = run_scenario(scenario, seed=seed, overrides=dict(overrides))
    return {m: compute_metric(result, m) for m in metrics}


def shock_date(result: RunResult) -> dt.date:
    """The scenario's shock date, or the session with the largest absolute index move."""
    ref = result.scenario.reference.shock_date
    if ref is not None:
        return ref
    d = result.daily
    worst = d.groupby("date")["return_pct"].apply(lambda s: s.abs().mean()).idxmax()
    return pd.Timestamp(worst).date()
