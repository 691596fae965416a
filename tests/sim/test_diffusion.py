"""News diffusion: thresholds drawn at release follow the per-tick hazard law exactly.

The reference is the per-tick scheme: in every tick an uninformed investor draws a uniform and
learns with probability ``1 - exp(-(a m_k + q h_k s))``. The release-time scheme draws one
exponential threshold per investor instead. Their learning-tick distributions are compared by
a two-sample Kolmogorov-Smirnov test pooled over seeds; its power is shown by the same test
rejecting a scheme whose word-of-mouth rate is 25 % higher.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import ks_2samp

from sim.news import LN2, Diffusion, Event, build_network
from sim.scenario import NetworkConfig

START = np.datetime64("2025-01-20T00:00", "m")


def _ticks(n: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Hourly and five-minute ticks, mixed as nights and sessions mix."""
    hours = np.array([1.0 if (t // 15) % 2 == 0 else 5.0 / 60.0 for t in range(n)])
    starts = START + np.concatenate([[0], np.cumsum(np.round(hours * 60).astype(int))[:-1]])
    return starts.astype("M8[m]"), hours


def _event(i: int = 0, reach: float = 0.6, half_life: float = 4.0) -> Event:
    return Event(
        time=START + np.timedelta64(7 * i, "m"),
        label=f"e{i}",
        signal=np.array([0.1, np.nan]),
        idio=np.full(3, np.nan),
        credibility=1.0,
        reach=reach,
        half_life_h=half_life,
        shock=False,
        key=(0, i),
    )


def _network(n: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = build_network(n, [(0, n // 2), (n // 2, n)], NetworkConfig(degree=8), rng)
    attention = np.exp(0.8 * rng.standard_normal(n) - 0.32)
    return net, attention


def _release_time(net, attention, q, seed, ev) -> np.ndarray:
    """Learning tick of every investor under the simulator's scheme (-1: never)."""
    starts, hours = _ticks()
    d = Diffusion([ev], net, attention, q, np.random.SeedSequence(seed), starts, hours)
    learnt = np.full(net.shape[0], -1)
    for t in range(len(hours)):
        d.release(t)
        for _, rows in d.spread(t):
            learnt[rows] = t
    return learnt


def _per_tick(net, attention, q, seed, ev) -> np.ndarray:
    """The reference: a uniform per uninformed investor and tick."""
    starts, hours = _ticks()
    n = net.shape[0]
    rng = np.random.default_rng(seed)
    by_contact = net.tocsc()
    informed = np.zeros(n, dtype=bool)
    share = np.zeros(n)
    learnt = np.full(n, -1)
    for t in range(len(hours)):
        age0 = max((starts[t] - ev.time) / np.timedelta64(1, "m") / 60.0, 0.0)
        media = ev.media(np.array([age0]), hours[t : t + 1])[0]
        rate = attention * media + q * hours[t] * share
        new = np.flatnonzero(~informed & (rng.random(n) < -np.expm1(-rate)))
        informed[new] = True
        learnt[new] = t
        share += np.asarray(by_contact[:, new].sum(axis=1)).ravel()
    return learnt


def _pooled(scheme, q: float, seeds: range, n: int = 3000) -> np.ndarray:
    out = []
    for s in seeds:
        net, attention = _network(n, s)
        t = scheme(net, attention, q, 1000 + s, _event())
        out.append(t[t >= 0])
    return np.concatenate(out)


def test_release_time_thresholds_follow_the_per_tick_law():
    seeds = range(12)
    reference = _pooled(_per_tick, 0.3, seeds)
    ours = _pooled(_release_time, 0.3, seeds)
    assert reference.size > 30_000 and ours.size > 30_000  # the item does spread
    assert ks_2samp(reference, ours).pvalue > 0.01
    # power: the same test tells a 25 % faster word of mouth apart from the reference
    faster = _pooled(_release_time, 0.3 * 1.25, seeds)
    assert ks_2samp(reference, faster).pvalue < 1e-4


def test_media_alone_matches_the_closed_form_bass_share():
    """With q = 0 the share informed by the end of tick k is E[1 - exp(-a M_k)] over a."""
    n = 200_000
    rng = np.random.default_rng(1)
    attention = np.exp(0.8 * rng.standard_normal(n) - 0.32)
    ev = _event()
    learnt = _release_time(sp.csr_matrix((n, n)), attention, 0.0, 2, ev)
    starts, hours = _ticks()
    age0 = np.maximum((starts - ev.time) / np.timedelta64(1, "m") / 60.0, 0.0)
    cum = np.cumsum(ev.media(age0, hours))
    for k in (0, 5, 20, 60, 89):
        expected = float(np.mean(-np.expm1(-attention * cum[k])))
        observed = float(np.mean((learnt >= 0) & (learnt <= k)))
        assert abs(observed - expected) < 0.004, (k, observed, expected)
    # with no word of mouth the media curve is all there is: p0 is what reach promises
    assert abs(ev.p0 * ev.half_life_h / LN2 - -np.log1p(-ev.reach)) < 1e-12


def test_an_item_does_not_change_when_another_is_added():
    net, attention = _network(3000, 4)
    starts, hours = _ticks()

    def learners(events: list[Event]) -> dict[str, list[np.ndarray]]:
        d = Diffusion(events, net, attention, 0.3, np.random.SeedSequence(7), starts, hours)
        out: dict[str, list[np.ndarray]] = {e.label: [] for e in events}
        for t in range(len(hours)):
            d.release(t)
            for ev, rows in d.spread(t):
                out[ev.label].append(rows)
        return out

    alone = learners([_event(0)])
    both = learners([_event(0), _event(3, reach=0.3)])
    assert len(alone["e0"]) == len(both["e0"])
    for a, b in zip(alone["e0"], both["e0"], strict=True):
        np.testing.assert_array_equal(a, b)
