"""News diffusion: the fast path examines only likely learners, and changes nobody's fate."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sim.news import LN2, Diffusion, Event, build_network
from sim.scenario import NetworkConfig


def _event(i: int, reach: float = 0.9, half_life: float = 6.0) -> Event:
    return Event(
        time=np.datetime64("2025-01-20T00:00", "m") + np.timedelta64(37 * i, "m"),
        label=f"e{i}",
        signal=np.array([0.1, np.nan]),
        idio=np.full(3, np.nan),
        credibility=1.0,
        reach=reach,
        half_life_h=half_life,
        shock=False,
        key=(0, i),
    )


def _run(sparse_below: float, n: int = 4000, ticks: int = 60) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(5)
    net = build_network(n, [(0, n // 2), (n // 2, n)], NetworkConfig(degree=8), rng)
    attention = np.exp(1.2 * rng.standard_normal(n) - 0.72)  # a long right tail
    d = Diffusion(
        [_event(i) for i in range(6)], net, attention, q=0.3, seed=np.random.SeedSequence(9)
    )
    d.sparse_below = sparse_below
    now = np.datetime64("2025-01-20T00:00", "m")
    out = []
    for t in range(ticks):
        hours = 1.0 if t % 3 == 0 else 5.0 / 60.0  # hourly and five-minute ticks
        d.release(now + np.timedelta64(int(hours * 60), "m"))
        out.append([rows for _, rows in d.spread(now, hours)])
        now += np.timedelta64(int(hours * 60), "m")
    return out


def test_candidate_shortcut_informs_exactly_the_same_investors():
    exact = _run(sparse_below=0.0)  # every uninformed investor's probability evaluated
    fast = _run(sparse_below=1.0)  # only draws below the tick's largest probability
    assert sum(r.size for tick in exact for r in tick) > 1000  # the events do spread
    assert len(exact) == len(fast)
    for a, b in zip(exact, fast, strict=True):
        assert len(a) == len(b)
        for ra, rb in zip(a, b, strict=True):
            np.testing.assert_array_equal(ra, rb)


def test_spread_matches_the_bass_hazard_without_contacts():
    """With q = 0 the share informed after t hours is E[1 - exp(-a M(t))] over attention a."""
    n = 200_000
    rng = np.random.default_rng(1)
    attention = np.exp(0.8 * rng.standard_normal(n) - 0.32)
    net = sp.csr_matrix((n, n), dtype=np.float32)
    ev = _event(0, reach=0.6, half_life=4.0)
    d = Diffusion([ev], net, attention, q=0.0, seed=np.random.SeedSequence(2))
    now = ev.time
    d.release(now + np.timedelta64(1, "m"))
    informed = 0
    for _ in range(12):
        informed += sum(rows.size for _, rows in d.spread(now, 0.5))
        now += np.timedelta64(30, "m")
    hours = 6.0
    media = ev.p0 * ev.half_life_h / LN2 * (1.0 - 2.0 ** (-hours / ev.half_life_h))
    expected = float(np.mean(-np.expm1(-attention * media)))
    assert abs(informed / n - expected) < 0.005
