"""News events and their diffusion through the investor population.

An investor learns an event either from the media or from contacts (a Bass hazard, per hour)::

    h_j = attention_j * p_e(t) + q * share_of_informed_neighbours_j
    p_e(t) = p_e0 * 2^(-age / media_half_life)

with ``p_e0`` set so that the media alone reach the fraction ``reach`` of fully attentive
investors over the event's life. Diffusion runs in every tick, open or closed, which is how a
weekend story builds an opening gap. The neighbour share comes from a sparse network of fixed
degree, so its effect does not average away as the population grows.

Who learns when is drawn once per investor and item, at release (a threshold on the
cumulative hazard, :mod:`sim.kernels.diffusion`); a tick then only collects the investors whose
threshold it crosses.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sim.kernels import diffusion as kernel
from sim.scenario import NetworkConfig, NewsEvent, NewsFlowConfig, Scenario

LN2 = np.log(2.0)


@dataclass
class Event:
    """A released or scheduled news item in model units."""

    time: np.datetime64
    label: str
    signal: np.ndarray  # (F,) factor units; NaN where silent
    idio: np.ndarray  # (A,) log value; NaN where silent
    credibility: float
    reach: float
    half_life_h: float
    shock: bool
    relative: bool = False  # ordinary news: signal is a surprise around the current consensus
    key: tuple[int, int] = (0, 0)  # stable identity: (0, crc32 of the id), (1, j) ordinary j-th
    id: str = ""  # the scenario's id of a scheduled item ("" for ordinary news)
    max_age_h: float | None = None  # stops spreading this long after release (None: default)
    q: float | None = None  # word-of-mouth rate, per hour (None: the network's)
    n_informed: int = 0
    reading: tuple | None = field(default=None, repr=False)  # (signal, has, idio) as read
    spreading: Spreading | None = field(default=None, repr=False)  # while it spreads

    @property
    def p0(self) -> float:
        """Media hazard per hour at release."""
        return float(-np.log1p(-min(self.reach, 0.999999)) * LN2 / self.half_life_h)

    def media(self, age0_h: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """Media intensity integrated exactly over ticks starting ``age0_h`` after release."""
        hl = self.half_life_h
        return self.p0 * hl / LN2 * (2.0 ** (-age0_h / hl) - 2.0 ** (-(age0_h + hours) / hl))


@dataclass
class Spreading:
    """The live state of an item while it spreads (see :mod:`sim.kernels.diffusion`).

    Local tick ``k`` (1-based) is model tick ``first + k - 1``; ``mc``/``hc`` are the
    cumulative media intensity and hours over the item's life (leading 0); ``tick_of`` each
    investor's tick (or NONE/DONE); ``head``/``entry``/``nxt`` the buckets' arena.
    """

    first: int
    mc: np.ndarray
    hc: np.ndarray
    q: float
    seed: np.uint64
    tick_of: np.ndarray
    head: np.ndarray
    entry: np.ndarray
    nxt: np.ndarray
    used: int

    @property
    def n_ticks(self) -> int:
        return self.mc.size - 1

    def grow(self) -> None:
        """Double the arena (word of mouth filed more links than it could hold)."""
        extra = max(self.entry.size, 1024)
        self.entry = np.concatenate([self.entry, np.empty(extra, dtype=self.entry.dtype)])
        self.nxt = np.concatenate([self.nxt, np.empty(extra, dtype=self.nxt.dtype)])


def scheduled_events(scn: Scenario) -> list[Event]:
    fnames, tickers = scn.factor_names, scn.tickers
    out = []
    for ev in scn.news:
        e = _from_cfg(ev, fnames, tickers)
        # keyed by its id: adding, removing or reordering items never changes another's draws
        e.key = (0, zlib.crc32(ev.id.encode()))
        e.id = ev.id
        out.append(e)
    return out


def _from_cfg(ev: NewsEvent, fnames: list[str], tickers: list[str]) -> Event:
    sig = np.full(len(fnames), np.nan)
    for k, v in ev.signal.items():
        sig[fnames.index(k)] = v
    idio = np.full(len(tickers), np.nan)
    for t, v in ev.idiosyncratic.items():
        idio[tickers.index(t)] = v
    return Event(
        time=np.datetime64(ev.time, "m"),
        label=ev.label,
        signal=sig,
        idio=idio,
        credibility=ev.credibility,
        reach=ev.reach,
        half_life_h=ev.media_half_life_hours,
        shock=ev.shock,
    )


def ordinary_news(
    cfg: NewsFlowConfig,
    start: dt.date,
    end: dt.date,
    n_factors: int,
    n_assets: int,
    rng: np.random.Generator,
) -> list[Event]:
    """Poisson arrivals of small, fat-tailed surprises (factor-wide and firm-specific).

    With ``uncertainty_sd > 0`` the size of every item is scaled by ``exp(h_d - sd^2)`` where
    ``h_d`` is a daily AR(1) with persistence ``uncertainty_persistence`` and stationary
    standard deviation ``uncertainty_sd``: calm and turbulent news regimes (the mean squared
    size is unchanged).
    """
    t0 = np.datetime64(dt.datetime.combine(start, dt.time(0, 0)), "m")
    minutes = int(
        (np.datetime64(end) + np.timedelta64(1, "D") - np.datetime64(start))
        / np.timedelta64(1, "m")
    )
    days = minutes / 1440.0
    out: list[Event] = []

    def arrivals(rate_per_day: float) -> np.ndarray:
        n = rng.poisson(rate_per_day * days)
        return np.sort(rng.integers(0, minutes, size=n))

    for m in arrivals(cfg.rate_per_day):
        sig = np.full(n_factors, np.nan)
        sig[rng.integers(n_factors)] = cfg.factor_scale * rng.standard_t(cfg.tail_df)
        out.append(_ordinary(t0 + np.timedelta64(int(m), "m"), sig, np.full(n_assets, np.nan), cfg))
    for a in range(n_assets):
        for m in arrivals(cfg.idiosyncratic_rate_per_day):
            idio = np.full(n_assets, np.nan)
            idio[a] = cfg.idiosyncratic_scale * rng.standard_t(cfg.tail_df)
            sig = np.full(n_factors, np.nan)
            out.append(_ordinary(t0 + np.timedelta64(int(m), "m"), sig, idio, cfg))
    out.sort(key=lambda e: e.time)
    if cfg.uncertainty_sd > 0 and out:
        n_days = int(np.ceil(days)) + 1
        phi, sd = cfg.uncertainty_persistence, cfg.uncertainty_sd
        h = np.empty(n_days)
        h[0] = sd * rng.standard_normal()
        eps = sd * np.sqrt(1.0 - phi**2) * rng.standard_normal(n_days)
        for d in range(1, n_days):  # one number per calendar day, not per investor
            h[d] = phi * h[d - 1] + eps[d]
        for e in out:
            scale = np.exp(h[int((e.time - t0) / np.timedelta64(1, "D"))] - sd**2)
            e.signal = e.signal * scale
            e.idio = e.idio * scale
    for j, e in enumerate(out):
        e.key = (1, j)
    return out


def _ordinary(t: np.datetime64, sig: np.ndarray, idio: np.ndarray, cfg: NewsFlowConfig) -> Event:
    return Event(
        time=t,
        label="ordinary news",
        signal=sig,
        idio=idio,
        credibility=cfg.credibility,
        reach=cfg.reach,
        half_life_h=cfg.media_half_life_hours,
        shock=False,
        relative=True,
        max_age_h=cfg.max_age_hours,
        q=cfg.word_of_mouth,
    )


def build_network(
    n: int, cohort_bounds: list[tuple[int, int]], cfg: NetworkConfig, rng: np.random.Generator
) -> sp.csr_matrix:
    """Row-normalised adjacency (n x n, ``degree`` links per investor, some within cohort)."""
    d = cfg.degree
    rows = np.repeat(np.arange(n, dtype=np.int64), d)
    cols = rng.integers(0, n, size=n * d)
    if cfg.homophily > 0:
        lo = np.empty(n, dtype=np.int64)
        size = np.empty(n, dtype=np.int64)
        for a, b in cohort_bounds:
            lo[a:b] = a
            size[a:b] = max(b - a, 1)
        within = rng.random(n * d) < cfg.homophily
        r = rows[within]
        cols[within] = lo[r] + (rng.random(r.size) * size[r]).astype(np.int64)
    data = np.full(n * d, 1.0 / d, dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n, n))


class Diffusion:
    """Who knows which item: releases items and, tick by tick, tells who learns them.

    ``tick_start`` (datetime64[m]) and ``tick_hours`` are the model's ticks, so that an item's
    media curve over its whole life is known at release. An item stops spreading after
    ``max_age_hours`` (its own ``max_age_h`` if set) or once ``saturation`` of investors know.
    """

    def __init__(
        self,
        events: list[Event],
        network: sp.csr_matrix,
        attention: np.ndarray,
        q: float,
        seed: np.random.SeedSequence,
        tick_start: np.ndarray,
        tick_hours: np.ndarray,
        saturation: float = 0.995,
        max_age_hours: float = 72.0,
    ) -> None:
        self.pending = sorted(events, key=lambda e: e.time)
        self.active: list[Event] = []
        self.released: list[Event] = []
        # column r of the CSC form lists who has r as a contact: a learner raises exactly
        # those investors' informed share
        by_contact = network.tocsc()
        self.indptr = by_contact.indptr.astype(np.int64)
        self.indices = by_contact.indices.astype(np.int64)
        self.weights = by_contact.data.astype(np.float64)
        self.attention = np.ascontiguousarray(attention, dtype=np.float64)
        self.q = float(q)
        self.seed = seed
        self.n = network.shape[0]
        self.tick_start = tick_start
        self.tick_hours = np.asarray(tick_hours, dtype=np.float64)
        self.saturation = saturation
        self.max_age_hours = max_age_hours
        self._out = np.empty(self.n, dtype=np.int64)  # one tick's learners, reused

    def _tick_end(self, tick: int) -> np.datetime64:
        return self.tick_start[tick] + np.timedelta64(int(round(self.tick_hours[tick] * 60)), "m")

    def release(self, tick: int) -> list[Event]:
        """Activate the items published before the end of ``tick``; returns them."""
        new = []
        end = self._tick_end(tick)
        while self.pending and self.pending[0].time < end:
            ev = self.pending.pop(0)
            ev.spreading = self._start(ev, tick)
            self.active.append(ev)
            self.released.append(ev)
            new.append(ev)
        return new

    def _start(self, ev: Event, tick: int) -> Spreading:
        """Media curve over the item's life, one media clock per investor, the first buckets."""
        max_age = self.max_age_hours if ev.max_age_h is None else ev.max_age_h
        starts = self.tick_start[tick:]
        age0 = np.maximum((starts - ev.time) / np.timedelta64(1, "m") / 60.0, 0.0)
        hours = self.tick_hours[tick:]
        # the item spreads through the first tick that reaches its maximum age, included
        over = np.flatnonzero(age0 + hours >= max_age)
        life = int(over[0]) + 1 if over.size else age0.size
        mc = np.concatenate([[0.0], np.cumsum(ev.media(age0[:life], hours[:life]))])
        hc = np.concatenate([[0.0], np.cumsum(hours[:life])])
        # each item draws from its own stream, keyed by its identity
        rng = np.random.default_rng(
            np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, *ev.key))
        )
        threshold = rng.standard_exponential(self.n)
        link_seed = np.uint64(rng.integers(0, 2**63))
        n, i32 = self.n, np.int32
        s = Spreading(
            first=tick,
            mc=mc,
            hc=hc,
            q=self.q if ev.q is None else ev.q,
            seed=link_seed,
            tick_of=np.empty(n, dtype=i32),
            head=np.empty(life + 1, dtype=i32),
            entry=np.empty(n + n // 2, dtype=i32),
            nxt=np.empty(n + n // 2, dtype=i32),
            used=0,
        )
        s.used = kernel.schedule_media(
            threshold, self.attention, mc, s.tick_of, s.head, s.entry, s.nxt
        )
        return s

    def spread(self, tick: int) -> list[tuple[Event, np.ndarray]]:
        """Who learns each active item in ``tick``: ``[(item, rows), ...]``, rows ascending."""
        out = []
        keep = []
        for ev in self.active:
            s = ev.spreading
            assert s is not None
            k = tick - s.first + 1
            n_new = kernel.pop_tick(k, s.head, s.entry, s.nxt, s.tick_of, self._out)
            rows = np.sort(self._out[:n_new])
            ev.n_informed += n_new
            if s.q > 0 and n_new:
                done = 0
                while done < rows.size:
                    done, s.used = kernel.fire_links(
                        k, rows, done, self.indptr, self.indices, self.weights, s.q, s.seed,
                        s.hc, s.tick_of, s.head, s.entry, s.nxt, s.used,
                    )  # fmt: skip
                    if done < rows.size:
                        s.grow()
            out.append((ev, rows))
            if ev.n_informed < self.saturation * self.n and k < s.n_ticks:
                keep.append(ev)
            else:
                ev.spreading = None  # free memory: no one else will learn it
        self.active = keep
        return out
