"""One browser session's state and actions: scenario, typed values, the live run, comparison.

Every method is an action of the page (a button, a typed value); none raises: a problem
becomes a message the page shows next to the control concerned or under the run buttons,
and the server keeps running. Values are Solara reactive variables, so the components that
read them redraw when they change; the live run sets :attr:`Dash.frame` from its thread.
"""

from __future__ import annotations

import json
import math
import traceback
from pathlib import Path
from typing import Any

import solara

from analysis.dashboard.controls import (
    Control,
    check,
    format_value,
    parse_text,
    read_scenario,
    scenario_controls,
    shipped_scenarios,
)
from analysis.dashboard.folders import SweepView, analyse, open_sweep
from analysis.dashboard.frame import Frame, RunInfo, empty_frame, frame_from_folder
from analysis.dashboard.realdata import locate
from analysis.dashboard.runner import LiveRun
from analysis.dashboard.server import SETTINGS
from sim.scenario import Scenario, ScenarioError

OTHER_FILE = "another file (type its path below)"
#: While a run plays, the belief, flow and market-value charts follow every SLOW_EVERY-th
#: update (about twice a second); the price chart, the table and the clock follow all of them.
SLOW_EVERY = 3


def _short(path: str) -> str:
    """A parameter path for a legend: ``news.viral_cost_claim.credibility`` -> ``viral_cost_claim
    credibility``."""
    parts = path.split(".")
    if parts[0] == "news":
        return f"{parts[1]} credibility"
    if parts[0] == "population" and parts[1] == "cohorts":
        return f"{parts[2]} {parts[3].replace('_', ' ')}"
    return parts[-1].replace("_", " ")


class Dash:
    """State and actions of one page (one browser tab)."""

    def __init__(self) -> None:
        self.shipped: dict[str, Path] = shipped_scenarios(SETTINGS.scenarios_dir)
        start = SETTINGS.scenario
        if start is None:
            start = self.shipped.get("deepseek_2025") or next(iter(self.shipped.values()), None)
        self.choice = solara.reactive(self._choice_of(start))
        self.path_text = solara.reactive(str(start) if start else "")
        self.path_error = solara.reactive(None)  # type: ignore[var-annotated]
        self.path: Path | None = None
        self.raw: dict[str, Any] = {}
        self.controls = solara.reactive([])  # type: ignore[var-annotated]
        self.texts = solara.reactive({})  # type: ignore[var-annotated]
        self.errors = solara.reactive({})  # type: ignore[var-annotated]
        self.general = solara.reactive(())  # type: ignore[var-annotated]
        self.note = solara.reactive("")
        self.frame = solara.reactive(None)  # type: ignore[var-annotated]
        # the frame the slower-moving charts are drawn from: every SLOW_EVERY-th update while
        # playing, every update otherwise (fewer redraws in the browser)
        self.slow_frame = solara.reactive(None)  # type: ignore[var-annotated]
        self.compare = solara.reactive(None)  # type: ignore[var-annotated]
        self.compare_error = solara.reactive(None)  # type: ignore[var-annotated]
        self.playing = solara.reactive(False)
        self.market_data: Path | None = None
        self.run: LiveRun | None = None
        self._token = 0  # which run's frames are shown
        self.run_key: str | None = None
        self.folder_frame = solara.reactive(None)  # type: ignore[var-annotated]
        self.folder_error = solara.reactive(None)  # type: ignore[var-annotated]
        self.sweep = solara.reactive(None)  # type: ignore[var-annotated]
        self.sweep_error = solara.reactive(None)  # type: ignore[var-annotated]
        if start is not None:
            self.load(start)

    # -- scenario ------------------------------------------------------------------------
    def _choice_of(self, path: Path | None) -> str:
        if path is None:
            return OTHER_FILE
        for name, p in self.shipped.items():
            if p.resolve() == Path(path).resolve():
                return name
        return OTHER_FILE

    def choose(self, name: str) -> None:
        """Pick a shipped scenario by name (or the "another file" entry)."""
        self.choice.value = name
        if name in self.shipped:
            self.path_text.value = str(self.shipped[name])
            self.load(self.shipped[name])

    def load_typed_path(self, text: str | None = None) -> None:
        """Load the scenario file typed in the path box."""
        if text is not None:
            self.path_text.value = text
        p = Path(self.path_text.value.strip()).expanduser()
        self.load(p)
        if self.path_error.value is None:
            self.choice.value = self._choice_of(p)

    def load(self, path: Path) -> None:
        """Read a scenario file; on failure keep everything as it was and show why."""
        try:
            raw, message = read_scenario(path)
        except Exception as exc:  # an unreadable file of any kind
            raw, message = None, f"{path}: {exc}"
        if raw is None or message is not None:
            self.path_error.value = message
            return
        self.path_error.value = None
        self._stop_run()
        self.path = Path(path)
        self.raw = raw
        controls = scenario_controls(raw)
        self.controls.value = controls
        self.texts.value = {c.path: format_value(c, c.default) for c in controls}
        self.errors.value = {}
        self.general.value = ()
        self.note.value = ""
        self.playing.value = False
        self.run_key = None
        scn = self.validated()
        if scn is not None:
            self.market_data = locate(scn.reference.market_data_dir, SETTINGS.market_data)
            self.frame.value = empty_frame(RunInfo.from_scenario(scn), self.label(scn))
            self.slow_frame.value = self.frame.value

    # -- typed values --------------------------------------------------------------------
    def set_text(self, control: Control, text: str) -> None:
        """A value typed (or slid) into a control: parse it, then validate the scenario."""
        self.texts.value = {**self.texts.value, control.path: text}
        self.validated()

    def overrides(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Overrides from the controls that differ from the scenario, and parse messages."""
        out: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for c in self.controls.value:
            text = self.texts.value.get(c.path, "")
            if text.strip() == format_value(c, c.default):
                continue  # the scenario's own value, shown rounded
            try:
                v = parse_text(c, text)
            except ValueError as exc:
                bad[c.path] = str(exc)
                continue
            if not math.isclose(float(v), float(c.default), rel_tol=1e-12, abs_tol=0.0):
                out[c.path] = v
        return out, bad

    def validated(self) -> Scenario | None:
        """The scenario with the typed values, or None (messages placed on the page)."""
        ov, bad = self.overrides()
        origin = self.path.name if self.path else "<scenario>"
        res = check(self.raw, ov, self.controls.value, origin)
        self.errors.value = {**res.errors, **bad}
        self.general.value = res.general
        if bad or res.scenario is None:
            return None
        return res.scenario

    def label(self, scn: Scenario) -> str:
        """A run's name in legends: scenario, changed parameters, investors, seed."""
        ov, _ = self.overrides()
        changed = [
            f"{_short(k)} {v:g}" for k, v in ov.items() if k not in ("population.size", "seed")
        ]
        parts = [scn.name, *changed, f"{scn.population.size:,} investors", f"seed {scn.seed}"]
        return ", ".join(parts)

    def _key(self) -> str:
        ov, _ = self.overrides()
        return json.dumps([str(self.path), sorted(ov.items())], default=str)

    # -- the run -------------------------------------------------------------------------
    def _stop_run(self) -> None:
        """Stop the current run without waiting (its last frame, if any, is ignored)."""
        self._token += 1
        if self.run is not None:
            self.run.close(timeout=0)
            self.run = None

    def _on_frame(self, frame: Frame, token: int) -> None:
        if token != self._token:
            return  # a frame of a run that was stopped or replaced
        still = frame.finished or self.run is None or not self.run.playing
        if still or frame.serial % SLOW_EVERY == 0 or self.slow_frame.value is None:
            self.slow_frame.value = frame
        self.frame.value = frame
        if still:
            self.playing.value = False

    def _refuse_if_invalid(self) -> Scenario | None:
        """The scenario with the typed values; None, with a message, if a field is bad."""
        scn = self.validated()
        if scn is None:
            n = len(self.errors.value)
            if n:
                self.general.value = (
                    *self.general.value,
                    f"fix the {n} field(s) marked in red first",
                )
        return scn

    def _new_run(self) -> LiveRun | None:
        scn = self._refuse_if_invalid()
        if scn is None:
            return None
        previous = self.frame.value
        key = self._key()
        if (
            previous is not None
            and previous.n > 0
            and self.compare.value is None
            and self.run_key is not None
            and key != self.run_key
        ):
            self.compare.value = previous
            self.note.value = "the previous run is kept for comparison (grey, dashed)"
        self._stop_run()
        try:
            token = self._token
            run = LiveRun(scn, self.label(scn), lambda f: self._on_frame(f, token))
        except (ScenarioError, ValueError) as exc:
            self.general.value = (*self.general.value, str(exc))
            return None
        self.run = run
        self.run_key = key
        return run

    def _guard(self, action) -> None:
        try:
            action()
        except Exception as exc:  # keep the server and the page alive, say what happened
            traceback.print_exc()
            self.general.value = (*self.general.value, f"{type(exc).__name__}: {exc}")
            self.playing.value = False

    def play(self) -> None:
        def go() -> None:
            if self._refuse_if_invalid() is None:
                return
            run = self.run
            if run is None or run.finished or self._key() != self.run_key:
                run = self._new_run()
            if run is None:
                return
            self.playing.value = True
            run.play()

        self._guard(go)

    def pause(self) -> None:
        def go() -> None:
            if self.run is not None:
                self.run.pause()
            self.playing.value = False

        self._guard(go)

    def step(self) -> None:
        def go() -> None:
            if self._refuse_if_invalid() is None:
                return
            run = self.run
            if run is None or run.finished or self._key() != self.run_key:
                run = self._new_run()
            if run is not None:
                run.step()

        self._guard(go)

    def reset(self) -> None:
        def go() -> None:
            self._stop_run()
            self.playing.value = False
            run = self._new_run()
            if run is not None:
                run.publish()

        self._guard(go)

    # -- comparison and folders ----------------------------------------------------------
    def keep_for_comparison(self) -> None:
        if self.frame.value is not None and self.frame.value.n > 0:
            self.compare.value = self.frame.value
            self.note.value = ""

    def clear_comparison(self) -> None:
        self.compare.value = None
        self.note.value = ""

    def compare_with_folder(self, text: str) -> None:
        try:
            self.compare.value = frame_from_folder(text.strip())
            self.compare_error.value = None
        except (OSError, ValueError, KeyError, ScenarioError) as exc:
            self.compare_error.value = str(exc)

    def open_run_folder(self, text: str) -> None:
        try:
            self.folder_frame.value = frame_from_folder(text.strip())
            self.folder_error.value = None
        except (OSError, ValueError, KeyError, ScenarioError) as exc:
            self.folder_error.value = str(exc)

    def open_sweep_folder(self, text: str) -> None:
        try:
            self.sweep.value = open_sweep(text.strip())
            self.sweep_error.value = None
        except Exception as exc:  # SweepError, OSError, parse errors: all shown
            self.sweep_error.value = str(exc)

    def analyse_sweep(self) -> None:
        view: SweepView | None = self.sweep.value
        if view is None:
            return
        try:
            analyse(view.folder)
            self.sweep.value = open_sweep(view.folder)
        except Exception as exc:
            self.sweep_error.value = f"analysis failed: {exc}"

    def market_data_for(self, frame: Frame) -> Path | None:
        return locate(frame.info.market_data_dir, SETTINGS.market_data)
