"""Run metrics: each defined once (computation, argument, unit, description), looked up by name.

A metric is named ``NAME:ARGUMENT`` (``shock_return:NVDA``, ``group_return:chips``,
``return:NVDA@2025-01-28``); sweeps, calibrations, ensembles and the run summary all compute
metrics through :func:`compute_metric`, and calibrations check names against a scenario
through :func:`check_metric` before any simulation starts. ``python -m analysis.metrics`` prints the
table of every registered metric and of every stylized statistic
(:data:`analysis.validation.stylized.STATISTICS`). A new metric is one decorated function here
(``docs/extending.md``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.scenario import Scenario
    from sim.tables import RunResult

#: What a metric's argument names: a ticker or an index of the scenario, optionally with a date.
Argument = Literal["ticker", "index", "ticker@date", "index@date"]


class MetricError(ValueError):
    """An unknown metric name or argument."""


@dataclass(frozen=True)
class Metric:
    """One registered metric. ``compute(result, name, day)`` returns a float in ``unit``."""

    name: str
    argument: Argument
    unit: str
    description: str
    compute: Callable[[RunResult, str, dt.date | None], float]

    @property
    def dated(self) -> bool:
        return self.argument.endswith("@date")

    @property
    def of_index(self) -> bool:
        return self.argument.startswith("index")


METRICS: dict[str, Metric] = {}


def metric(
    name: str, argument: Argument, unit: str, description: str
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator: register ``fn(result, arg, day) -> float`` as metric ``name``."""

    def deco(fn: Callable[..., float]) -> Callable[..., float]:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = Metric(name, argument, unit, description, fn)
        return fn

    return deco


# ------------------------------------------------------------------------------------ helpers
def _sessions(result: RunResult) -> list[pd.Timestamp]:
    return sorted(result.daily["date"].unique())


def _session_after(result: RunResult, day: dt.date) -> pd.Timestamp:
    later = [d for d in _sessions(result) if d.date() > day]
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


def table_log_returns(daily: pd.DataFrame, ticker: str) -> np.ndarray:
    """Daily log returns (fraction) of ``ticker`` from a run's ``daily`` table, in date order.

    ``return_pct`` is the simple close-to-close return in percent (the first session against
    the starting price), so the log return is ``log1p(return_pct / 100)``.
    """
    d = daily[daily["ticker"] == ticker].sort_values("date")
    return np.log1p(d["return_pct"].to_numpy(dtype=float) / 100.0)


def daily_log_returns(result: RunResult, name: str) -> np.ndarray:
    """Daily close-to-close log returns of ticker or index ``name`` (fraction per session).

    The first session's return is against the starting price (index level 1.0).
    """
    if name in result.tickers:
        return table_log_returns(result.daily, name)
    else:
        r = index_returns(result)
        if name not in r.columns:
            raise MetricError(f"{name!r} is neither a ticker nor an index of the run")
        pct = r[name].to_numpy(dtype=float)
    return np.log1p(pct / 100.0)


def _ticker_value(result: RunResult, ticker: str, day: pd.Timestamp | dt.date, col: str) -> float:
    d = result.daily
    row = d[(d["ticker"] == ticker) & (d["date"] == pd.Timestamp(day))]
    if row.empty:
        raise MetricError(f"no session on {day} in the run")
    return float(row[col].iloc[0])


def _asset(result: RunResult, ticker: str) -> Any:
    return next(a for a in result.scenario.universe.assets if a.ticker == ticker)


def shock_date(result: RunResult) -> dt.date:
    """The scenario's shock date, or the session with the largest mean absolute move."""
    ref = result.scenario.reference.shock_date
    if ref is not None:
        return ref
    d = result.daily
    worst = d.groupby("date")["return_pct"].apply(lambda s: s.abs().mean()).idxmax()
    return pd.Timestamp(worst).date()


def _index_return(result: RunResult, index: str, day: dt.date) -> float:
    return float(index_returns(result).loc[pd.Timestamp(day), index])


# ------------------------------------------------------------------------------------ metrics
@metric("shock_return", "ticker", "percent", "close-to-close return of T on the shock date")
def _shock_return(result: RunResult, t: str, day: dt.date | None) -> float:
    return _ticker_value(result, t, shock_date(result), "return_pct")


@metric("rebound", "ticker", "percent", "return of T on the session after the shock date")
def _rebound(result: RunResult, t: str, day: dt.date | None) -> float:
    return _ticker_value(result, t, _session_after(result, shock_date(result)), "return_pct")


@metric("return", "ticker@date", "percent", "return of T on that session")
def _return(result: RunResult, t: str, day: dt.date | None) -> float:
    assert day is not None
    return _ticker_value(result, t, day, "return_pct")


@metric("dollar_change", "ticker", "USD", "change in T's market cap on the shock date")
def _dollar_change(result: RunResult, t: str, day: dt.date | None) -> float:
    d = result.daily[result.daily["ticker"] == t].set_index("date")
    caps = d["market_cap_usd"]
    i = list(caps.index).index(pd.Timestamp(shock_date(result)))
    prev = caps.iloc[i - 1] if i > 0 else caps.iloc[0] / (1 + d["return_pct"].iloc[0] / 100.0)
    return float(caps.iloc[i] - prev)


@metric("dollar_loss", "ticker", "USD", "minus dollar_change:T (a loss is positive)")
def _dollar_loss(result: RunResult, t: str, day: dt.date | None) -> float:
    return -_dollar_change(result, t, day)


@metric("max_drawdown", "ticker", "percent", "worst peak-to-trough fall of T's intraday path")
def _max_drawdown(result: RunResult, t: str, day: dt.date | None) -> float:
    p = result.intraday[result.intraday["ticker"] == t]["price"].to_numpy()
    path = np.concatenate([[_asset(result, t).price], p])
    return float(100.0 * np.min(path / np.maximum.accumulate(path) - 1.0))


@metric("volume_multiple", "ticker", "ratio", "T's shock-date volume / its average daily volume")
def _volume_multiple(result: RunResult, t: str, day: dt.date | None) -> float:
    return _ticker_value(result, t, shock_date(result), "volume") / _asset(result, t).adv_shares


@metric("group_return", "index", "percent", "shock-date return of cap-weighted index G")
def _group_return(result: RunResult, g: str, day: dt.date | None) -> float:
    return _index_return(result, g, shock_date(result))


@metric("group_rebound", "index", "percent", "index G's return on the session after the shock")
def _group_rebound(result: RunResult, g: str, day: dt.date | None) -> float:
    return _index_return(result, g, _session_after(result, shock_date(result)).date())


@metric("index_return", "index@date", "percent", "index G's return on that session")
def _index_return_on(result: RunResult, g: str, day: dt.date | None) -> float:
    assert day is not None
    return _index_return(result, g, day)


# ------------------------------------------------------------------------------------ lookup
def parse_metric(name: str) -> tuple[Metric, str, dt.date | None]:
    """``NAME:ARG[@YYYY-MM-DD]`` -> (metric, argument, date); :class:`MetricError` if malformed."""
    kind, _, arg = name.partition(":")
    if kind not in METRICS:
        raise MetricError(f"unknown metric {kind!r}; known: {', '.join(METRICS)}")
    m = METRICS[kind]
    if not arg:
        raise MetricError(f"metric {name!r}: expected {kind}:ARGUMENT, e.g. {kind}:NVDA")
    target, at, when = arg.partition("@")
    day = None
    if m.dated:
        try:
            day = dt.date.fromisoformat(when)
        except ValueError:
            raise MetricError(f"metric {name!r}: expected @YYYY-MM-DD after the name") from None
    elif at:
        raise MetricError(f"metric {name!r}: {kind} takes no @DATE")
    return m, target, day


def check_metric(name: str, scenario: Scenario) -> str | None:
    """Why metric ``name`` cannot be computed on runs of ``scenario`` (None if it can)."""
    try:
        m, target, day = parse_metric(name)
    except MetricError as exc:
        return str(exc)
    if day is not None and not scenario.calendar.start <= day <= scenario.calendar.end:
        return f"{day} is outside the calendar of {scenario.name}"
    known = list(scenario.indices) if m.of_index else scenario.tickers
    if target not in known:
        what = "index" if m.of_index else "ticker"
        return f"unknown {what} {target!r} (known: {known})"
    return None


def compute_metric(result: RunResult, name: str) -> float:
    """Value of one named metric of a run (see :data:`METRICS`)."""
    m, target, day = parse_metric(name)
    known = list(result.scenario.indices) if m.of_index else result.tickers
    if target not in known:
        what = "index" if m.of_index else "ticker"
        raise MetricError(f"unknown {what} {target!r} (known: {known})")
    return float(m.compute(result, target, day))


def reference_table() -> str:
    """Markdown table of every registered metric."""
    rows = ["| name | argument | unit | meaning |", "| --- | --- | --- | --- |"]
    for m in METRICS.values():
        rows.append(
            f"| `{m.name}:{m.argument.upper()}` | {m.argument} | {m.unit} | {m.description} |"
        )
    return "\n".join(rows)


# ------------------------------------------------------------------------------------ summary
def headline(result: RunResult) -> dict[str, Any]:
    """Headline metrics for ``summary.json``."""
    sd = shock_date(result)
    d = result.daily
    per_day = {
        str(day.date()): dict(zip(g["ticker"], g["return_pct"].round(4), strict=True))
        for day, g in d.groupby("date")
    }
    idx = index_returns(result).round(4)
    per_ticker = {
        key: {t: compute_metric(result, f"{name}:{t}") for t in result.tickers}
        for key, name in (
            ("returns_pct", "shock_return"),
            ("dollar_change_usd", "dollar_change"),
            ("volume_multiple", "volume_multiple"),
        )
    }
    out: dict[str, Any] = {
        "shock_date": str(sd),
        "returns_pct": per_day,
        "index_returns_pct": {str(k.date()): v for k, v in idx.to_dict("index").items()},
        "shock_day": {
            **per_ticker,
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


if __name__ == "__main__":
    from analysis.validation import stylized

    print("Run metrics (NAME:ARGUMENT):\n")
    print(reference_table())
    print("\nStylized statistics of daily log returns (calibration targets with a statistic):\n")
    print(stylized.reference_table())
