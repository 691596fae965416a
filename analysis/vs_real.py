"""A run's trading volume and closing prices next to the real ones.

* Volume multiple: a session's volume over the average daily volume of the
  :data:`BASELINE_SESSIONS` sessions before the scenario's shock date. Simulated: the run's
  daily volume (shares) over the asset's ``adv_shares``, which the scenario types from the same
  63-session window of ``ohlcv_raw``; real: the same ratio computed on the ``ohlcv_raw`` file.
* Volume by investor type: each type's share of the market's volume (a trade is counted once
  on each side, so the shares add up to 100 % per ticker and day).
* Closes: each session's simulated close next to the real close (USD) and the simulated
  return since the start next to the real one (percent), the honest check of the days after
  the shock (validation only: nothing is fitted to them).

Everything real is optional: without the market-data folder the real columns are empty.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.tables import RunResult

#: Sessions in the baseline of a volume multiple (about three months), as in the issue's table.
BASELINE_SESSIONS = 63

#: Real volume files for tickers whose own raw file is missing: Alphabet's classes trade as one
#: company (ohlcv_raw/GOOG.csv, class C, is the only raw Alphabet file; see the scenario).
VOLUME_PROXY = {"GOOGL": "GOOG"}


def market_data(result: RunResult) -> Path | None:
    """The scenario's market-data folder, or None when it is not found."""
    from analysis.plots.run import market_data_dir

    ref = result.scenario.reference.model_dump(mode="json")
    return market_data_dir({"reference": ref}, Path.cwd())


def _raw(mdir: Path | None, ticker: str) -> pd.DataFrame | None:
    """Daily raw bars of ``ticker`` (or its :data:`VOLUME_PROXY`), None when absent."""
    if mdir is None:
        return None
    from analysis.validation.realdata import load_prices

    for t in (ticker, VOLUME_PROXY.get(ticker)):
        if t is not None and (mdir / "ohlcv_raw" / f"{t}.csv").is_file():
            return load_prices(mdir / "ohlcv_raw" / f"{t}.csv")
    return None


def real_volume_multiples(
    bars: pd.DataFrame, days: list[dt.date], event: dt.date, window: int = BASELINE_SESSIONS
) -> dict[dt.date, float]:
    """Volume on each of ``days`` over the mean volume of the ``window`` sessions before
    ``event`` (shares / shares; sessions with no volume, e.g. index files, are left out)."""
    vol = bars["volume"].dropna()
    vol = vol[vol > 0]
    base = vol[vol.index < pd.Timestamp(event)].iloc[-window:]
    if len(base) < window:
        return {}
    mean = float(base.mean())
    return {d: float(vol.loc[pd.Timestamp(d)]) / mean for d in days if pd.Timestamp(d) in vol.index}


def volume_table(result: RunResult, mdir: Path | None) -> pd.DataFrame:
    """Per session and ticker: simulated and real volume multiples (see the module doc)."""
    from analysis.metrics import shock_date

    d = result.daily
    adv = {a.ticker: a.adv_shares for a in result.scenario.universe.assets}
    days = sorted({ts.date() for ts in d["date"]})
    event = shock_date(result)
    real: dict[str, dict[dt.date, float]] = {}
    for t in result.tickers:
        bars = _raw(mdir, t)
        real[t] = {} if bars is None else real_volume_multiples(bars, days, event)
    return pd.DataFrame(
        {
            "date": d["date"].dt.date,
            "ticker": d["ticker"],
            "volume": d["volume"],
            "sim_multiple": d["volume"] / d["ticker"].map(adv),
            "real_multiple": [
                real[t].get(day.date(), np.nan)
                for t, day in zip(d["ticker"], d["date"], strict=True)
            ],
        }
    )


def volume_by_type(result: RunResult) -> pd.DataFrame:
    """Per session, ticker and investor type: shares traded and share of the market's volume
    (percent; the two sides of each trade counted once each)."""
    f = result.flows.assign(date=result.flows["timestamp"].dt.date)
    g = f.groupby(["date", "ticker", "cohort"], sort=False)["volume"].sum().reset_index()
    total = g.groupby(["date", "ticker"])["volume"].transform("sum")
    g["share_pct"] = np.where(total > 0, 100.0 * g["volume"] / total.where(total > 0, 1.0), 0.0)
    return g


def closes_table(result: RunResult, mdir: Path | None) -> pd.DataFrame:
    """Per session and ticker: simulated and real close (USD) and return since the start (%)."""
    d = result.daily
    p0 = {a.ticker: a.price for a in result.scenario.universe.assets}
    from analysis.plots.run import real_closes

    # a volume proxy's price is not T's: T's own file (raw, else adjusted closes) or nothing
    real = {t: real_closes(mdir, t) for t in result.tickers}
    rc = [
        float(real[t].loc[day]) if real[t] is not None and day in real[t].index else np.nan  # type: ignore[union-attr]
        for t, day in zip(d["ticker"], d["date"], strict=True)
    ]
    start = d["ticker"].map(p0)
    return pd.DataFrame(
        {
            "date": d["date"].dt.date,
            "ticker": d["ticker"],
            "sim_close": d["close"],
            "real_close": rc,
            "sim_since_start_pct": 100.0 * (d["close"] / start - 1.0),
            "real_since_start_pct": 100.0 * (np.array(rc) / start - 1.0),
        }
    )


def summary(result: RunResult) -> dict[str, Any]:
    """For ``summary.json``: volume multiples (sim, real) on the shock day and the next, the
    shock day's volume share by investor type, and the last session's closes against real."""
    from analysis.metrics import MetricError, shock_date

    mdir = market_data(result)
    vt = volume_table(result, mdir)
    try:
        event = shock_date(result)
    except MetricError:
        return {}
    days = sorted(vt["date"].unique())
    after = [x for x in days if x >= event][:2]
    out: dict[str, Any] = {"volume_multiple": {}}
    for day in after:
        v = vt[vt["date"] == day].set_index("ticker")
        out["volume_multiple"][str(day)] = {
            t: {
                "sim": round(float(v.loc[t, "sim_multiple"]), 3),
                "real": None
                if np.isnan(v.loc[t, "real_multiple"])
                else round(float(v.loc[t, "real_multiple"]), 3),
            }
            for t in v.index
        }
    vb = volume_by_type(result)
    vb = vb[vb["date"] == event]
    out["volume_share_by_type_pct"] = {
        t: dict(zip(g["cohort"], g["share_pct"].round(2), strict=True))
        for t, g in vb.groupby("ticker", sort=False)
    }
    ct = closes_table(result, mdir)
    last = ct[ct["date"] == ct["date"].max()].set_index("ticker")
    out["last_close"] = {
        "date": str(ct["date"].max()),
        **{
            t: {
                "sim": round(float(r["sim_close"]), 4),
                "real": None if np.isnan(r["real_close"]) else round(float(r["real_close"]), 4),
            }
            for t, r in last.iterrows()
        },
    }
    return out


def write(result: RunResult, out: Path) -> list[Path]:
    """Write ``volume.csv``, ``volume_by_type.csv`` and ``closes.csv`` into ``out``."""
    from sim.io import write_csv

    mdir = market_data(result)
    paths = [out / "volume.csv", out / "volume_by_type.csv", out / "closes.csv"]
    write_csv(volume_table(result, mdir), paths[0], float_format="%.4f")
    write_csv(volume_by_type(result), paths[1], float_format="%.4f")
    write_csv(closes_table(result, mdir), paths[2], float_format="%.4f")
    return paths
