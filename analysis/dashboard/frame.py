"""A run's series as plain arrays: recorded live from a model, or read from a run folder.

:class:`Frame` is what every chart and the shock-day table are drawn from. Units: prices in
USD per share, volumes and flows in shares (flows: net bought in the step), belief quantiles in
factor units, times as ``datetime64[m]`` (exchange time). Trading steps are counted from the
first session's open; ``n_total`` is the number of trading steps of the whole calendar, so a
chart's time axis does not grow while a run is under way.

:class:`Recorder` copies what the model's Mesa ``DataCollector`` recorded since its last call
into growing arrays (rows already written never change, so a frame holds views, not copies).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.calendar import sessions
from sim.scenario import Scenario, validate
from sim.universe import build_universe

if TYPE_CHECKING:
    from sim.model import MoatshockModel

QUANTILES = ("q05", "q25", "q50", "q75", "q95")


@dataclass(frozen=True, eq=False)
class RunInfo:
    """What a scenario fixes before a run: assets, calendar, reference values."""

    scenario: str
    tickers: list[str]
    names: list[str]
    groups: list[str]
    price0: np.ndarray  # USD per share
    shares: np.ndarray  # shares outstanding
    adv: np.ndarray  # average daily volume, shares
    factors: list[str]
    cohorts: list[str]
    sessions: list[dt.date]
    steps_per_session: int
    step_minutes: int
    session_open: dt.time
    shock_date: dt.date | None
    reference: dict[str, Any]
    index_weights: dict[str, np.ndarray]  # name -> (A,) fraction of cap counted
    market_data_dir: str

    @property
    def n_total(self) -> int:
        """Trading steps of the whole calendar."""
        return len(self.sessions) * self.steps_per_session

    @classmethod
    def from_scenario(cls, scn: Scenario) -> RunInfo:
        u = build_universe(scn)
        cal = scn.calendar
        open_min = cal.session_open.hour * 60 + cal.session_open.minute
        close_min = cal.session_close.hour * 60 + cal.session_close.minute
        return cls(
            scenario=scn.name,
            tickers=list(u.tickers),
            names=list(u.names),
            groups=list(u.groups),
            price0=np.asarray(u.price0, dtype=float),
            shares=np.asarray(u.shares, dtype=float),
            adv=np.asarray(u.adv, dtype=float),
            factors=list(u.factor_names),
            cohorts=[t.name for t, _ in scn.population.cohorts.present()],
            sessions=sessions(cal),
            steps_per_session=(close_min - open_min) // cal.step_minutes,
            step_minutes=cal.step_minutes,
            session_open=cal.session_open,
            shock_date=scn.reference.shock_date,
            reference=scn.reference.model_dump(mode="json"),
            index_weights={k: np.asarray(v, dtype=float) for k, v in u.index_weights.items()},
            market_data_dir=scn.reference.market_data_dir,
        )


@dataclass(frozen=True, eq=False)
class Frame:
    """A run so far (or finished): the arrays the dashboard draws.

    ``prices``/``volume`` are (n, A), ``flows`` (n, C, A) over the ``n`` trading steps done;
    ``beliefs`` is (m, F, 5) quantiles (5, 25, 50, 75, 95 %) at ``belief_times``; ``events``
    are the scheduled news released so far as (time, label, is_shock). Two frames are equal
    only if they are the same object (the page compares them at every redraw).
    """

    info: RunInfo
    label: str
    times: np.ndarray
    prices: np.ndarray
    volume: np.ndarray
    flows: np.ndarray
    belief_times: np.ndarray
    beliefs: np.ndarray
    events: list[tuple[np.datetime64, str, bool]] = field(default_factory=list)
    now: np.datetime64 | None = None
    tick: int = 0
    n_ticks: int = 0
    finished: bool = False
    serial: int = 0  # counts the frames of one run, so the page can tell they changed

    @property
    def n(self) -> int:
        return int(self.prices.shape[0])

    def relabel(self, label: str) -> Frame:
        return replace(self, label=label)


def empty_frame(info: RunInfo, label: str, n_ticks: int = 0) -> Frame:
    """A frame with no step done yet (charts show their axes and the real data only)."""
    a, c, f = len(info.tickers), len(info.cohorts), len(info.factors)
    return Frame(
        info=info,
        label=label,
        times=np.zeros(0, dtype="M8[m]"),
        prices=np.zeros((0, a)),
        volume=np.zeros((0, a)),
        flows=np.zeros((0, c, a)),
        belief_times=np.zeros(0, dtype="M8[m]"),
        beliefs=np.zeros((0, f, 5)),
        n_ticks=n_ticks,
    )


class Recorder:
    """Turns a running model's DataCollector records into frames, incrementally.

    Each :meth:`frame` call copies only the rows recorded since the previous call into
    arrays preallocated for the whole calendar.
    """

    def __init__(self, model: MoatshockModel, label: str) -> None:
        self.model = model
        self.info = RunInfo.from_scenario(model.scn)
        self.label = label
        info = self.info
        a, c, f = len(info.tickers), len(info.cohorts), len(info.factors)
        n_max = max(info.n_total, model.n_trading)
        self._times = np.zeros(n_max, dtype="M8[m]")
        self._prices = np.zeros((n_max, a))
        self._volume = np.zeros((n_max, a))
        self._flows = np.zeros((n_max, c, a))
        self._btimes = np.zeros(len(model.ticks), dtype="M8[m]")
        self._beliefs = np.zeros((len(model.ticks), f, 5))
        self._n = 0
        self._m = 0
        self._read = 0
        self._serial = 0

    def frame(self) -> Frame:
        """The run up to the model's last step."""
        m = self.model
        mv = m.datacollector.model_vars
        total = len(mv["timestamp"])
        names = self.info.cohorts
        for i in range(self._read, total):
            ts = np.datetime64(mv["timestamp"][i], "m")
            if mv["trading"][i]:
                j = self._n
                self._times[j] = ts
                self._prices[j] = np.exp(mv["log_price"][i])
                self._volume[j] = mv["volume"][i]
                fl = mv["flows"][i]
                for k, name in enumerate(names):
                    self._flows[j, k] = fl[name]
                self._n += 1
            q = mv["beliefs"][i]
            if q:
                self._btimes[self._m] = ts
                self._beliefs[self._m] = np.array([q[f] for f in self.info.factors])
                self._m += 1
        self._read = total
        self._serial += 1
        events = [
            (np.datetime64(e.time, "m"), e.label, bool(e.shock))
            for e in m.diffusion.released
            if not e.relative
        ]
        now = np.datetime64(m.ticks.start[m.tick - 1], "m") if m.tick > 0 else None
        n, b = self._n, self._m
        return Frame(
            info=self.info,
            label=self.label,
            times=self._times[:n],
            prices=self._prices[:n],
            volume=self._volume[:n],
            flows=self._flows[:n],
            belief_times=self._btimes[:b],
            beliefs=self._beliefs[:b],
            events=events,
            now=now,
            tick=int(m.tick),
            n_ticks=len(m.ticks),
            finished=not m.running,
            serial=self._serial,
        )


RUN_FILES = ("summary.json", "intraday.csv", "flows.csv", "beliefs.csv")


def frame_from_folder(folder: str | Path) -> Frame:
    """Read a folder written by ``run.py run`` (``FileNotFoundError``/``ValueError`` if not one)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    missing = [f for f in RUN_FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: not a run folder (missing {', '.join(missing)}; "
            "'python run.py run SCENARIO.yaml' writes one)"
        )
    summary = json.loads((folder / "summary.json").read_text())
    scn = validate(summary["parameters"], f"{folder.name}/summary.json")
    info = RunInfo.from_scenario(scn)
    intr = pd.read_csv(folder / "intraday.csv", parse_dates=["timestamp"])
    price = intr.pivot(index="timestamp", columns="ticker", values="price")[info.tickers]
    vol = intr.pivot(index="timestamp", columns="ticker", values="volume")[info.tickers]
    fl = pd.read_csv(folder / "flows.csv", parse_dates=["timestamp"])
    cube = fl.pivot_table(
        index="timestamp", columns=["cohort", "ticker"], values="shares", aggfunc="sum"
    )
    flows = np.zeros((len(price), len(info.cohorts), len(info.tickers)))
    for k, c in enumerate(info.cohorts):
        if c in cube.columns.get_level_values(0):
            flows[:, k] = cube[c].reindex(index=price.index, columns=info.tickers).fillna(0.0)
    bel = pd.read_csv(folder / "beliefs.csv", parse_dates=["timestamp"])
    btimes = np.array(sorted(bel["timestamp"].unique()), dtype="M8[m]")
    beliefs = np.full((len(btimes), len(info.factors), 5), np.nan)
    for k, f in enumerate(info.factors):
        d = bel[bel["factor"] == f].set_index("timestamp").reindex(pd.to_datetime(btimes))
        beliefs[:, k] = d[list(QUANTILES)].to_numpy()
    events: list[tuple[np.datetime64, str, bool]] = []
    if (folder / "events.csv").is_file():
        ev = pd.read_csv(folder / "events.csv", parse_dates=["time"])
        events = [
            (np.datetime64(t, "m"), str(lab), bool(s))
            for t, lab, s in zip(ev["time"], ev["label"], ev["shock"], strict=True)
        ]
    times = price.index.to_numpy().astype("M8[m]")
    label = f"{summary.get('scenario', scn.name)} (seed {summary.get('seed')}, {folder.name}/)"
    return Frame(
        info=info,
        label=label,
        times=times,
        prices=price.to_numpy(dtype=float),
        volume=vol.to_numpy(dtype=float),
        flows=flows,
        belief_times=btimes,
        beliefs=beliefs,
        events=events,
        now=times[-1] if len(times) else None,
        finished=True,
        serial=1,
    )
