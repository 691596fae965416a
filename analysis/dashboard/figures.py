"""Plotly figures of a run, as plain dictionaries (``{"data": [...], "layout": {...}}``).

Drawn from :class:`~analysis.dashboard.frame.Frame` objects: the run, optionally a second run
to compare (drawn in grey, dashed) and the real daily data. Built as dictionaries, not
``plotly.graph_objects``, because they are rebuilt several times a second while a run plays;
the browser draws them with plotly.js (:mod:`analysis.dashboard.chart`).

* :func:`prices_figure`: intraday prices in % from the starting price, one panel per ticker,
  trading time on x, real daily closes as dots, shock news as red lines;
* :func:`wipeout_figure`: change in market value by company on the shock day, $bn;
* :func:`beliefs_figure`: quantile bands of investors' beliefs per factor, calendar time;
* :func:`flows_figure`: net buying by investor type and volume of one ticker, trading time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.dashboard.frame import Frame
from analysis.dashboard.layout import (
    BLUE,
    GREY,
    OTHER_NEWS,
    PALETTE,
    REAL,
    SHOCK,
    _ax,
    _axis,
    _day_ticks,
    _grid,
    _groups,
    _layout,
    _real_points,
    _round,
    _step_of,
)
from analysis.dashboard.table import shock_day
from analysis.plots import cohort_color

#: price panels (one per group of companies) per row, and each row's height in pixels
PRICE_PANELS_PER_ROW = 3
PRICE_ROW_HEIGHT = 370


def prices_figure(frame: Frame, compare: Frame | None, market_data: Path | None) -> dict:
    """Intraday prices, % from the starting price, one panel per group of companies.

    Each company has its colour: a line for the simulation, dots for the real daily closes
    (at the end of each session), a dashed line for the comparison run; red dotted lines
    mark shock news. Three panels instead of ten keep a redraw short while a run plays.
    """
    info = frame.info
    groups = _groups(info)
    # at most three panels a row, so that six groups of a 29-company universe stay readable
    ncol = min(len(groups), PRICE_PANELS_PER_ROW)
    nrow = -(-len(groups) // ncol)
    panels = _grid(len(groups), ncol, hgap=0.06, vgap=0.22 if nrow > 1 else 0.2)
    layout = _layout(
        "Intraday prices, % change from the starting price — lines: simulated, dots: real "
        "daily closes, dashed: comparison, red: shock news",
        150 + PRICE_ROW_HEIGHT * nrow,
        margin={"l": 60, "r": 15, "t": 80, "b": 70},
    )
    layout["legend"] = {
        "orientation": "v",
        "x": 1.01,
        "y": 1.0,
        "yanchor": "top",
        "font": {"size": 11},
        "title": {"text": "company"},
    }
    layout["margin"]["r"] = 150
    ticks = _day_ticks(info)
    data: list[dict] = []
    annotations = []
    shapes = []
    shock_steps = [_step_of(info, t) for t, _, sh in frame.events if sh]
    shock_steps = [s for s in shock_steps if s is not None]
    cmp_idx = {t: i for i, t in enumerate(compare.info.tickers)} if compare is not None else {}
    sps = info.steps_per_session
    for k, ((group, members), (xd, yd)) in enumerate(zip(groups, panels, strict=True)):
        ax = _ax(k)
        layout[f"xaxis{ax}"] = _axis(domain=list(xd), anchor=f"y{ax}", **ticks)
        layout[f"yaxis{ax}"] = _axis(
            domain=list(yd),
            anchor=f"x{ax}",
            title={"text": "% from start" if k == 0 else None, "font": {"size": 10}},
            zeroline=True,
            zerolinecolor="#bbbbbb",
        )
        annotations.append(
            {
                "text": f"<b>{group.replace('_', ' ')}</b>",
                "xref": "x domain" if not ax else f"x{ax} domain",
                "yref": "y domain" if not ax else f"y{ax} domain",
                "x": 0.0,
                "y": 1.0,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12},
            }
        )
        real_x: list[int] = []
        real_y: list[float] = []
        real_c: list[str] = []
        real_t: list[str] = []
        for i in members:
            t = info.tickers[i]
            color = PALETTE[i % len(PALETTE)]
            y = 100.0 * (frame.prices[:, i] / info.price0[i] - 1.0)
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": t,
                    "legendgroup": t,
                    "x0": 0,
                    "dx": 1,
                    "y": _round(y),
                    "line": {"color": color, "width": 1.4},
                    "xaxis": f"x{ax}",
                    "yaxis": f"y{ax}",
                    "hovertemplate": f"{t} ({info.names[i]}) %{{y:.2f}}%<extra>simulated</extra>",
                }
            )
            if compare is not None and t in cmp_idx:
                j = cmp_idx[t]
                yc = 100.0 * (compare.prices[:, j] / compare.info.price0[j] - 1.0)
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "name": f"{t} comparison",
                        "legendgroup": t,
                        "showlegend": False,
                        "x0": 0,
                        "dx": 1,
                        "y": _round(yc),
                        "opacity": 0.55,
                        "line": {"color": color, "width": 1.1, "dash": "dash"},
                        "xaxis": f"x{ax}",
                        "yaxis": f"y{ax}",
                        "hovertemplate": f"{t} %{{y:.2f}}%<extra>comparison</extra>",
                    }
                )
            xs, ys = _real_points(market_data, t, tuple(info.sessions), sps, float(info.price0[i]))
            real_x += xs
            real_y += ys
            real_c += [color] * len(xs)
            real_t += [t] * len(xs)
        if real_x:
            # one trace per panel for the real closes (fewer traces: a quicker redraw)
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": "real daily close (dot in the company's colour)",
                    "legendgroup": "real",
                    "showlegend": k == 0,
                    "x": real_x,
                    "y": real_y,
                    "text": real_t,
                    "marker": {"color": real_c, "size": 7, "line": {"color": REAL, "width": 1}},
                    "xaxis": f"x{ax}",
                    "yaxis": f"y{ax}",
                    "hovertemplate": "%{text} real close %{y:.2f}%<extra></extra>",
                }
            )
        for s in shock_steps:
            shapes.append(
                {
                    "type": "line",
                    "xref": f"x{ax}",
                    "yref": "y domain" if not ax else f"y{ax} domain",
                    "x0": s,
                    "x1": s,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": SHOCK, "width": 1, "dash": "dot"},
                }
            )
    if compare is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [None],
                "y": [None],
                "name": f"dashed: {compare.label}",
                "line": {"color": GREY, "dash": "dash", "width": 1.1},
            }
        )
    layout["annotations"] = annotations
    layout["shapes"] = shapes
    layout["title"]["text"] += f"<br><sup>{frame.label}</sup>"
    # "serial" (outside the layout) tells the page, and tests, which update was drawn
    return {"data": data, "layout": layout, "serial": frame.serial}


def wipeout_figure(frame: Frame, compare: Frame | None) -> dict:
    """Change in market value on the shock day by company ($bn): simulated, real, comparison."""
    info = frame.info
    keep = [i for i, g in enumerate(info.groups) if g != "rest"]
    names = [info.tickers[i] for i in keep]
    sd = shock_day(frame)
    ref = info.reference.get("returns_pct", {})
    real_usd = info.reference.get("dollar_loss_usd", {})
    real = []
    for i in keep:
        t = info.tickers[i]
        cap0 = info.price0[i] * info.shares[i]
        r = real_usd.get(t, cap0 * ref[t] / 100 if t in ref else None)
        real.append(None if r is None else round(r / 1e9, 2))
    when = "" if sd.date is None else sd.date.strftime("%a %d %b %Y")
    status = {
        "not reached": "<br><sup>not reached yet: the simulated bars appear when the session "
        "opens</sup>",
        "so far": f"<br><sup>so far, at {str(sd.as_of)[11:16]}</sup>",
        "done": "<br><sup>close of the session against the previous close</sup>",
    }[sd.state]
    data = [
        {
            "type": "bar",
            "name": "simulated",
            "x": names,
            "y": _round(sd.dollar_change[keep] / 1e9, 2),
            "marker": {"color": BLUE},
            "hovertemplate": "%{x}: %{y:.1f} $bn<extra>simulated</extra>",
        },
        {
            "type": "bar",
            "name": "real (reported change, or real return × starting value)",
            "x": names,
            "y": real,
            "marker": {"color": "#b0b0b0"},
            "hovertemplate": "%{x}: %{y:.1f} $bn<extra>real</extra>",
        },
    ]
    if compare is not None:
        sc = shock_day(compare)
        cidx = {t: j for j, t in enumerate(compare.info.tickers)}
        data.append(
            {
                "type": "bar",
                "name": f"comparison: {compare.label}",
                "x": names,
                "y": [
                    _round([sc.dollar_change[cidx[t]] / 1e9], 2)[0] if t in cidx else None
                    for t in names
                ],
                "marker": {"color": "#ffbb78"},
                "hovertemplate": "%{x}: %{y:.1f} $bn<extra>comparison</extra>",
            }
        )
    layout = _layout(
        f"Market-value change by company on the shock day, {when}{status}",
        460,
        barmode="group",
        xaxis=_axis(title={"text": "company"}, tickfont={"size": 11}),
        yaxis=_axis(title={"text": "change in market value, $bn"}, zeroline=True),
    )
    return {"data": data, "layout": layout}


def _iso(times: np.ndarray) -> list[str]:
    return np.datetime_as_string(times, unit="m").tolist()


def beliefs_figure(frame: Frame, compare: Frame | None) -> dict:
    """Quantile bands of investors' beliefs on each factor over calendar time."""
    info = frame.info
    nf = len(info.factors)
    gap = 0.08
    h = (1 - gap * (nf - 1)) / nf
    start = np.datetime64(info.sessions[0], "D") - np.timedelta64(1, "D")
    end = np.datetime64(info.sessions[-1], "D") + np.timedelta64(1, "D")
    layout = _layout(
        "Investors' beliefs on each factor (factor units; 0 = the consensus priced in at start)",
        230 + 150 * nf,
        margin={"l": 70, "r": 20, "t": 70, "b": 140},
    )
    data: list[dict] = []
    x = _iso(frame.belief_times)
    shapes = []
    for k, f in enumerate(info.factors):
        ax = _ax(k)
        y1 = 1 - k * (h + gap)
        layout[f"xaxis{ax}"] = _axis(
            anchor=f"y{ax}",
            type="date",
            range=[str(start), str(end)],
            matches="x" if k else None,
            showticklabels=k == nf - 1,
            title={"text": "calendar time (exchange time)"} if k == nf - 1 else None,
            tickfont={"size": 10},
        )
        layout[f"yaxis{ax}"] = _axis(
            domain=[y1 - h, y1],
            anchor=f"x{ax}",
            title={"text": f.replace("_", " "), "font": {"size": 10}},
        )
        q = frame.beliefs[:, k, :]
        first = k == 0
        common = {"x": x, "xaxis": f"x{ax}", "yaxis": f"y{ax}", "mode": "lines", "type": "scatter"}
        data += [
            {
                **common,
                "y": _round(q[:, 0]),
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
            },
            {
                **common,
                "y": _round(q[:, 4]),
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": "rgba(31,119,180,0.18)",
                "name": "5-95% of investors",
                "legendgroup": "b90",
                "showlegend": first,
                "hoverinfo": "skip",
            },
            {
                **common,
                "y": _round(q[:, 1]),
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
            },
            {
                **common,
                "y": _round(q[:, 3]),
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": "rgba(31,119,180,0.40)",
                "name": "25-75% of investors",
                "legendgroup": "b50",
                "showlegend": first,
                "hoverinfo": "skip",
            },
            {
                **common,
                "y": _round(q[:, 2]),
                "line": {"color": BLUE, "width": 1.5},
                "name": "median",
                "legendgroup": "med",
                "showlegend": first,
                "hovertemplate": f"{f}: %{{y:.3f}}<extra>median</extra>",
            },
        ]
        if compare is not None and f in compare.info.factors:
            kc = compare.info.factors.index(f)
            data.append(
                {
                    **common,
                    "x": _iso(compare.belief_times),
                    "y": _round(compare.beliefs[:, kc, 2]),
                    "line": {"color": GREY, "width": 1.2, "dash": "dash"},
                    "name": f"comparison median: {compare.label}",
                    "legendgroup": "cmp",
                    "showlegend": first,
                }
            )
        for t, _, sh in frame.events:
            shapes.append(
                {
                    "type": "line",
                    "xref": f"x{ax}",
                    "yref": "y domain" if not ax else f"y{ax} domain",
                    "x0": str(t),
                    "x1": str(t),
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": SHOCK if sh else OTHER_NEWS, "width": 1, "dash": "dot"},
                }
            )
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "x": [None],
            "y": [None],
            "name": "news released (red: shock, green: other)",
            "line": {"color": SHOCK, "width": 1, "dash": "dot"},
        }
    )
    layout["shapes"] = shapes
    return {"data": data, "layout": layout}


def _bins(sps: int) -> int:
    """Trading steps per bar of the flow chart: a sixth of a session when it divides."""
    for k in (6, 5, 4, 3, 2):
        if sps % k == 0:
            return sps // k
    return sps


def flows_figure(frame: Frame, ticker: str, compare: Frame | None) -> dict:
    """Net buying by investor type and trading volume of one ticker, in trading time."""
    info = frame.info
    i = info.tickers.index(ticker)
    b = _bins(info.steps_per_session)
    nb = frame.n // b
    n_used = nb * b
    fl = frame.flows[:n_used, :, i].reshape(nb, b, len(info.cohorts)).sum(axis=1)  # (nb, C)
    pct = 100.0 * fl / info.shares[i]
    vol = frame.volume[:n_used, i].reshape(nb, b).sum(axis=1)
    x = (np.arange(nb) * b + b / 2).tolist()
    minutes = b * info.step_minutes
    layout = _layout(
        f"{ticker}: net buying by investor type, and volume<br><sup>per {minutes} minutes "
        "of trading; x: trading time</sup>",
        520,
        barmode="relative",
        bargap=0.05,
        margin={"l": 70, "r": 20, "t": 70, "b": 190},
    )
    ticks = _day_ticks(info)
    layout["xaxis"] = _axis(anchor="y", matches="x2", showticklabels=False, **ticks)
    layout["xaxis2"] = _axis(anchor="y2", **ticks)
    layout["yaxis"] = _axis(
        domain=[0.42, 1.0],
        anchor="x",
        title={"text": "net bought,<br>% of shares"},
        zeroline=True,
        zerolinecolor="#444444",
    )
    layout["yaxis2"] = _axis(
        domain=[0.0, 0.32], anchor="x2", title={"text": "volume,<br>% of avg daily"}
    )
    data: list[dict] = []
    for k, c in enumerate(info.cohorts):
        data.append(
            {
                "type": "bar",
                "name": c.replace("_", " "),
                "x": x,
                "y": _round(pct[:, k], 5),
                "width": b,
                "marker": {"color": cohort_color(c)},
                "xaxis": "x",
                "yaxis": "y",
                "hovertemplate": f"{c}: %{{y:.4f}}% of shares<extra></extra>",
            }
        )
    data.append(
        {
            "type": "bar",
            "name": "volume (all investors)",
            "x": x,
            "y": _round(100.0 * vol / info.adv[i], 2),
            "width": b,
            "marker": {"color": "#555555"},
            "xaxis": "x2",
            "yaxis": "y2",
            "hovertemplate": "%{y:.1f}% of average daily volume<extra></extra>",
        }
    )
    if compare is not None and ticker in compare.info.tickers:
        j = compare.info.tickers.index(ticker)
        nbc = compare.n // b
        vc = compare.volume[: nbc * b, j].reshape(nbc, b).sum(axis=1)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"comparison volume: {compare.label}",
                "x": (np.arange(nbc) * b + b / 2).tolist(),
                "y": _round(100.0 * vc / compare.info.adv[j], 2),
                "line": {"color": "#ff7f0e", "dash": "dash", "width": 1.2},
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
    return {"data": data, "layout": layout}
