"""Headline metrics of a run: shock-day returns, dollar wipeouts, indices, volume, rebound.

Metric names used by sweeps and calibration (``NAME:ARG``):

=====================  ========================================================  ==========
name                   meaning                                                   unit
=====================  ========================================================  ==========
shock_return:T         close-to-close return of ticker T on the shock date       percent
rebound:T              return of T on the session after the shock date           percent
return:T@YYYY-MM-DD    return of T on that session                               percent
dollar_change:T        change in T's market cap on the shock date                USD
dollar_loss:T          minus ``dollar_change:T`` (a loss is positive)            USD
max_drawdown:T         worst peak-to-trough fall of T's intraday price path      percent
volume_multiple:T      T's shock-date volume / its average daily volume          ratio
group_return:G         shock-date return of cap-weighted index G                 percent
group_rebound:G        index G's return on the session after the shock           percent
index_return:G@DATE    index G's return on that session                          percent
=====================  ========================================================  ==========
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.tables import RunResult


class MetricError(ValueError):
    """An unknown metric name or argument."""


def _sessions(result: RunResult) -> list[pd.Timestamp]:
    return sorted(result.daily["date"].unique())


def _session_after(result: RunResult, day: dt.date) -> pd.Timestamp:
    days = _sessions(result)
    later = [d for d in days if d.date() > day]
    if not later:
        raise MetricError(f"no session after {day} in the run")
    return later[0]


def index_levels(result: RunResult) -> pd.DataFrame:
    """Daily close of each scenario index (cap-weighted; 1.0 = starting caps), date x index."""
    daily = result.daily.pivot(index="date", columns="ticker", values="market_cap_usd")
    scn = result.scenario
    cap0 = pd.Series({a.ticker: a.price * a.shares_outstanding for a in scn.universe.assets})
    out = {}
    for name, idx in scn.indices.items():
        w = pd.Series(idx.members)
        out[name] = (daily[w.index] * w).sum(axis=1) / (cap0[w.index] * w).sum()
    return pd.DataFrame(out, index=daily.index)


def index_returns(result: RunResult) -> pd.DataFrame:
    """Daily close-to-close returns of each index, percent (first day against the start)."""
    lev = index_levels(result)
    prev = lev.shift(1)
    prev.iloc[0] = 1.0
    return 100.0 * (lev / prev - 1.0)


def _ticker_value(result: RunResult, ticker: str, day: pd.Timestamp | dt.date, col: str) -> float:
    d = result.daily
    if ticker not in result.tickers:
        raise MetricError(f"unknown ticker {ticker!r} (known: {result.tickers})")
    row = d[(d["ticker"] == ticker) & (d["date"] == pd.Timestamp(day))]
    if row.empty:
        raise MetricError(f"no session on {day} in the run")
    return float(row[col].iloc[0])


def compute_metric(result: RunResult, name: str) -> float:
    """Value of one named metric (see the module docstring)."""
    from sim.simulate import shock_date

    kind, _, arg = name.partition(":")
    if not arg:
        raise MetricError(f"metric {name!r}: expected NAME:ARGUMENT, e.g. shock_return:NVDA")
    sd = shock_date(result)
    if kind in ("return", "index_return"):
        arg, _, when = arg.partition("@")
        try:
            day = dt.date.fromisoformat(when)
        except ValueError:
            raise MetricError(f"metric {name!r}: expected @YYYY-MM-DD after the name") from None
    if kind == "shock_return":
        return _ticker_value(result, arg, sd, "return_pct")
    if kind == "rebound":
        return _ticker_value(result, arg, _session_after(result, sd), "return_pct")
    if kind == "return":
        return _ticker_value(result, arg, day, "return_pct")
    if kind in ("dollar_change", "dollar_loss"):
        d = result.daily[result.daily["ticker"] == arg].set_index("date")
        if d.empty:
            raise MetricError(f"unknown ticker {arg!r} (known: {result.tickers})")
        caps = d["market_cap_usd"]
        i = list(caps.index).index(pd.Timestamp(sd))
        prev = (
            caps.iloc[i - 1]
            if i > 0
            else d["market_cap_usd"].iloc[0] / (1 + d["return_pct"].iloc[0] / 100.0)
        )
        change = float(caps.iloc[i] - prev)
        return change if kind == "dollar_change" else -change
    if kind == "max_drawdown":
        p = result.intraday[result.intraday["ticker"] == arg]["price"].to_numpy()
        if p.size == 0:
            raise MetricError(f"unknown ticker {arg!r} (known: {result.tickers})")
        a = next(a for a in result.scenario.universe.assets if a.ticker == arg)
        path = np.concatenate([[a.price], p])
        return float(100.0 * np.min(path / np.maximum.accumulate(path) - 1.0))
    if kind == "volume_multiple":
        vol = _ticker_value(result, arg, sd, "volume")
        a = next(a for a in result.scenario.universe.assets if a.ticker == arg)
        return vol / a.adv_shares
    if kind in ("group_return", "group_rebound", "index_return"):
        r = index_returns(result)
        if arg not in r.columns:
            raise MetricError(f"unknown index {arg!r} (known: {list(r.columns)})")
        if kind == "group_return":
            day = sd
        elif kind == "group_rebound":
            day = _session_after(result, sd).date()
        return float(r.loc[pd.Timestamp(day), arg])
    raise MetricError(
        f"unknown metric {kind!r}; known: shock_return, rebound, return, dollar_change, "
        "dollar_loss, max_drawdown, volume_multiple, group_return, group_rebound, index_return"
    )


def headline(result: RunResult) -> dict:
    """Headline metrics for ``summary.json``."""
    from sim.simulate import shock_date

    sd = shock_date(result)
    d = result.daily
    per_day = {
        str(day.date()): dict(zip(g["ticker"], g["return_pct"].round(4), strict=True))
        for day, g in d.groupby("date")
    }
    idx = index_returns(result).round(4)
    out: dict = {
        "shock_date": str(sd),
        "returns_pct": per_day,
        "index_returns_pct": {str(k.date()): v for k, v in idx.to_dict("index").items()},
        "shock_day": {
            "returns_pct": {t: compute_metric(result, f"shock_return:{t}") for t in result.tickers},
            "dollar_change_usd": {
                t: compute_metric(result, f"dollar_change:{t}") for t in result.tickers
            },
            "volume_multiple": {
                t: compute_metric(result, f"volume_multiple:{t}") for t in result.tickers
            },
            "index_returns_pct": {g: compute_metric(result, f"group_return:{g}") for g in idx},
        },
    }
    try:
        out["rebound_pct"] = {t: compute_metric(result, f"rebound:{t}") for t in result.tickers}
    except MetricError:
        out["rebound_pct"] = {}
    groups = {}
    for g in sorted({a.group for a in result.scenario.universe.assets}):
        members = [a.ticker for a in result.scenario.universe.assets if a.group == g]
        groups[g] = float(np.mean([out["shock_day"]["returns_pct"][t] for t in members]))
    out["shock_day"]["group_mean_returns_pct"] = groups
    return out
