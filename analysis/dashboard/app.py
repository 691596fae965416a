"""The dashboard page (Solara): watch a run, open a run folder, open a sweep folder.

Layout of the "Watch a run" tab: on the left the scenario, the parameters (each with its unit
and the schema's explanation) and Run / Pause / Step / Reset; on the right the simulated time
and the charts, which redraw while the model steps, and the shock-day table. The state and
actions live in :class:`analysis.dashboard.state.Dash`.
"""

from __future__ import annotations

import html

import numpy as np
import solara
import solara.lab

from analysis.dashboard import figures
from analysis.dashboard.chart import PlotlyChart, figure_json
from analysis.dashboard.controls import GROUPS, Control, parse_text
from analysis.dashboard.frame import Frame
from analysis.dashboard.state import OTHER_FILE, Dash
from analysis.dashboard.table import Row, shock_day, table_rows

SIDEBAR_WIDTH = "400px"
CSS = """
.moat-help { font-size: 11px; color: #555; line-height: 1.25; margin: 0 0 8px 0; }
.moat-label { font-size: 13px; margin-top: 4px; }
.moat-slider { margin-top: -14px; }
.moat-group { font-weight: 600; font-size: 13px; margin: 10px 0 4px 0; }
.moat-status { font-size: 15px; }
.shock-table { border-collapse: collapse; font-size: 12px; }
.shock-table td, .shock-table th { padding: 3px 8px; text-align: right; border-bottom: 1px solid #e0e0e0; }
.shock-table th { font-weight: 600; font-size: 12px; vertical-align: bottom; }
.shock-table td:first-child, .shock-table th:first-child { text-align: left; }
.moat-note { font-size: 12px; color: #555; }
"""


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


@solara.component
def NumberControl(dash: Dash, control: Control):
    """A parameter: label, slider (fractions and rates), text box with unit, explanation.

    The explanation is the schema's description of the field; a message about a bad value
    replaces nothing and appears under the text box, in red.
    """
    text = dash.texts.value.get(control.path, "")
    error = dash.errors.value.get(control.path)
    last_good = solara.use_ref(float(control.default))
    try:
        last_good.current = float(parse_text(control, text))
    except ValueError:
        pass  # a bad value leaves the slider where it was; the message shows under the box
    v = last_good.current

    def slid(x: float) -> None:
        # the slider reports back the value it was given, too: only a move changes the text
        if abs(x - min(max(v, 0.0), control.top)) > control.top / 400:
            dash.set_text(control, f"{x:.4g}")

    with solara.Column(gap="0px", classes=["moat-control", f"ctl-{control.slug}"]):
        solara.Text(control.label, classes=["moat-label"])
        with solara.Row(gap="8px", style={"align-items": "flex-start"}):
            if not control.integer:
                with solara.Column(
                    style={"flex": "1 1 auto", "min-width": "0"}, classes=["moat-slider"]
                ):
                    solara.SliderFloat(
                        "",
                        value=min(max(v, 0.0), control.top),
                        min=0.0,
                        max=control.top,
                        step=control.top / 200,
                        on_value=slid,
                        thumb_label=False,
                    )
            solara.InputText(
                "",
                value=text,
                on_value=lambda t: dash.set_text(control, t),
                error=error or False,
                suffix=control.unit,
                dense=True,
                classes=[f"input-{control.slug}"],
                style={"max-width": "165px" if not control.integer else "100%"},
            )
        if control.group != GROUPS[0]:
            solara.Text(f"{control.path}: {control.help}", classes=["moat-help"])


@solara.component
def CohortControls(dash: Dash, members: list[Control]):
    """Investor types as a grid: one row per type, its head-count and wealth shares."""
    fields = {}
    for c in members:
        name, field = c.path.split(".")[2:4]
        fields.setdefault(name, {})[field] = c
    seen = []
    for c in members:
        field = c.path.split(".")[3]
        if field not in seen:
            seen.append(field)
            solara.Text(f"{field}: {c.help} [{c.unit}]", classes=["moat-help"])
    for name, by_field in fields.items():
        with solara.Row(gap="8px", style={"align-items": "flex-start"}):
            solara.Text(
                name.replace("_", " "),
                classes=["moat-label"],
                style={"width": "100px", "flex": "0 0 100px"},
            )
            for field in seen:
                c = by_field.get(field)
                if c is None:
                    continue
                solara.InputText(
                    field.replace("_", " "),
                    value=dash.texts.value.get(c.path, ""),
                    on_value=lambda t, c=c: dash.set_text(c, t),
                    error=dash.errors.value.get(c.path) or False,
                    dense=True,
                    classes=[f"input-{c.slug}"],
                )


@solara.component
def ScenarioPicker(dash: Dash):
    names = [*dash.shipped, OTHER_FILE]
    solara.Select(
        "Scenario (scenarios/*.yaml)", values=names, value=dash.choice.value, on_value=dash.choose
    )
    with solara.Row(gap="6px", style={"align-items": "center"}):
        solara.InputText(
            "or the path of a scenario file",
            value=dash.path_text.value,
            on_value=dash.load_typed_path,
            error=dash.path_error.value or False,
            classes=["input-scenario-path", "scenario-error" if dash.path_error.value else ""],
        )


@solara.component
def RunButtons(dash: Dash):
    frame: Frame | None = dash.frame.value
    playing = dash.playing.value
    finished = frame is not None and frame.finished
    with solara.Row(gap="6px"):
        solara.Button(
            "Run",
            icon_name="mdi-play",
            color="primary",
            on_click=dash.play,
            disabled=playing,
            classes=["btn-run"],
        )
        solara.Button(
            "Pause",
            icon_name="mdi-pause",
            on_click=dash.pause,
            disabled=not playing,
            classes=["btn-pause"],
        )
        solara.Button(
            "Step",
            icon_name="mdi-step-forward",
            on_click=dash.step,
            disabled=playing or finished,
            classes=["btn-step"],
        )
        solara.Button("Reset", icon_name="mdi-restore", on_click=dash.reset, classes=["btn-reset"])
    solara.Text(
        "Run starts (or resumes) the run with the values above; Step advances one tick "
        "(5 trading minutes or one closed hour); Reset rebuilds the model at the start.",
        classes=["moat-help"],
    )
    for msg in dash.general.value:
        solara.Error(msg, dense=True, classes=["general-error"])
    if dash.run is not None and dash.run.error:
        solara.Error(f"the run stopped: {dash.run.error}", dense=True, classes=["general-error"])


@solara.component
def CompareBox(dash: Dash):
    cmp: Frame | None = dash.compare.value
    folder = solara.use_reactive("")
    solara.Text("Compare", classes=["moat-group"])
    if cmp is not None:
        solara.Text(f"drawn in grey: {cmp.label}", classes=["moat-note", "compare-label"])
    if dash.note.value:
        solara.Text(dash.note.value, classes=["moat-note"])
    with solara.Row(gap="6px"):
        solara.Button(
            "Keep this run for comparison",
            on_click=dash.keep_for_comparison,
            small=True,
            classes=["btn-keep"],
        )
        solara.Button(
            "Clear",
            on_click=dash.clear_comparison,
            small=True,
            disabled=cmp is None,
            classes=["btn-clear-compare"],
        )
    solara.InputText(
        "or compare with a run folder (press Enter)",
        value=folder,
        on_value=lambda t: (folder.set(t), dash.compare_with_folder(t)),
        error=dash.compare_error.value or False,
        dense=True,
        classes=["input-compare-folder"],
    )


@solara.component
def Sidebar(dash: Dash):
    with solara.Column(gap="4px", style={"width": SIDEBAR_WIDTH, "min-width": SIDEBAR_WIDTH}):
        ScenarioPicker(dash)
        RunButtons(dash)
        CompareBox(dash)
        controls = dash.controls.value
        for group in GROUPS:
            members = [c for c in controls if c.group == group]
            if not members:
                continue
            solara.Text(group, classes=["moat-group"])
            if group == GROUPS[1]:
                CohortControls(dash, members)
                continue
            if group == GROUPS[0]:
                c = members[0]
                solara.Text(
                    f"news.<id>.credibility: {c.help} [{c.unit}]; ids in brackets",
                    classes=["moat-help"],
                )
            for c in members:
                NumberControl(dash, c)


def _status(frame: Frame | None, dash: Dash) -> str:
    if frame is None:
        return "No scenario loaded."
    if frame.now is None:
        return "Not started: press Run. Simulated time starts at the first tick of the calendar."
    when = np.datetime64(frame.now, "m").item().strftime("%a %d %b %Y %H:%M")
    state = "finished" if frame.finished else ("running" if dash.playing.value else "paused")
    out = f"Simulated time: {when} (exchange time), tick {frame.tick} of {frame.n_ticks}, {state}"
    run = dash.run
    secs = run.seconds_playing if run is not None else 0.0
    if secs > 0:
        out += f" · {run.updates_per_second:.1f} screen updates/s, {run.stats.steps / secs:.0f} ticks/s"
        if frame.finished:
            out += f" · run took {secs:.1f} s"
    return out


def table_html(frame: Frame, compare: Frame | None, market_data) -> str:
    """The shock-day table as HTML (one element, not a widget per cell: faster to send)."""
    rows: list[Row] = table_rows(frame, market_data, compare)
    sd = shock_day(frame)
    when = sd.date.strftime("%a %d %b %Y") if sd.date else "no shock date in the scenario"
    state = {
        "not reached": "not reached yet",
        "so far": f"so far, at {str(sd.as_of)[11:16]}",
        "done": "whole session",
    }[sd.state]
    head = [
        "ticker",
        "return % sim",
        "return % real",
        "value $bn sim",
        "value $bn real",
        "volume ×ADV sim",
        "volume ×ADV real",
    ]
    if compare is not None:
        head.append("return % comparison")
    out = [
        f'<div class="moat-group">Shock day {when}: simulated vs real ({state})</div>',
        '<div style="overflow-x: auto"><table class="shock-table"><thead><tr>',
        "".join(f"<th>{html.escape(h)}</th>" for h in head),
        "</tr></thead><tbody>",
    ]
    for r in rows:
        vals = [
            r.name,
            _fmt(r.sim_pct, "+.2f"),
            _fmt(r.real_pct, "+.2f"),
            _fmt(r.sim_usd_bn, "+,.1f"),
            _fmt(r.real_usd_bn, "+,.1f"),
            _fmt(r.sim_volume_x, ".1f"),
            _fmt(r.real_volume_x, ".1f"),
        ]
        if compare is not None:
            vals.append(_fmt(r.compare_pct, "+.2f"))
        cells = "".join(f"<td>{html.escape(v)}</td>" for v in vals)
        out.append(f'<tr data-row="{html.escape(r.name)}">{cells}</tr>')
    out.append("</tbody></table></div>")
    out.append(
        '<div class="moat-note">return: close-to-close on the shock day; value: change in '
        "market value; volume: the day's volume in multiples of the average daily volume "
        "(ADV); real: the scenario's reference figures and real volumes when market data is "
        "found</div>"
    )
    if compare is not None:
        out.append(f'<div class="moat-note">comparison: {html.escape(compare.label)}</div>')
    return "".join(out)


@solara.component
def Charts(
    frame: Frame,
    compare: Frame | None,
    market_data,
    prefix: str = "",
    slow: Frame | None = None,
):
    """The four charts and the shock-day table of a frame (and a comparison frame).

    ``slow``, if given, is the (older) frame the belief, flow and market-value charts are
    drawn from, so that they redraw less often than the prices while a run plays.
    """
    info = frame.info
    if slow is None or slow.info is not info:
        slow = frame
    default = "NVDA" if "NVDA" in info.tickers else info.tickers[0]
    ticker, set_ticker = solara.use_state(default)
    if ticker not in info.tickers:
        ticker = default
    keys = [id(slow), id(compare)]
    wipeout = solara.use_memo(lambda: figure_json(figures.wipeout_figure(slow, compare)), keys)
    beliefs = solara.use_memo(lambda: figure_json(figures.beliefs_figure(slow, compare)), keys)
    flows = solara.use_memo(
        lambda: figure_json(figures.flows_figure(slow, ticker, compare)), [*keys, ticker]
    )
    prices = figure_json(figures.prices_figure(frame, compare, market_data))
    box = {"flex": "1 1 520px", "min-width": "420px"}
    row = {"flex-wrap": "wrap", "align-items": "flex-start"}
    PlotlyChart(figure=prices, testid=f"{prefix}prices", height=470)
    with solara.Row(gap="12px", style=row):
        with solara.Column(style=box):
            PlotlyChart(figure=wipeout, testid=f"{prefix}wipeout", height=460)
        with solara.Column(style=box):
            solara.HTML(tag="div", unsafe_innerHTML=table_html(frame, compare, market_data))
    with solara.Row(gap="12px", style=row):
        with solara.Column(style=box):
            PlotlyChart(figure=beliefs, testid=f"{prefix}beliefs", height=680)
        with solara.Column(style=box):
            solara.Select(
                "Order flow of",
                values=list(info.tickers),
                value=ticker,
                on_value=set_ticker,
                dense=True,
            )
            PlotlyChart(figure=flows, testid=f"{prefix}flows", height=520)


@solara.component
def LiveView(dash: Dash):
    frame: Frame | None = dash.frame.value
    solara.Text(_status(frame, dash), classes=["moat-status", "sim-time"])
    if frame is not None:
        Charts(frame, dash.compare.value, dash.market_data, slow=dash.slow_frame.value)


@solara.component
def WatchTab(dash: Dash):
    with solara.Row(gap="16px", style={"align-items": "flex-start", "flex-wrap": "nowrap"}):
        Sidebar(dash)
        with solara.Column(style={"flex": "1 1 auto", "min-width": "0"}):
            LiveView(dash)


@solara.component
def RunFolderTab(dash: Dash):
    text = solara.use_reactive("")
    solara.Text(
        "A folder written by 'python run.py run SCENARIO.yaml' (daily.csv, intraday.csv, "
        "flows.csv, beliefs.csv, events.csv, summary.json). Type its path and press Enter."
    )
    solara.InputText(
        "run folder",
        value=text,
        on_value=lambda t: (text.set(t), dash.open_run_folder(t)),
        error=dash.folder_error.value or False,
        classes=["input-run-folder"],
    )
    frame: Frame | None = dash.folder_frame.value
    if frame is not None:
        with solara.Row(gap="6px", style={"align-items": "center"}):
            solara.Text(f"{frame.label}: {frame.n} trading steps", classes=["moat-status"])
            solara.Button(
                "Use as comparison in 'Watch a run'",
                small=True,
                on_click=lambda: dash.compare.set(frame),
            )
        Charts(frame, None, dash.market_data_for(frame), prefix="folder-")


@solara.component
def SweepTab(dash: Dash):
    text = solara.use_reactive("")
    solara.Text(
        "A folder written by 'python run.py sweep SPEC.yaml' (sweep.json, runs.csv, "
        "runs.parquet) and, after 'python run.py analyze DIR', its analysis/ outputs: "
        "drivers, heatmaps, Sobol' or Morris indices. Type its path and press Enter."
    )
    solara.InputText(
        "sweep folder",
        value=text,
        on_value=lambda t: (text.set(t), dash.open_sweep_folder(t)),
        error=dash.sweep_error.value or False,
        classes=["input-sweep-folder"],
    )
    view = dash.sweep.value
    if view is None:
        return
    c = view.counts
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            f"<b>{html.escape(view.name)}</b>: {html.escape(view.design)} design over "
            f"{html.escape(', '.join(view.parameters))}; metrics "
            f"{html.escape(', '.join(view.metrics))}; fixed {html.escape(str(view.fixed or '-'))}. "
            f"{c['recorded']} of {c['tasks']} runs recorded, {c['ok']} ok, {c['failed']} failed."
        ),
    )
    if not view.analysed:
        solara.Warning(
            "No analysis/ yet: heatmaps and sensitivity indices are made by "
            "'python run.py analyze DIR' (or the button)."
        )
        solara.Button("Analyze now", on_click=dash.analyse_sweep, classes=["btn-analyze"])
    with solara.lab.Tabs():
        with solara.lab.Tab("runs"):
            solara.DataFrame(view.runs, items_per_page=15)
        for name, df in view.tables.items():
            with solara.lab.Tab(name.removesuffix(".csv")):
                solara.DataFrame(df, items_per_page=15)
    with solara.Row(gap="12px", style={"flex-wrap": "wrap"}):
        for img in view.images:
            with solara.Column(gap="2px", style={"width": "560px"}):
                solara.Text(img.name, classes=["moat-note"])
                solara.Image(img, width="560px")


@solara.component
def Page():
    dash = solara.use_memo(Dash, [])
    solara.Style(CSS)
    solara.Title("moatshock dashboard")
    with solara.AppBar():
        solara.AppBarTitle("moatshock: watch the 27 January 2025 AI sell-off unfold")
    with solara.lab.Tabs(lazy=True):
        with solara.lab.Tab("Watch a run"):
            WatchTab(dash)
        with solara.lab.Tab("Open a run folder"):
            RunFolderTab(dash)
        with solara.lab.Tab("Open a sweep folder"):
            SweepTab(dash)
