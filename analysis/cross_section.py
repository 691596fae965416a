"""The cross-section of a run: simulated vs real shock-day return of every company.

For each asset with a real series, the real close-to-close return on the scenario's
``reference.shock_date`` comes from its ``price_file`` in the market-data folder when present,
else from the committed real closes (``reference.real_closes_table``, written by ``python -m
sim.marketdata build``; reports only, never a model input), else from
``reference.returns_pct``. The rest-of-market asset is left out. Reported: per company (ticker,
group, simulated and real return in percent), Spearman rank correlation, mean absolute error
(percentage points), and group means.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.marketdata import locate, market_folder, read_prices
from sim.scenario import Scenario
from sim.tables import RunResult


def _real_closes_table(scn: Scenario) -> pd.DataFrame | None:
    p = locate(scn.reference.real_closes_table)
    return pd.read_csv(p, dtype={"price_file": str, "date": str}) if p.is_file() else None


def real_closes(scn: Scenario, ticker: str) -> tuple[pd.Series | None, str]:
    """(real daily closes in the asset's price-file units, where they came from).

    Only for an asset whose starting price is the close of its own price file (``price_as_of``
    set by the loader), so simulated and real levels are compared like with like.
    """
    a = next(x for x in scn.universe.assets if x.ticker == ticker)
    if not a.price_file:
        return None, ""
    f = market_folder(scn.universe.market_data.folder) / a.price_file
    if f.is_file():
        return read_prices(f)["close"], "price_file"
    t = _real_closes_table(scn)
    if t is None:
        return None, ""
    sel = t[t["price_file"] == a.price_file]
    if sel.empty:
        return None, ""
    idx = pd.to_datetime(sel["date"])
    return pd.Series(sel["close"].to_numpy(float), index=idx).sort_index(), "real_closes_table"


def real_close(scn: Scenario, ticker: str, day: dt.date) -> float | None:
    """The real close of ``ticker`` on ``day`` in the model's units, or None (see above)."""
    a = next(x for x in scn.universe.assets if x.ticker == ticker)
    if a.price_as_of is None:
        return None
    closes, _ = real_closes(scn, ticker)
    if closes is None or pd.Timestamp(day) not in closes.index:
        return None
    return float(closes.loc[pd.Timestamp(day)])


def real_return_pct(scn: Scenario, ticker: str, day: dt.date) -> tuple[float | None, str]:
    """(real close-to-close return on ``day`` in percent, where it came from) of ``ticker``."""
    closes, src = real_closes(scn, ticker)
    if closes is not None:
        i = int(closes.index.searchsorted(pd.Timestamp(day)))
        if 0 < i < len(closes) and closes.index[i].date() == day:
            return 100.0 * (closes.iloc[i] / closes.iloc[i - 1] - 1.0), src
    if ticker in scn.reference.returns_pct:
        return float(scn.reference.returns_pct[ticker]), "reference.returns_pct"
    return None, ""


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN below three points."""
    if len(x) < 3:
        return float("nan")
    rx = pd.Series(x).rank().to_numpy()
    ry = pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def cross_section(result: RunResult) -> pd.DataFrame:
    """ticker, group, sim_pct, real_pct, source: one row per company with a real return."""
    scn = result.scenario
    day = scn.reference.shock_date
    if day is None:
        return pd.DataFrame(columns=["ticker", "group", "sim_pct", "real_pct", "source"])
    d = result.daily
    d = d[pd.to_datetime(d["date"]).dt.date == day]
    sim = dict(zip(d["ticker"], d["return_pct"], strict=True))
    rows = []
    for a in scn.universe.assets:
        if a.ticker == scn.universe.rest_of_market or a.ticker not in sim:
            continue
        real, src = real_return_pct(scn, a.ticker, day)
        if real is not None:
            rows.append(
                {"ticker": a.ticker, "group": a.group, "sim_pct": float(sim[a.ticker]),
                 "real_pct": float(real), "source": src}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=["ticker", "group", "sim_pct", "real_pct", "source"])


def statistics(table: pd.DataFrame) -> dict[str, Any]:
    """Spearman, MAE (points), n, and per group: n, mean simulated and real return (percent)."""
    x = table["sim_pct"].to_numpy(float)
    y = table["real_pct"].to_numpy(float)
    groups = {
        g: {
            "n": int(len(t)),
            "sim_mean_pct": float(t["sim_pct"].mean()),
            "real_mean_pct": float(t["real_pct"].mean()),
            "spearman": spearman(t["sim_pct"].to_numpy(float), t["real_pct"].to_numpy(float)),
        }
        for g, t in table.groupby("group", sort=False)
    }
    return {
        "n": int(len(table)),
        "spearman": spearman(x, y),
        "mae_points": float(np.mean(np.abs(x - y))) if len(x) else float("nan"),
        "groups": groups,
    }


def summary(result: RunResult) -> dict[str, Any]:
    """The cross-section block of ``summary.json`` (empty without a shock date)."""
    t = cross_section(result)
    if t.empty:
        return {}
    out = statistics(t)
    out["companies"] = t.to_dict(orient="records")
    return out


def write(result: RunResult, out: Path) -> list[Path]:
    """``cross_section.csv`` and ``plots/cross_section.png`` of a run (nothing without data)."""
    from analysis.plots.cross_section import plot_cross_section
    from sim.io import write_csv

    t = cross_section(result)
    if t.empty:
        return []
    write_csv(t, out / "cross_section.csv", float_format="%.4f")
    png = plot_cross_section(t, statistics(t), out / "plots" / "cross_section.png")
    return [out / "cross_section.csv", png]
