"""The shock-day table: simulated next to real return, dollar change and volume multiple.

Computed from a :class:`~analysis.dashboard.frame.Frame` with the definitions of
:mod:`analysis.metrics` (close-to-close return in percent, change in market value in USD,
session volume / average daily volume), so a finished run shows the figures ``run.py run``
prints; while the shock session is under way the figures are "so far" (last price against
the previous close).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.dashboard.frame import Frame
from analysis.dashboard.realdata import load_ticker


@dataclass(frozen=True)
class ShockDay:
    """Shock-session figures of one frame, per ticker (arrays in ``info.tickers`` order).

    ``state`` is ``"not reached"``, ``"so far"`` or ``"done"``; ``as_of`` the time of the last
    price used. Returns in percent, dollar changes in USD, volume in multiples of ADV.
    """

    date: dt.date | None
    state: str
    as_of: np.datetime64 | None
    returns_pct: np.ndarray
    dollar_change: np.ndarray
    volume_multiple: np.ndarray
    index_returns_pct: dict[str, float]


def shock_session(frame: Frame) -> int | None:
    """Index of the shock session in the calendar (the scenario's ``reference.shock_date``)."""
    info = frame.info
    if info.shock_date is None or info.shock_date not in info.sessions:
        return None
    return info.sessions.index(info.shock_date)


def shock_day(frame: Frame) -> ShockDay:
    """The shock session's figures so far (NaN before the session opened)."""
    info = frame.info
    a = len(info.tickers)
    nan = np.full(a, np.nan)
    s = shock_session(frame)
    sps = info.steps_per_session
    if s is None or frame.n <= s * sps:
        return ShockDay(info.shock_date, "not reached", None, nan, nan, nan, {})
    end = min(frame.n, (s + 1) * sps)
    prev = info.price0 if s == 0 else frame.prices[s * sps - 1]
    last = frame.prices[end - 1]
    cap_prev, cap_last = prev * info.shares, last * info.shares
    ret = 100.0 * (last / prev - 1.0)
    vol = frame.volume[s * sps : end].sum(axis=0) / info.adv
    idx = {
        k: float(100.0 * ((w * cap_last).sum() / (w * cap_prev).sum() - 1.0))
        for k, w in info.index_weights.items()
    }
    state = "done" if end == (s + 1) * sps else "so far"
    return ShockDay(
        info.shock_date, state, frame.times[end - 1], ret, cap_last - cap_prev, vol, idx
    )


@dataclass(frozen=True)
class Row:
    """One line of the table; None where a figure is not known."""

    name: str
    sim_pct: float | None
    real_pct: float | None
    sim_usd_bn: float | None
    real_usd_bn: float | None
    sim_volume_x: float | None
    real_volume_x: float | None
    compare_pct: float | None


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def table_rows(frame: Frame, market_data: Path | None, compare: Frame | None = None) -> list[Row]:
    """Ticker rows, then index rows, of the shock-day table."""
    info = frame.info
    sd = shock_day(frame)
    cmp = shock_day(compare) if compare is not None else None
    cmp_ret = {}
    if cmp is not None:
        cmp_ret = dict(zip(compare.info.tickers, cmp.returns_pct, strict=True))
        cmp_ret.update(cmp.index_returns_pct)
    ref = info.reference
    real_ret = ref.get("returns_pct", {})
    real_usd = ref.get("dollar_loss_usd", {})
    rows: list[Row] = []
    for i, t in enumerate(info.tickers):
        rr = real_ret.get(t)
        cap0 = info.price0[i] * info.shares[i]
        ru = real_usd.get(t, cap0 * rr / 100 if rr is not None else None)
        rv = None
        real = load_ticker(market_data, t)
        if real is not None and sd.date is not None:
            _, v = real.on(sd.date)
            rv = v / info.adv[i] if v else None
        rows.append(
            Row(
                t,
                _num(sd.returns_pct[i]),
                rr,
                _num(sd.dollar_change[i] / 1e9),
                None if ru is None else ru / 1e9,
                _num(sd.volume_multiple[i]),
                rv,
                _num(cmp_ret.get(t, np.nan)),
            )
        )
    real_idx = ref.get("index_returns_pct", {})
    for k in info.index_weights:
        rows.append(
            Row(
                f"[{k}]",
                _num(sd.index_returns_pct.get(k, np.nan)),
                real_idx.get(k),
                None,
                None,
                None,
                None,
                _num(cmp_ret.get(k, np.nan)),
            )
        )
    return rows
