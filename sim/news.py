"""News events and their diffusion through the investor population.

An investor learns an event either from the media or from contacts (a Bass hazard, per hour)::

    h_j = attention_j * p_e(t) + q * share_of_informed_neighbours_j
    p_e(t) = p_e0 * 2^(-age / media_half_life)

with ``p_e0`` set so that the media alone reach the fraction ``reach`` of fully attentive
investors over the event's life. Diffusion runs in every tick, open or closed, which is how a
weekend story builds an opening gap. The neighbour share comes from a sparse network of fixed
degree, so its effect does not average away as the population grows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sim.scenario import NetworkConfig, NewsEvent, NewsFlowConfig, Scenario

LN2 = np.log(2.0)
#: Diffusion examines only the draws below a tick's largest learning probability when that
#: probability is below this; above it, every uninformed investor. Speed only: who learns
#: what is the same either way (tests/test_diffusion.py).
SPARSE_BELOW = 0.25


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
    key: tuple[int, int] = (0, 0)  # stable identity: (0, i) scheduled i-th, (1, j) ordinary j-th
    max_age_h: float | None = None  # stops spreading this long after release (None: default)
    informed: np.ndarray | None = field(default=None, repr=False)
    share: np.ndarray | None = field(default=None, repr=False)  # informed share of contacts
    rng: np.random.Generator | None = field(default=None, repr=False)
    n_informed: int = 0
    share_max: float = 0.0  # upper bound of ``share``, kept as contacts are added
    reading: tuple | None = field(default=None, repr=False)  # (signal, has, idio) as read

    @property
    def p0(self) -> float:
        """Media hazard per hour at release."""
        return -np.log1p(-min(self.reach, 0.999999)) * LN2 / self.half_life_h

    def live(self) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
        """``(informed, share, rng)`` of an event that is spreading (released, not retired)."""
        if self.informed is None or self.share is None or self.rng is None:
            raise RuntimeError(f"news {self.key} ({self.label}) is not spreading")
        return self.informed, self.share, self.rng


def scheduled_events(scn: Scenario) -> list[Event]:
    fnames, tickers = scn.factor_names, scn.tickers
    out = []
    for i, ev in enumerate(scn.news):
        e = _from_cfg(ev, fnames, tickers)
        e.key = (0, i)
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
    """Who knows which active event; releases events and spreads them tick by tick."""

    def __init__(
        self,
        events: list[Event],
        network: sp.csr_matrix,
        attention: np.ndarray,
        q: float,
        seed: np.random.SeedSequence,
        saturation: float = 0.995,
        max_age_hours: float = 24.0 * 14,
    ) -> None:
        self.pending = sorted(events, key=lambda e: e.time)
        self.active: list[Event] = []
        self.released: list[Event] = []
        self.net = network
        # column k of the CSC form lists who has k as a contact: spreading updates touch only
        # the contacts of the newly informed, so a tick costs what changes, not N x events
        self.net_by_contact = network.tocsc()
        self.attention = attention
        self.q = q
        self.seed = seed
        self.n = network.shape[0]
        self.saturation = saturation
        self.max_age_hours = max_age_hours
        self.attention_max = float(attention.max()) if attention.size else 0.0
        self.sparse_below = SPARSE_BELOW
        self._u = np.empty(self.n, dtype=np.float32)  # this tick's uniform draws, reused

    def release(self, until: np.datetime64) -> list[Event]:
        """Activate events whose time is before ``until``; returns the newly released."""
        new = []
        while self.pending and self.pending[0].time < until:
            ev = self.pending.pop(0)
            ev.informed = np.zeros(self.n, dtype=bool)
            ev.share = np.zeros(self.n, dtype=np.float32)
            # each event draws from its own stream, keyed by its identity, so adding or removing
            # one event leaves who-hears-when of every other event unchanged
            ev.rng = np.random.default_rng(
                np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, *ev.key))
            )
            self.active.append(ev)
            self.released.append(ev)
            new.append(ev)
        return new

    def _add_contacts(self, ev: Event, rows: np.ndarray) -> None:
        """Raise the informed share of everyone who has one of ``rows`` as a contact."""
        # gather the CSC columns ``rows`` directly: the same entries, in the same order, as
        # ``net_by_contact[:, rows]`` without building a sparse matrix for every tick
        ptr = self.net_by_contact.indptr
        starts = ptr[rows]
        counts = ptr[rows + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return
        pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        who = self.net_by_contact.indices[pos]
        share = ev.live()[1]
        if total > self.n // 8:
            share += np.bincount(
                who, weights=self.net_by_contact.data[pos], minlength=self.n
            ).astype(np.float32)
            ev.share_max = float(share.max())
        else:
            np.add.at(share, who, self.net_by_contact.data[pos])
            ev.share_max = max(ev.share_max, float(share[who].max()))

    def spread(self, now: np.datetime64, hours: float) -> list[tuple[Event, np.ndarray]]:
        """Advance diffusion over a tick of ``hours``; returns (event, newly informed rows).

        Investor ``j`` learns the event in the tick with probability ``1 - exp(-rate_j)``
        against its own uniform draw ``u_j``. Every investor's draw is taken (the stream stays
        the same whatever the shortcut), but the probability is evaluated only for those whose
        draw lies below the tick's largest possible probability (the most attentive investor
        with the most informed contacts): late in an event's life that is a small minority.
        """
        if not self.active:
            return []
        out = []
        keep = []
        u = self._u
        cq = self.q * hours
        for ev in self.active:
            age0 = max((now - ev.time) / np.timedelta64(1, "m") / 60.0, 0.0)
            hl = ev.half_life_h
            # media intensity integrated exactly over the tick
            media = ev.p0 * hl / LN2 * (2.0 ** (-age0 / hl) - 2.0 ** (-(age0 + hours) / hl))
            informed, share, rng = ev.live()
            rng.random(dtype=np.float32, out=u)
            # the same operations as the exact rate below, on the largest inputs: an upper
            # bound (float rounding is monotone), widened a hair for safety
            rate_max = self.attention_max * media
            if self.q > 0:
                rate_max = rate_max + float(np.float32(cq) * np.float32(ev.share_max))
            p_max = -np.expm1(-rate_max) * (1.0 + 1e-6) + 1e-12
            if p_max < self.sparse_below:
                cand = np.flatnonzero(u < p_max)
                cand = cand[~informed[cand]]
            else:
                cand = np.flatnonzero(~informed)
            rate = self.attention[cand] * media
            if self.q > 0:
                rate = rate + cq * share[cand]
            p_new = -np.expm1(-rate)
            rows = cand[u[cand] < p_new]
            informed[rows] = True
            ev.n_informed += rows.size
            if self.q > 0 and rows.size:
                self._add_contacts(ev, rows)
            out.append((ev, rows))
            done = ev.n_informed >= self.saturation * self.n
            max_age = self.max_age_hours if ev.max_age_h is None else ev.max_age_h
            if not done and age0 + hours < max_age:
                keep.append(ev)
            else:
                ev.informed = None  # free memory: an event no one else will learn
                ev.share = None
                ev.rng = None
        self.active = keep
        return out
