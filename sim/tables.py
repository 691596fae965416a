"""The tables of a run: what Mesa's DataCollector recorded, as plain DataFrames.

Prices in USD per share, volumes in shares, flows in shares (net bought per step), returns in
percent close to close, belief quantiles in factor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.scenario import Scenario

if TYPE_CHECKING:
    from sim.model import MoatshockModel


@dataclass
class RunResult:
    """Tables of one run. Prices in USD, volumes in shares, returns in percent."""

    scenario: Scenario
    seed: int
    intraday: pd.DataFrame  # timestamp, ticker, price, volume
    daily: pd.DataFrame  # date, ticker, open, high, low, close, volume, market_cap_usd, return_pct
    # timestamp, cohort, ticker, shares (net bought in the step), volume (shares the cohort's
    # members bought plus sold in the step: its side of the market's volume)
    flows: pd.DataFrame
    beliefs: pd.DataFrame  # timestamp, factor, q05, q25, q50, q75, q95
    events: pd.DataFrame  # id, time, label, shock, informed_share
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def tickers(self) -> list[str]:
        return self.scenario.tickers


def collect_tables(model: MoatshockModel) -> dict[str, pd.DataFrame]:
    u = model.universe
    df = model.datacollector.get_model_vars_dataframe()
    trading = df[df["trading"]]
    ts = pd.to_datetime(np.array(trading["timestamp"].tolist(), dtype="M8[m]"))
    n_a = u.n_assets
    # (steps, assets), one (A,) array per step; a run stopped at its first trade has no rows
    lp = np.stack(list(trading["log_price"])) if len(trading) else np.zeros((0, n_a))
    vol = np.stack(list(trading["volume"])) if len(trading) else np.zeros((0, n_a))
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
    day = model.ticks.day[model.ticks.trading][:n_steps]
    s = model.ticks.steps_per_session
    n_days = n_steps // s
    px = np.exp(lp)
    bars = _daily_bars(
        px[: n_days * s].reshape(n_days, s, n_a), vol[: n_days * s].reshape(n_days, s, n_a)
    )
    if n_steps > n_days * s:  # a run stopped by the guard inside a session: its partial day
        rest = _daily_bars(px[None, n_days * s :], vol[None, n_days * s :])
        bars = {k: np.concatenate([v, rest[k]]) for k, v in bars.items()}
        n_days += 1
    close = bars["close"]
    prev = np.vstack([u.price0, close[:-1]])
    dates = [model.ticks.sessions[int(d)] for d in day[::s]]
    daily = pd.DataFrame(
        {
            "date": np.repeat(pd.to_datetime(dates), n_a),
            "ticker": np.tile(u.tickers, n_days),
            "open": bars["open"].ravel(),
            "high": bars["high"].ravel(),
            "low": bars["low"].ravel(),
            "close": close.ravel(),
            "volume": bars["volume"].ravel(),
            "market_cap_usd": (close * u.shares).ravel(),
            "return_pct": (100.0 * (close / prev - 1.0)).ravel(),
        }
    )
    names = list(model.cohorts)
    fl = np.array([np.stack([f[k] for k in names]) for f in trading["flows"]])  # (T, C, A)
    cv = np.array([np.stack([f[k] for k in names]) for f in trading["cohort_volume"]])
    flows = pd.DataFrame(
        {
            "timestamp": np.repeat(ts, len(names) * n_a),
            "cohort": np.tile(np.repeat(names, n_a), n_steps),
            "ticker": np.tile(u.tickers, n_steps * len(names)),
            "shares": fl.ravel(),
            "volume": cv.ravel(),
        }
    )
    all_ts = pd.to_datetime(np.array(df["timestamp"].tolist(), dtype="M8[m]"))
    rows = []
    for t, q in zip(all_ts, df["beliefs"], strict=True):
        for f, vals in (q or {}).items():
            rows.append((t, f, *vals))
    beliefs = pd.DataFrame(rows, columns=["timestamp", "factor", "q05", "q25", "q50", "q75", "q95"])
    n = model.scn.population.size
    ev = [
        (e.id, pd.Timestamp(e.time), e.label, e.shock, e.n_informed / n)
        for e in model.diffusion.released
        if not e.relative
    ]
    events = pd.DataFrame(ev, columns=["id", "time", "label", "shock", "informed_share"])
    return {
        "intraday": intraday,
        "daily": daily,
        "flows": flows,
        "beliefs": beliefs,
        "events": events,
    }


def _daily_bars(px: np.ndarray, vol: np.ndarray) -> dict[str, np.ndarray]:
    """Open, high, low, close (USD) and volume (shares) per day of ``(days, steps, assets)``."""
    return {
        "open": px[:, 0],
        "high": px.max(axis=1),
        "low": px.min(axis=1),
        "close": px[:, -1],
        "volume": vol.sum(axis=1),
    }
