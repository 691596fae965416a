"""Trading calendar: the sequence of model ticks (trading steps and closed-market steps).

A tick is one call of the model's ``step``. Trading ticks are ``step_minutes`` long and the
first of each session is the opening call auction; closed ticks (nights, weekends, holidays)
are ``closed_step_minutes`` long and only let news spread and beliefs update.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.scenario import CalendarConfig

TICK_CLOSED = 0
TICK_OPEN = 1
TICK_TRADING = 2


@dataclass(frozen=True)
class Ticks:
    """All ticks of a run, as parallel arrays.

    ``start`` is the tick's start time (numpy datetime64[m]); ``hours`` its length in hours;
    ``kind`` one of TICK_CLOSED/TICK_OPEN/TICK_TRADING; ``day`` the index of the trading day
    the tick belongs to (-1 before the first session; closed ticks belong to the next session).
    """

    start: np.ndarray
    hours: np.ndarray
    kind: np.ndarray
    day: np.ndarray
    sessions: list[dt.date]
    steps_per_session: int

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def trading(self) -> np.ndarray:
        return self.kind != TICK_CLOSED


def sessions(cal: CalendarConfig) -> list[dt.date]:
    """Weekdays in [start, end] that are not holidays."""
    days = np.arange(
        np.datetime64(cal.start), np.datetime64(cal.end) + np.timedelta64(1, "D"), dtype="M8[D]"
    )
    hol = np.array(cal.holidays, dtype="M8[D]")
    ok = np.is_busday(days, holidays=hol)
    return [d.item() for d in days[ok]]


def build_ticks(cal: CalendarConfig) -> Ticks:
    """Lay out every tick from ``start`` 00:00 to the close of the last session."""
    days = sessions(cal)
    if not days:
        raise ValueError("the calendar contains no trading session")
    open_t, close_t = cal.session_open, cal.session_close
    open_min = open_t.hour * 60 + open_t.minute
    n_steps = (close_t.hour * 60 + close_t.minute - open_min) // cal.step_minutes
    starts: list[np.ndarray] = []
    hours: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    dayidx: list[np.ndarray] = []
    cursor = np.datetime64(dt.datetime.combine(cal.start, dt.time(0, 0)), "m")
    closed_step = np.timedelta64(cal.closed_step_minutes, "m")
    for d, day in enumerate(days):
        opening = np.datetime64(dt.datetime.combine(day, open_t), "m")
        if opening > cursor:
            # closed ticks up to the open; the last one is shortened to end exactly at the open
            cs = np.arange(cursor, opening, closed_step)
            ends = np.minimum(cs + closed_step, opening)
            starts.append(cs)
            hours.append((ends - cs).astype(float) / 60.0)
            kinds.append(np.full(len(cs), TICK_CLOSED, dtype=np.int8))
            dayidx.append(np.full(len(cs), d, dtype=np.int32))
        ts = opening + np.arange(n_steps) * np.timedelta64(cal.step_minutes, "m")
        k = np.full(n_steps, TICK_TRADING, dtype=np.int8)
        k[0] = TICK_OPEN
        starts.append(ts)
        hours.append(np.full(n_steps, cal.step_minutes / 60.0))
        kinds.append(k)
        dayidx.append(np.full(n_steps, d, dtype=np.int32))
        cursor = np.datetime64(dt.datetime.combine(day, close_t), "m")
    return Ticks(
        start=np.concatenate(starts),
        hours=np.concatenate(hours),
        kind=np.concatenate(kinds),
        day=np.concatenate(dayidx),
        sessions=days,
        steps_per_session=n_steps,
    )
