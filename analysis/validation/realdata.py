"""Loading real daily price series and turning them into returns.

Two CSV shapes are understood (header names are matched case-insensitively):

* ``Date,Close`` -- split- and dividend-adjusted closes (``close_adjusted/<T>.csv``).
* ``date,open,high,low,close,volume[,wap,count]`` -- daily bars (``ohlcv_raw/<T>.csv``).

Prices are in the quote currency of the listing (USD for every file in the shared data set);
volumes are in shares (index files report 0). Returns are daily log-returns expressed as a
fraction, i.e. ``ln(P_t / P_{t-1})``: -0.1859 means a fall of 16.97 % in simple terms.
"""

from __future__ import annotations

import os
from typing import TypeVar

import numpy as np
import pandas as pd

__all__ = ["load_prices", "log_returns", "load_returns", "window"]

# Kept, in this order, when present; other columns (wap, count, ...) are dropped so that callers
# see one schema regardless of which shape the file has.
_PRICE_COLUMNS = ("open", "high", "low", "close", "volume")

_FrameOrSeries = TypeVar("_FrameOrSeries", pd.DataFrame, pd.Series)
_DateLike = str | pd.Timestamp | np.datetime64 | None


def _find_column(columns: pd.Index, wanted: str, path: str) -> str | None:
    matches = [c for c in columns if str(c).strip().lower() == wanted]
    if len(matches) > 1:
        raise ValueError(f"{path}: ambiguous header, several columns named {wanted!r}: {matches}")
    return matches[0] if matches else None


def _numeric(values: pd.Series, name: str, path: str, dates: pd.Series) -> pd.Series:
    """Convert a column to float; empty cells become NaN, text that is not a number is an error."""
    out = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = out.isna() & values.notna()
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise ValueError(
            f"{path}: column {name!r} has {int(bad.sum())} non-numeric value(s), "
            f"first {values.iloc[first]!r} on {dates.iloc[first]}"
        )
    return out


def load_prices(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a daily price CSV in either supported shape.

    Parameters
    ----------
    path:
        CSV file with a date column (``Date``/``date``) and a close column (``Close``/``close``);
        ``open``, ``high``, ``low`` and ``volume`` are read too when present.

    Returns
    -------
    pandas.DataFrame
        Indexed by a sorted, duplicate-free ``DatetimeIndex`` named ``date``, with float columns
        ``close`` (always) and ``open``, ``high``, ``low``, ``volume`` when the file has them.
        Prices are in USD (the listing's quote currency), volume in shares. When a date occurs
        more than once the last row wins, since appended rows are usually corrections.

    Raises
    ------
    ValueError
        Naming the file, when it is missing or unreadable, has no date or close column, has
        dates that cannot be parsed, has closes that are missing, non-numeric or not strictly
        positive, or has fewer than 2 distinct dates.
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise ValueError(f"{p}: price file not found")
    try:
        raw = pd.read_csv(p)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot be read as CSV ({exc})") from exc

    date_col = _find_column(raw.columns, "date", p)
    if date_col is None:
        raise ValueError(
            f"{p}: no date column (expected 'Date' or 'date'), got {list(raw.columns)}"
        )
    close_col = _find_column(raw.columns, "close", p)
    if close_col is None:
        raise ValueError(
            f"{p}: no close column (expected 'Close' or 'close'), got {list(raw.columns)}"
        )

    # Parse as text so that compact integer dates (20250124) are read as dates, not epoch offsets.
    dates = pd.to_datetime(raw[date_col].astype(str), errors="coerce")
    bad_dates = dates.isna()
    if bad_dates.any():
        first = bad_dates.to_numpy().nonzero()[0][0]
        raise ValueError(
            f"{p}: {int(bad_dates.sum())} unparseable date(s), first {raw[date_col].iloc[first]!r}"
        )
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)

    data: dict[str, pd.Series] = {}
    for name in _PRICE_COLUMNS:
        col = _find_column(raw.columns, name, p)
        if col is not None:
            data[name] = _numeric(raw[col], name, p, raw[date_col])

    close = data["close"]
    if close.isna().any():
        first = close.isna().to_numpy().nonzero()[0][0]
        raise ValueError(
            f"{p}: {int(close.isna().sum())} missing close(s), first on {raw[date_col].iloc[first]}"
        )
    nonpos = close <= 0
    if nonpos.any():
        first = nonpos.to_numpy().nonzero()[0][0]
        raise ValueError(
            f"{p}: {int(nonpos.sum())} non-positive close(s), first {close.iloc[first]} "
            f"on {raw[date_col].iloc[first]}"
        )

    df = pd.DataFrame(data)
    df.index = pd.DatetimeIndex(dates, name="date")
    # Stable sort keeps file order among equal dates, so keep="last" means "last in the file".
    df = df.sort_index(kind="stable")
    df = df[~df.index.duplicated(keep="last")]
    if len(df) < 2:
        raise ValueError(f"{p}: need at least 2 dated rows to form a return, got {len(df)}")
    return df


def log_returns(prices: pd.Series) -> pd.Series:
    """Daily log-returns of a price series.

    Parameters
    ----------
    prices:
        Strictly positive prices (USD), ordered in time (e.g. ``load_prices(path)["close"]``).

    Returns
    -------
    pandas.Series
        ``ln(P_t / P_{t-1})`` as a fraction (not percent), labelled with the date of ``P_t`` and
        named ``log_return``. Returns touching a missing price are dropped rather than bridged,
        so every value is a one-step return.

    Raises
    ------
    ValueError
        If a price is zero or negative.
    """
    values = prices.astype("float64")
    if (values <= 0).any():
        raise ValueError("log_returns: prices must be strictly positive")
    r = np.log(values).diff().dropna()
    r.name = "log_return"
    return r


def window(df: _FrameOrSeries, start: _DateLike = None, end: _DateLike = None) -> _FrameOrSeries:
    """Rows of a date-indexed DataFrame or Series between ``start`` and ``end``, both inclusive.

    ``start``/``end`` may be strings (``"2016-01-01"``), timestamps or ``None`` (open-ended).
    The index must be a sorted ``DatetimeIndex``, as returned by :func:`load_prices`.
    """
    if not isinstance(df.index, pd.DatetimeIndex):
        raise ValueError("window: index must be a DatetimeIndex")
    if not df.index.is_monotonic_increasing:
        raise ValueError("window: index must be sorted in increasing date order")
    lo = None if start is None else pd.Timestamp(start)
    hi = None if end is None else pd.Timestamp(end)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"window: start {lo.date()} is after end {hi.date()}")
    return df.loc[lo:hi]


def load_returns(
    path: str | os.PathLike[str], start: _DateLike = None, end: _DateLike = None
) -> pd.Series:
    """Daily log-returns (fraction) of the close column of a price CSV, dated in [start, end].

    Returns are computed on the full file before windowing, so the first return in the window
    uses the close of the previous trading day even if that day lies before ``start``
    (``load_returns(p, "2025-01-27", "2025-01-27")`` is the single return of 27 January 2025).

    Raises
    ------
    ValueError
        For any problem reported by :func:`load_prices`, or if no return falls in the window.
    """
    r = window(log_returns(load_prices(path)["close"]), start, end)
    if r.empty:
        raise ValueError(f"{os.fspath(path)}: no returns between {start} and {end}")
    return r
