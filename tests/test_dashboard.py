"""The dashboard's pieces without a browser: controls, messages, frames, table, folders, CLI."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

from analysis.dashboard.controls import (
    GROUPS,
    check,
    field_help,
    parse_text,
    read_scenario,
    scenario_controls,
    shipped_scenarios,
)
from analysis.dashboard.frame import Recorder, empty_frame, frame_from_folder
from analysis.dashboard.table import shock_day, table_rows
from sim.scenario import load_raw, load_scenario
from tests.conftest import SCENARIOS

DEEPSEEK = SCENARIOS / "deepseek_2025.yaml"
TINY = {"population.size": 300, "calendar.end": "2025-01-28"}


@pytest.fixture(scope="module")
def raw():
    return load_raw(DEEPSEEK)


@pytest.fixture(scope="module")
def controls(raw):
    return scenario_controls(raw)


def test_controls_carry_schema_descriptions_and_units(controls):
    by_path = {c.path: c for c in controls}
    c = by_path["news.viral_cost_claim.credibility"]
    assert c.help == field_help("news[].credibility") == "precision of the signal (1/variance)"
    assert c.unit == "1/variance" and c.group == GROUPS[0]
    assert "trained for $5.6M" in c.label and c.default == pytest.approx(0.75)
    assert by_path["network.q"].help == field_help("network.q") and by_path["network.q"].unit
    assert by_path["beliefs.jevons_share"].unit == "fraction"
    assert by_path["population.size"].integer and by_path["seed"].integer
    assert "population.cohorts.momentum.share" in by_path
    assert "population.cohorts.momentum.wealth_share" in by_path
    assert all(c.help for c in controls)


def test_parse_text_messages(controls):
    cred = next(c for c in controls if c.path == "news.viral_cost_claim.credibility")
    size = next(c for c in controls if c.path == "population.size")
    assert parse_text(cred, " 0.25 ") == 0.25
    with pytest.raises(ValueError, match="expected a number"):
        parse_text(cred, "abc")
    with pytest.raises(ValueError, match="expected a whole number"):
        parse_text(size, "10.5")
    with pytest.raises(ValueError, match="finite"):
        parse_text(cred, "nan")


def test_validation_messages_are_placed_next_to_their_control(raw, controls):
    res = check(raw, {"news.viral_cost_claim.credibility": -1.0}, controls, "deepseek_2025.yaml")
    assert res.scenario is None
    assert "greater than or equal to 0.001" in res.errors["news.viral_cost_claim.credibility"]
    res = check(raw, {"population.size": 5}, controls, "deepseek_2025.yaml")
    assert "greater than or equal to 100" in res.errors["population.size"]
    zero = {c.path: 0.0 for c in controls if c.path.endswith(".share") and "cohorts" in c.path}
    res = check(raw, zero, controls, "deepseek_2025.yaml")
    assert res.scenario is None
    assert any("must not all be zero" in m for m in res.errors.values())
    ok = check(raw, {"network.q": 0.3}, controls, "deepseek_2025.yaml")
    assert ok.scenario is not None and ok.scenario.network.q == 0.3 and not ok.errors


def test_scenario_files(tmp_path):
    shipped = shipped_scenarios(SCENARIOS)
    assert "deepseek_2025" in shipped and "characteristics" not in shipped
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: " + str(DEEPSEEK) + "\nnetwork: {q: -1}\n")
    raw, msg = read_scenario(bad)
    assert raw is not None and "network.q" in msg
    raw, msg = read_scenario(tmp_path / "missing.yaml")
    assert raw is None and "file not found" in msg


@pytest.fixture(scope="module")
def finished():
    """A tiny run stepped to the end, its frames, and its tables."""
    from sim.model import MoatshockModel
    from sim.tables import RunResult, collect_tables

    scn = load_scenario(DEEPSEEK, TINY)
    m = MoatshockModel(scn)
    rec = Recorder(m, "tiny")
    partial = None
    while m.running:
        m.step()
        if m.tick == 250:
            partial = rec.frame()
    frame = rec.frame()
    return scn, partial, frame, RunResult(scn, m.run_seed, **collect_tables(m))


def test_frames_match_the_run_tables(finished):
    scn, partial, frame, result = finished
    assert frame.finished and not partial.finished
    assert frame.n == len(result.intraday) // len(frame.info.tickers)
    nvda = result.intraday[result.intraday["ticker"] == "NVDA"]["price"].to_numpy()
    assert np.allclose(frame.prices[:, frame.info.tickers.index("NVDA")], nvda)
    assert partial.n < frame.n and np.array_equal(partial.prices, frame.prices[: partial.n])
    assert frame.beliefs.shape[1:] == (3, 5) and len(frame.belief_times) == frame.beliefs.shape[0]


def test_shock_day_table_is_the_headline(finished):
    from analysis.metrics import headline

    scn, partial, frame, result = finished
    h = headline(result)["shock_day"]
    sd = shock_day(frame)
    assert sd.state == "done"
    for i, t in enumerate(frame.info.tickers):
        assert sd.returns_pct[i] == pytest.approx(h["returns_pct"][t], abs=1e-9)
        assert sd.dollar_change[i] == pytest.approx(h["dollar_change_usd"][t], rel=1e-9)
        assert sd.volume_multiple[i] == pytest.approx(h["volume_multiple"][t], rel=1e-9)
    for k, v in sd.index_returns_pct.items():
        assert v == pytest.approx(h["index_returns_pct"][k], abs=1e-9)
    assert shock_day(empty_frame(frame.info, "x")).state == "not reached"
    rows = {r.name: r for r in table_rows(frame, None, compare=frame)}
    assert rows["NVDA"].real_pct == -16.97 and rows["NVDA"].compare_pct == rows["NVDA"].sim_pct
    assert rows["NVDA"].real_usd_bn == pytest.approx(-589.0)


def test_figures_are_json_with_titles_and_axis_titles(finished):
    from analysis.dashboard import figures

    scn, partial, frame, result = finished
    figs = [
        figures.prices_figure(partial, frame, None),
        figures.wipeout_figure(frame, partial),
        figures.beliefs_figure(frame, None),
        figures.flows_figure(frame, "NVDA", frame),
    ]
    for fig in figs:
        json.dumps(fig, allow_nan=False)
        assert fig["layout"]["title"]["text"]
        ytitles = [v.get("title") for k, v in fig["layout"].items() if k.startswith("yaxis")]
        assert any(t and t.get("text") for t in ytitles)


def test_run_folder_reads_back(finished, tmp_path):
    from analysis.outputs import write_run

    scn, partial, frame, result = finished
    write_run(result, tmp_path / "run", skip=("plots",))
    back = frame_from_folder(tmp_path / "run")
    assert back.finished and back.n == frame.n
    assert np.allclose(back.prices, frame.prices, rtol=1e-5)
    assert np.allclose(back.flows, frame.flows, atol=1e-3)
    assert shock_day(back).returns_pct == pytest.approx(shock_day(frame).returns_pct, abs=1e-3)
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        frame_from_folder(tmp_path)


def test_sweep_folder(tmp_path):
    from analysis.dashboard.folders import open_sweep
    from analysis.experiments.sweep import SweepError

    d = tmp_path / "sweep"
    d.mkdir()
    with pytest.raises(FileNotFoundError, match="not a sweep folder"):
        open_sweep(d)
    spec = {
        "name": "s",
        "design": {"method": "grid"},
        "parameters": [{"path": "network.q"}],
        "metrics": ["shock_return:NVDA"],
        "fixed": {},
    }
    (d / "sweep.json").write_text(json.dumps({"name": "s", "spec": spec, "n_tasks": 3}))
    (d / "runs.csv").write_text(
        "task,point,replication,seed,network.q,shock_return:NVDA,wall_s,status,error,attempt\n"
        "0,0,0,1,0.1,-10.0,1.0,ok,,1\n1,1,0,2,0.3,-12.0,1.0,ok,,1\n"
        "2,2,0,3,0.5,,1.0,error,boom,3\n"
    )
    (d / "analysis").mkdir()
    (d / "analysis" / "drivers.csv").write_text("rank,parameter,score\n1,network.q,0.5\n")
    (d / "analysis" / "heatmap_x.png").write_bytes(b"\x89PNG")
    view = open_sweep(d)
    # the runner writes "error" for a failed run: the dashboard counts it as failed
    assert view.counts == {"tasks": 3, "recorded": 3, "ok": 2, "failed": 1}
    assert list(view.tables) == ["drivers.csv"] and view.images[0].name == "heatmap_x.png"
    assert view.parameters == ["network.q"] and view.analysed
    (d / "sweep.json").write_text("{torn")
    with pytest.raises(SweepError, match="unreadable"):
        open_sweep(d)


def test_live_run_steps_in_the_background_and_pauses():
    from analysis.dashboard.runner import LiveRun

    scn = load_scenario(DEEPSEEK, TINY)
    frames = []
    run = LiveRun(scn, "tiny", frames.append, period=0.05)
    run.step(3)
    assert frames[-1].tick == 3 and not run.playing
    run.play()
    time.sleep(0.3)
    run.pause()
    run._thread.join(5)
    paused_at = frames[-1].tick
    assert paused_at > 3 and not run.playing and not frames[-1].finished
    run.play()
    run._thread.join(60)
    assert frames[-1].finished and run.finished
    assert [f.serial for f in frames] == sorted(f.serial for f in frames)
    assert run.stats.updates == len(frames) and run.stats.steps == frames[-1].tick


def test_port_is_chosen_when_busy_or_zero():
    from analysis.dashboard.server import bind

    sock, note = bind(0)
    port = sock.getsockname()[1]
    assert port > 0 and "free port" in note
    other, note2 = bind(port)  # busy
    try:
        assert other.getsockname()[1] != port and "busy" in note2
    finally:
        other.close()
        sock.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    sock, note = bind(free)
    assert sock.getsockname()[1] == free and note is None
    sock.close()


def test_cli_refuses_a_bad_scenario(tmp_path, capsys):
    import run

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert run.main(["dashboard", str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert run.main(["dashboard", "--port", "70000"]) == 2


def test_charts_as_mesa_components():
    import solara

    from analysis.dashboard.mesa_components import components, model_frame
    from sim.model import MoatshockModel

    m = MoatshockModel(load_scenario(DEEPSEEK, TINY))
    for _ in range(120):
        m.step()
    assert model_frame(m).tick == 120
    for make in components():

        @solara.component
        def View(make=make):
            return make(m)

        solara.render(View(), handle_error=False)


def test_reset_while_running_shows_the_new_run_only():
    from analysis.dashboard.state import Dash

    d = Dash()
    d.set_text(next(c for c in d.controls.value if c.path == "population.size"), "300")
    d.play()
    time.sleep(0.5)
    old = d.run
    d.reset()
    assert d.run is not old and not d.playing.value
    old._thread.join(10)
    time.sleep(0.3)
    assert d.frame.value.tick == 0 and d.frame.value.n == 0
    d.set_text(next(c for c in d.controls.value if c.path == "network.q"), "x")
    d.play()
    assert any("marked in red" in m for m in d.general.value)
    assert "expected a number" in d.errors.value["network.q"]
