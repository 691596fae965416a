"""Loading price CSVs in both shapes, turning them into returns, and the real-data targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.validation import realdata as rd
from analysis.validation import stylized as sf

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "market-data"
requires_data = pytest.mark.skipif(
    not DATA_DIR.is_dir(), reason=f"real market data not found at {DATA_DIR}"
)

CLOSE_ONLY = "Date,Close\n2025-01-23,147.2\n2025-01-24,142.62\n2025-01-27,118.42\n"
OHLCV = (
    "date,open,high,low,close,volume,wap,count\n"
    "2025-01-24,148.37,148.97,141.88,142.62,234657600.0,144.586,561505.0\n"
    "2025-01-27,124.8,128.4,116.7,118.42,818830900.0,,\n"
    "2025-01-28,121.81,129.0,116.25,128.99,579666400.0,123.418,1534336.0\n"
)


def _write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- load_prices on generated files --------------------------------------------------------------


def test_close_only_shape(tmp_path: Path) -> None:
    df = rd.load_prices(_write(tmp_path, CLOSE_ONLY))
    assert list(df.columns) == ["close"]
    assert isinstance(df.index, pd.DatetimeIndex)
    assert df.index.name == "date"
    assert df.loc["2025-01-24", "close"] == pytest.approx(142.62)


def test_ohlcv_shape_keeps_price_and_volume_columns(tmp_path: Path) -> None:
    df = rd.load_prices(_write(tmp_path, OHLCV))
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert (df.dtypes == np.float64).all()
    assert df.loc["2025-01-27", "volume"] == pytest.approx(818_830_900)


def test_headers_are_case_insensitive(tmp_path: Path) -> None:
    df = rd.load_prices(_write(tmp_path, "DATE,Open,CLOSE\n2024-01-02,1,2\n2024-01-03,2,3\n"))
    assert list(df.columns) == ["open", "close"]


def test_sorted_and_duplicates_dropped_keeping_last(tmp_path: Path) -> None:
    text = "Date,Close\n2024-01-03,3\n2024-01-02,2\n2024-01-03,4\n2024-01-04,5\n"
    df = rd.load_prices(_write(tmp_path, text))
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert list(df["close"]) == [2.0, 4.0, 5.0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "cannot be read"),
        ("Day,Close\n2024-01-02,1\n2024-01-03,2\n", "no date column"),
        ("date,open,volume\n2024-01-02,1,5\n2024-01-03,2,5\n", "no close column"),
        ("Date,Close\n2024-01-02,1\n2024-01-03,abc\n", "non-numeric"),
        ("Date,Close\n2024-01-02,1\n2024-01-03,\n", "missing close"),
        ("Date,Close\n2024-01-02,1\n2024-01-03,0\n", "non-positive"),
        ("Date,Close\n2024-01-02,1\n2024-01-03,-2\n", "non-positive"),
        ("Date,Close\n2024-01-02,1\n", "at least 2"),
        ("Date,Close\n2024-01-02,1\n2024-01-02,2\n", "at least 2"),
        ("Date,Close\n2024-01-02,1\nnot a date,2\n", "unparseable date"),
        ("date,close,volume\n2024-01-02,1,5\n2024-01-03,2,lots\n", "'volume' has 1 non-numeric"),
    ],
)
def test_bad_files_raise_value_error_naming_the_file(tmp_path: Path, text: str, match: str):
    path = _write(tmp_path, text, "bad_prices.csv")
    with pytest.raises(ValueError, match=match) as info:
        rd.load_prices(path)
    assert "bad_prices.csv" in str(info.value)


def test_missing_file_raises_value_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no_such_ticker.csv.*not found"):
        rd.load_prices(tmp_path / "no_such_ticker.csv")


# --- returns and windows -------------------------------------------------------------------------


def test_log_returns_values_and_labels() -> None:
    p = pd.Series([100.0, 110.0, 99.0], index=pd.date_range("2024-01-01", periods=3))
    r = rd.log_returns(p)
    assert list(r.index) == list(p.index[1:])
    np.testing.assert_allclose(r, [np.log(1.1), np.log(0.9)])


def test_log_returns_drop_nan_instead_of_bridging_gaps() -> None:
    p = pd.Series([100.0, np.nan, 110.0, 121.0], index=pd.date_range("2024-01-01", periods=4))
    r = rd.log_returns(p)
    assert len(r) == 1
    assert r.iloc[0] == pytest.approx(np.log(1.1))


def test_log_returns_reject_non_positive_prices() -> None:
    with pytest.raises(ValueError, match="positive"):
        rd.log_returns(pd.Series([1.0, 0.0, 2.0]))


def test_window_is_inclusive_and_open_ended(tmp_path: Path) -> None:
    df = rd.load_prices(_write(tmp_path, OHLCV))
    assert len(rd.window(df, "2025-01-27", "2025-01-28")) == 2
    assert len(rd.window(df, None, "2025-01-27")) == 2
    assert len(rd.window(df, "2025-01-25")) == 2
    with pytest.raises(ValueError, match="after"):
        rd.window(df, "2025-02-01", "2025-01-01")


def test_load_returns_first_return_uses_close_before_window(tmp_path: Path) -> None:
    r = rd.load_returns(_write(tmp_path, CLOSE_ONLY), start="2025-01-27", end="2025-01-27")
    assert len(r) == 1
    assert np.expm1(r.iloc[0]) == pytest.approx(118.42 / 142.62 - 1)
    with pytest.raises(ValueError, match="no returns"):
        rd.load_returns(_write(tmp_path, CLOSE_ONLY), start="2026-01-01")


# --- real data (skipped when ../shared/market-data is absent) ------------------------------------


@requires_data
def test_nvda_ohlcv_raw_close_on_24_jan_2025() -> None:
    df = rd.load_prices(DATA_DIR / "ohlcv_raw" / "NVDA.csv")
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert df.loc["2025-01-24", "close"] == pytest.approx(142.62)
    assert df.loc["2025-01-27", "close"] == pytest.approx(118.42)


@requires_data
@pytest.mark.parametrize("shape", ["ohlcv_raw", "close_adjusted"])
def test_nvda_deepseek_day_return_both_shapes(shape: str) -> None:
    r = rd.load_returns(DATA_DIR / shape / "NVDA.csv", "2025-01-27", "2025-01-27")
    assert r.index[0] == pd.Timestamp("2025-01-27")
    assert np.expm1(r.iloc[0]) == pytest.approx(-0.1697, abs=5e-4)  # simple return -16.97 %
    assert r.iloc[0] == pytest.approx(np.log(118.42 / 142.62), abs=5e-4)


@requires_data
def test_every_shared_file_loads() -> None:
    files = sorted(DATA_DIR.glob("*/*.csv"))
    assert files
    for path in files:
        df = rd.load_prices(path)
        assert len(df) > 1000, path.name
        assert (df["close"] > 0).all()


@requires_data
def test_nvda_summary_2016_2024_is_plausible() -> None:
    r = rd.load_returns(DATA_DIR / "close_adjusted" / "NVDA.csv", "2016-01-01", "2024-12-31")
    assert r.index[0] >= pd.Timestamp("2016-01-01")
    assert r.index[-1] <= pd.Timestamp("2024-12-31")
    assert 2200 < len(r) < 2300  # about 252 trading days a year
    s = sf.summary(r)
    assert s["excess_kurtosis"] > 2
    assert 2 < s["hill_tail_index"] < 5
    assert abs(s["acf_returns_lag1"]) < 0.1
    assert s["acf_abs_returns_mean_1_20"] > 0
    assert 0.01 < s["daily_volatility"] < 0.06
