"""Shared pieces of the dashboard's plotly figures: colours, fonts, axes and panel grids.

Figures are plain dictionaries (``{"data": [...], "layout": {...}}``) drawn by plotly.js;
these helpers keep their look the same across :mod:`analysis.dashboard.figures`.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from analysis.dashboard.frame import RunInfo
from analysis.dashboard.realdata import load_ticker

BLUE = "#1f77b4"
GREY = "#7f7f7f"
REAL = "#111111"
SHOCK = "#d62728"
OTHER_NEWS = "#2ca02c"
PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
]
FONT = {"family": "Arial, Helvetica, sans-serif", "size": 11}


def _round(a: np.ndarray, digits: int = 3) -> list[float | None]:
    """Rounded values as a JSON-ready list (NaN -> None, a gap in the line)."""
    r = np.round(np.asarray(a, dtype=float), digits)
    return [None if not math.isfinite(v) else v for v in r.tolist()]


def _layout(title: str, height: int, **kw: Any) -> dict[str, Any]:
    """A figure's layout: white, the title at the top left, the legend along the bottom."""
    out = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 70, "b": 140},
        "font": FONT,
        "template": None,
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "showlegend": True,
        "legend": {
            "orientation": "h",
            "x": 0.0,
            "xanchor": "left",
            "y": 0.0,
            "yanchor": "bottom",
            "yref": "container",
            "font": {"size": 10},
        },
    }
    out.update(kw)
    return out


def _axis(**kw: Any) -> dict[str, Any]:
    base = {
        "showgrid": True,
        "gridcolor": "#e5e5e5",
        "zeroline": False,
        "linecolor": "#999999",
        "showline": True,
        "ticks": "outside",
        "tickfont": {"size": 9},
    }
    base.update(kw)
    return base


def _day_ticks(info: RunInfo) -> dict[str, Any]:
    """Trading-time axis ticks: one per session start, labelled with its date."""
    sps = info.steps_per_session
    return {
        "tickmode": "array",
        "tickvals": [d * sps for d in range(len(info.sessions))],
        "ticktext": [d.strftime("%a %d %b") for d in info.sessions],
        "tickangle": -45,
        "range": [0, info.n_total],
    }


def _step_of(info: RunInfo, t: np.datetime64) -> int | None:
    """Trading step at or after time ``t`` on the calendar (None after the last session)."""
    sps = info.steps_per_session
    ts = np.datetime64(t, "m").item()
    for d, day in enumerate(info.sessions):
        if day > ts.date():
            return d * sps
        if day == ts.date():
            opens = dt.datetime.combine(day, info.session_open)
            k = int((ts - opens).total_seconds() // 60) // info.step_minutes
            if k < sps:
                return d * sps + max(k, 0)
    return None


@cache
def _real_points(
    market_data: Path | None, ticker: str, sessions: tuple, sps: int, price0: float
) -> tuple[list[int], list[float]]:
    """Real closes as chart points: x = last trading step of each session, y = % from start."""
    real = load_ticker(market_data, ticker)
    xs: list[int] = []
    ys: list[float] = []
    if real is None:
        return xs, ys
    for d, day in enumerate(sessions):
        c, _ = real.on(day)
        if c is not None:
            xs.append((d + 1) * sps - 1)
            ys.append(round(100.0 * (c / price0 - 1.0), 3))
    return xs, ys


def _grid(n: int, ncol: int, hgap: float = 0.035, vgap: float = 0.2) -> list[tuple]:
    """Panel domains ((x0, x1), (y0, y1)) of an ``n``-panel grid, row by row from the top."""
    nrow = math.ceil(n / ncol)
    w = (1 - hgap * (ncol - 1)) / ncol
    h = (1 - vgap * (nrow - 1)) / nrow
    out = []
    for i in range(n):
        r, c = divmod(i, ncol)
        x0 = c * (w + hgap)
        y1 = 1 - r * (h + vgap)
        out.append(((x0, x0 + w), (y1 - h, y1)))
    return out


def _ax(i: int) -> str:
    return "" if i == 0 else str(i + 1)


def _groups(info: RunInfo) -> list[tuple[str, list[int]]]:
    """Asset indices by ``group`` (chips, big_tech, rest), in the universe's order."""
    out: dict[str, list[int]] = {}
    for i, g in enumerate(info.groups):
        out.setdefault(g, []).append(i)
    return list(out.items())
