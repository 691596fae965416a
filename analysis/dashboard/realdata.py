"""Real daily closes and volumes of a scenario's tickers, from its market-data folder.

The folder is the scenario's ``reference.market_data_dir`` (``../shared/market-data``, relative
to the repository or the working directory) unless the dashboard was given one. Everything
here is optional: without the folder the charts show the simulation alone. Prices in USD,
volumes in shares.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class RealDaily:
    """Real daily bars of one ticker: ``close`` (USD) and, when known, ``volume`` (shares)."""

    close: pd.Series
    volume: pd.Series | None

    def on(self, day: dt.date) -> tuple[float | None, float | None]:
        """(close, volume) on ``day``, None where there is no bar."""
        ts = pd.Timestamp(day)
        c = float(self.close.loc[ts]) if ts in self.close.index else None
        v = None
        if self.volume is not None and ts in self.volume.index:
            val = self.volume.loc[ts]
            v = float(val) if pd.notna(val) else None
        return c, v


def locate(setting: str, given: Path | None = None) -> Path | None:
    """The market-data folder: ``given`` if set, else the scenario's setting resolved like
    :func:`analysis.plots.run.market_data_dir`; None when absent."""
    if given is not None:
        return given if given.is_dir() else None
    from analysis.plots.run import market_data_dir

    return market_data_dir({"reference": {"market_data_dir": setting}}, Path.cwd())


@cache
def load_ticker(folder: Path | None, ticker: str) -> RealDaily | None:
    """A ticker's real bars (raw exchange bars preferred, adjusted closes otherwise)."""
    if folder is None:
        return None
    from analysis.validation.realdata import load_prices

    for sub in ("ohlcv_raw", "close_adjusted"):
        f = folder / sub / f"{ticker}.csv"
        if f.is_file():
            try:
                df = load_prices(f)
            except ValueError:
                return None
            vol = df["volume"] if "volume" in df.columns and sub == "ohlcv_raw" else None
            return RealDaily(close=df["close"], volume=vol)
    return None
