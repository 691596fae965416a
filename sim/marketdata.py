"""Company inputs from daily price files: starting price, volume, volatility, pre-event history.

An asset may name a daily price file (a CSV with a date column and a close column, and a
volume column for the average daily volume; ``../shared/market-data/ohlcv_raw/*.csv`` is the
shipped case). Everything computed here uses only sessions strictly before the scenario's
first calendar day, so no number known after the start feeds the model. With ``as_of`` the last
session before ``calendar.start`` (the windows are ``universe.market_data`` fields):

* ``price`` = the close of ``as_of`` (USD per share, in the file's units), so the simulated
  levels line up with the real ones from the calendar's first day;
* ``adv_shares`` = mean volume of the ``volume_window_sessions`` sessions ending at ``as_of``
  (shares per day);
* ``daily_volatility`` = sample standard deviation (ddof 1) of the ``volatility_window_sessions``
  daily log close-to-close returns ending at ``as_of`` (fraction per day);
* ``relative_return_12m`` = log return from the close ``trailing_window_sessions`` sessions
  before ``as_of`` to ``as_of``, less the market file's log return over the same dates;
* ``relative_runup`` = log return from the last close on or before ``boom_start`` (the AI boom's
  public start, ChatGPT's launch on 30 Nov 2022) to ``as_of``, less the market's.

Shipped scenarios must also run without the price files, so ``python -m sim.marketdata build
SCENARIO...`` writes the derived per-company numbers (never the raw series) to the table named by
``universe.market_data.derived_table``; the loader uses the price file when it is present and
that table otherwise (``tests/test_marketdata.py`` checks they agree). The same command writes
the real closes of the scenario's sessions to ``reference.real_closes_table``: those are for
reports only (the cross-section report) and are never read by the model.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Environment variable that, when set, overrides ``universe.market_data.folder``.
ENV_FOLDER = "MOATSHOCK_MARKET_DATA"
REPO = Path(__file__).resolve().parents[1]

#: Columns of the derived table, in order (one row per price file and calendar start).
DERIVED_COLUMNS = (
    "ticker", "price_file", "calendar_start", "as_of", "price", "adv_shares",
    "daily_volatility", "relative_return_12m", "relative_runup", "market_file",
    "volume_window_start", "volatility_window_start", "trailing_window_start", "boom_close_date",
)  # fmt: skip


class MarketDataError(ValueError):
    """A price file cannot give what the scenario needs; the message names the file."""


def locate(setting: str, env: str | None = None) -> Path:
    """A path from a scenario setting: absolute as given, else relative to the repository, else
    to the working directory (the first that exists; the repository one when neither does)."""
    if env and os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    p = Path(setting).expanduser()
    if p.is_absolute():
        return p
    for base in (REPO, Path.cwd()):
        if (base / p).exists():
            return (base / p).resolve()
    return (REPO / p).resolve()


def market_folder(setting: str) -> Path:
    """The market-data folder (``$MOATSHOCK_MARKET_DATA`` when set, else the setting)."""
    return locate(setting, ENV_FOLDER)


def read_prices(path: Path) -> pd.DataFrame:
    """A daily price file as a frame indexed by session date with ``close`` (and ``volume``).

    Column names are matched case-insensitively (``date``/``Date``, ``close``/``Close``).
    Raises :class:`MarketDataError` naming the file when it cannot be used.
    """
    try:
        raw = pd.read_csv(path)
    except FileNotFoundError:
        raise MarketDataError(f"{path}: price file not found") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise MarketDataError(f"{path}: not a readable CSV ({exc})") from None
    cols = {c.lower(): c for c in raw.columns}
    if "date" not in cols or "close" not in cols:
        raise MarketDataError(f"{path}: needs a date and a close column (has {list(raw.columns)})")
    out = pd.DataFrame({"close": pd.to_numeric(raw[cols["close"]], errors="coerce")})
    if "volume" in cols:
        out["volume"] = pd.to_numeric(raw[cols["volume"]], errors="coerce")
    dates = pd.to_datetime(raw[cols["date"]], errors="coerce")
    keep = (dates.notna() & out["close"].notna() & (out["close"] > 0)).to_numpy()
    out.index = pd.DatetimeIndex(dates)
    out = out[keep].sort_index()
    out = out[~out.index.duplicated(keep="last")]
    if out.empty:
        raise MarketDataError(f"{path}: no usable rows (date, positive close)")
    return out


@dataclass(frozen=True)
class Windows:
    """The documented windows (``universe.market_data`` fields)."""

    volume_window_sessions: int
    volatility_window_sessions: int
    trailing_window_sessions: int
    boom_start: dt.date
    max_staleness_days: int


def _as_of(df: pd.DataFrame, start: dt.date, w: Windows, path: Path) -> int:
    """Position of the last session strictly before ``start``; refuses a stale file."""
    pos = int(df.index.searchsorted(pd.Timestamp(start), side="left")) - 1
    if pos < 0:
        raise MarketDataError(f"{path}: no session before the calendar start {start}")
    last = df.index[pos].date()
    if (start - last).days > w.max_staleness_days:
        raise MarketDataError(
            # the reason first: a long path must not push it past the message's length cap
            f"{path.name}: does not cover the start {start}: its last session before it is "
            f"{last} (more than {w.max_staleness_days} days earlier; file {path})"
        )
    return pos


def _need(pos: int, n: int, what: str, path: Path, df: pd.DataFrame) -> int:
    if pos - n < 0:
        raise MarketDataError(
            f"{path}: {what} needs {n} sessions before {df.index[pos].date()}, the file has {pos}"
        )
    return pos - n


def derive(
    path: Path, start: dt.date, w: Windows, market: pd.DataFrame | None, market_path: Path | None
) -> dict[str, Any]:
    """The derived inputs of one price file for a calendar starting on ``start`` (see module)."""
    df = read_prices(path)
    pos = _as_of(df, start, w, path)
    close = df["close"].to_numpy(float)
    out: dict[str, Any] = {"as_of": df.index[pos].date(), "price": float(close[pos])}
    if "volume" in df and df["volume"].notna().iloc[: pos + 1].any():
        a = _need(pos, w.volume_window_sessions - 1, "the volume window", path, df)
        out["adv_shares"] = float(df["volume"].iloc[a : pos + 1].mean())
        out["volume_window_start"] = df.index[a].date()
    v = _need(pos, w.volatility_window_sessions, "the volatility window", path, df)
    out["daily_volatility"] = float(np.std(np.diff(np.log(close[v : pos + 1])), ddof=1))
    out["volatility_window_start"] = df.index[v].date()
    t = _need(pos, w.trailing_window_sessions, "the trailing-return window", path, df)
    out["trailing_window_start"] = df.index[t].date()
    b = int(df.index.searchsorted(pd.Timestamp(w.boom_start), side="right")) - 1
    if b < 0:
        raise MarketDataError(f"{path}: no session on or before boom_start {w.boom_start}")
    out["boom_close_date"] = df.index[b].date()
    r12 = np.log(close[pos] / close[t])
    runup = np.log(close[pos] / close[b])
    if market is not None:
        r12 -= _market_log_return(market, df.index[t], df.index[pos], market_path)
        runup -= _market_log_return(market, df.index[b], df.index[pos], market_path)
    out["relative_return_12m"] = float(r12)
    out["relative_runup"] = float(runup)
    return out


def _market_log_return(
    market: pd.DataFrame, a: pd.Timestamp, b: pd.Timestamp, path: Path | None
) -> float:
    """Log return of the market file from the close on or before ``a`` to that on or before ``b``."""
    i = int(market.index.searchsorted(a, side="right")) - 1
    j = int(market.index.searchsorted(b, side="right")) - 1
    if i < 0 or j < 0:
        raise MarketDataError(f"{path}: market file has no session on or before {a.date()}")
    c = market["close"].to_numpy(float)
    return float(np.log(c[j] / c[i]))


# --------------------------------------------------------------------------------------------
# The derived table (committed, so shipped scenarios run without the price files)
# --------------------------------------------------------------------------------------------
def read_derived(path: Path) -> pd.DataFrame:
    """The derived table, or an empty frame when the file does not exist."""
    if not path.is_file():
        return pd.DataFrame(columns=list(DERIVED_COLUMNS))
    return pd.read_csv(path, dtype={"ticker": str, "price_file": str, "calendar_start": str})


def derived_row(table: pd.DataFrame, price_file: str, start: dt.date) -> dict[str, Any] | None:
    """The row of ``price_file`` for a calendar starting on ``start`` (None when absent)."""
    hit = table[
        (table["price_file"] == price_file) & (table["calendar_start"] == start.isoformat())
    ]
    if hit.empty:
        return None
    row = hit.iloc[-1].to_dict()
    return {str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}


def build(scenario_paths: list[Path], check: bool = False) -> list[Path]:
    """Recompute the derived table (and the reported real closes) of the given scenarios.

    Rows of other (price file, start) pairs already in the tables are kept. Returns the files
    written; with ``check`` nothing is written and a difference raises :class:`MarketDataError`.
    """
    from sim.scenario.loading import load_raw

    written: list[Path] = []
    for sp in scenario_paths:
        data = load_raw(sp)
        uni = data.get("universe", {})
        md = uni.get("market_data", {}) or {}
        from sim.scenario.schema import MarketDataConfig

        cfg = MarketDataConfig.model_validate(md)
        start = dt.date.fromisoformat(str(data["calendar"]["start"]))
        end = dt.date.fromisoformat(str(data["calendar"]["end"]))
        folder = market_folder(cfg.folder)
        w = cfg.windows()
        market_path = folder / cfg.market_file
        market = read_prices(market_path)
        rows = []
        closes = []
        for a in uni.get("assets", []):
            for key in ("price_file", "proxy_price_file"):
                pf = a.get(key)
                if not pf:
                    continue
                d = derive(folder / pf, start, w, market, market_path)
                rows.append(
                    {"ticker": a["ticker"], "price_file": pf, "calendar_start": start.isoformat(),
                     "market_file": cfg.market_file, **d}
                )  # fmt: skip
                if key == "price_file" and data.get("reference", {}).get("shock_date"):
                    df = read_prices(folder / pf)
                    days = pd.DatetimeIndex(df.index)
                    sel = df[(days >= pd.Timestamp(d["as_of"])) & (days <= pd.Timestamp(end))]
                    closes += [
                        {"price_file": pf, "date": day.date().isoformat(), "close": c}
                        for day, c in zip(pd.DatetimeIndex(sel.index), sel["close"], strict=True)
                    ]
        table_path = locate(cfg.derived_table)
        new = pd.DataFrame(rows, columns=list(DERIVED_COLUMNS))
        written += _merge_write(table_path, new, ["price_file", "calendar_start"], check)
        if closes:
            ref = data.get("reference", {}).get("real_closes_table") or REAL_CLOSES_DEFAULT
            written += _merge_write(
                locate(ref), pd.DataFrame(closes), ["price_file", "date"], check
            )
    return written


#: Default of ``reference.real_closes_table`` (kept here so sim.marketdata needs no schema).
REAL_CLOSES_DEFAULT = "scenarios/universe/real_closes.csv"


def _merge_write(path: Path, new: pd.DataFrame, keys: list[str], check: bool) -> list[Path]:
    old = pd.read_csv(path, dtype=str) if path.is_file() else pd.DataFrame(columns=new.columns)
    new = new.astype(object).map(_fmt)
    keep = old[~old.set_index(keys).index.isin(new.set_index(keys).index)]
    out = pd.concat([keep, new.astype(str)], ignore_index=True).sort_values(keys)
    text = out.to_csv(index=False, lineterminator="\n")
    if check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            raise MarketDataError(f"{path}: out of date; run python -m sim.marketdata build")
        return []
    from sim.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)

    def put(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    atomic_write(path, put)
    return [path]


def _fmt(v: Any) -> str:
    """Numbers at 10 significant digits, dates ISO, None empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.10g}"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.marketdata build [--check] SCENARIO...``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m sim.marketdata", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write the derived table and real closes of scenarios")
    b.add_argument("scenarios", nargs="+", type=Path)
    b.add_argument("--check", action="store_true", help="fail if the tables are out of date")
    args = p.parse_args(argv)
    try:
        for f in build(args.scenarios, check=args.check):
            print(f"wrote {f}")
    except MarketDataError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
