"""Stepping a model in a background thread, and showing it a few times per second.

:class:`LiveRun` owns one :class:`~sim.model.MoatshockModel`. While playing, one thread steps
the model without pause and a second one hands a :class:`~analysis.dashboard.frame.Frame` of
the run so far to ``on_frame`` (the page redraws from it) every ``period`` seconds: the
screen is updated about ``1 / period`` times per second whatever the population size, no step
is skipped, and drawing never holds the model up for longer than one copy of the new rows.
Times are wall-clock seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from analysis.dashboard.frame import Frame, Recorder
from sim.model import MoatshockModel
from sim.scenario import Scenario

#: Time between two screen updates while playing, seconds (about 6 updates per second, so that
#: a busy browser, which skips an update while it is still drawing one, shows 5 or more).
PERIOD = 0.16


@dataclass
class RunStats:
    """Wall-clock accounting of a run: seconds spent playing, updates published, steps."""

    playing_seconds: float = 0.0
    updates: int = 0
    steps: int = 0
    publish_seconds: float = 0.0
    update_times: list[float] = field(default_factory=list)


class LiveRun:
    """A model stepped in a background thread; ``on_frame`` receives each update.

    ``play`` starts or resumes the threads, ``pause`` stops them after the current step,
    ``step`` advances one tick while paused, ``close`` stops them for good. ``on_frame`` is
    called from the run's display thread (or the caller's, for ``step`` and ``publish``).
    """

    def __init__(
        self,
        scenario: Scenario,
        label: str,
        on_frame: Callable[[Frame], None],
        *,
        period: float = PERIOD,
    ) -> None:
        self.scenario = scenario
        self.model = MoatshockModel(scenario)
        self.recorder = Recorder(self.model, label)
        self.on_frame = on_frame
        self.period = period
        self.stats = RunStats()
        self.error: str | None = None
        self._lock = threading.Lock()
        self._playing = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._since: float | None = None  # when the current stretch of playing began

    # -- state ---------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return not self.model.running

    @property
    def playing(self) -> bool:
        return self._playing.is_set()

    @property
    def seconds_playing(self) -> float:
        """Wall-clock seconds spent playing so far (the current stretch included)."""
        now = time.perf_counter() - self._since if self._since is not None else 0.0
        return self.stats.playing_seconds + now

    @property
    def updates_per_second(self) -> float:
        s = self.seconds_playing
        return self.stats.updates / s if s > 0 else 0.0

    # -- controls ------------------------------------------------------------------------
    def publish(self) -> Frame:
        """Hand the run so far to ``on_frame``; returns the frame."""
        t0 = time.perf_counter()
        with self._lock:
            frame = self.recorder.frame()
        self.on_frame(frame)
        self.stats.publish_seconds = time.perf_counter() - t0
        self.stats.updates += 1
        self.stats.update_times.append(time.perf_counter())
        return frame

    def play(self) -> None:
        """Start (or resume) stepping in the background until paused, closed or finished."""
        if self.finished or self._closed.is_set():
            return
        self._playing.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="moatshock-run", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        self._playing.clear()

    def step(self, n: int = 1) -> None:
        """Advance ``n`` ticks (only while paused) and publish."""
        if self.playing or self.finished:
            return
        with self._lock:
            for _ in range(n):
                if self.finished:
                    break
                self.model.step()
                self.stats.steps += 1
        self.publish()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the threads (after the current step) and wait for them."""
        self._closed.set()
        self._playing.clear()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    # -- the threads ---------------------------------------------------------------------
    def _keep_going(self) -> bool:
        return self._playing.is_set() and not self._closed.is_set() and self.model.running

    def _show(self, stepping: threading.Thread) -> None:
        """Publish every ``period`` seconds while the stepping thread runs, then once more."""
        while stepping.is_alive():
            t0 = time.perf_counter()
            self.publish()
            rest = self.period - (time.perf_counter() - t0)
            stepping.join(max(rest, 0.0))

    def _loop(self) -> None:
        m = self.model
        t0 = time.perf_counter()
        self._since = t0

        def stepping() -> None:
            try:
                while self._keep_going():
                    with self._lock:
                        m.step()
                    self.stats.steps += 1
            except Exception as exc:  # shown on the page; the server keeps running
                self.error = f"{type(exc).__name__}: {exc}"
                self._playing.clear()

        worker = threading.Thread(target=stepping, name="moatshock-steps", daemon=True)
        worker.start()
        try:
            self._show(worker)
        finally:
            worker.join()
            self.stats.playing_seconds += time.perf_counter() - t0
            self._since = None
            self._playing.clear()
            if not self._closed.is_set():
                self.publish()
