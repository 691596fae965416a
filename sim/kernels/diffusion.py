"""Release-time diffusion: who learns a news item when, drawn once, collected per tick.

Investor ``j`` learns an item in tick ``k`` of its life with probability
``1 - exp(-(a_j m_k + q h_k s_j))``: media intensity ``m_k`` integrated over the tick,
attention ``a_j``, word-of-mouth rate ``q`` (per hour, at a fully informed neighbourhood), tick
length ``h_k`` in hours and ``s_j`` the informed share of ``j``'s contacts at the tick's start.
The same law comes from independent clocks drawn once:

* a media clock: ``j`` draws ``E_j ~ Exp(1)`` at release and would learn from the media in
  the first tick where ``a_j M_k >= E_j`` (``M_k`` the cumulative media intensity);
* a clock per link: when contact ``c`` (weight ``w = 1/degree``) learns in tick ``k_c``, the
  link fires ``tau ~ Exp(q w)`` hours after the start of tick ``k_c + 1``;

``j`` learns in the tick of the first clock to fire. A tick's learners therefore sit in a
bucket filled in advance; a learner files each of its followers in the bucket of its link's
tick if that is earlier than the follower's own. Buckets are append-only lists in an arena
(entries that a follower's earlier tick made stale are skipped when the bucket is read), so
a tick costs its learners and their links, never the population. Link clocks use a counter-
based generator keyed by (item seed, contact, follower): results do not depend on the order
in which links are visited.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NONE = -1  # no tick: the clock never fires in the item's life
DONE = -2  # already informed

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_PRIME = np.uint64(0xC2B2AE3D27D4EB4F)


@njit(cache=True, inline="always")
def _uniform(seed: np.uint64, c: np.int64, j: np.int64) -> float:
    """A uniform in (0, 1) determined by (seed, c, j): splitmix64 of their mix."""
    z = seed ^ (np.uint64(c) * _GOLDEN) ^ (np.uint64(j) * _PRIME)
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z = z ^ (z >> np.uint64(31))
    return (float(z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _first_at_or_above(c: np.ndarray, lo: int, value: float) -> int:
    """First index ``i >= lo`` of the increasing array ``c`` with ``c[i] >= value``; -1: none."""
    hi = c.size - 1
    if c[hi] < value:
        return NONE
    while lo < hi:
        mid = (lo + hi) // 2
        if c[mid] >= value:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def schedule_media(
    threshold: np.ndarray,
    attention: np.ndarray,
    mc: np.ndarray,
    tick_of: np.ndarray,
    head: np.ndarray,
    entry: np.ndarray,
    nxt: np.ndarray,
) -> int:
    """File every investor in the bucket of its media tick (``mc[0] = 0``, ticks 1..T).

    Returns the number of arena entries used (one per investor with a tick).
    """
    head[:] = NONE
    used = 0
    for j in range(threshold.size):
        a = attention[j]
        k = _first_at_or_above(mc, 1, threshold[j] / a) if a > 0.0 else NONE
        tick_of[j] = k
        if k != NONE:
            entry[used] = j
            nxt[used] = head[k]
            head[k] = used
            used += 1
    return used


@njit(cache=True)
def pop_tick(
    k: int,
    head: np.ndarray,
    entry: np.ndarray,
    nxt: np.ndarray,
    tick_of: np.ndarray,
    out: np.ndarray,
) -> int:
    """The investors whose first clock fires in tick ``k``: marked informed, into ``out``."""
    n = 0
    e = head[k]
    while e != NONE:
        j = entry[e]
        if tick_of[j] == k:
            tick_of[j] = DONE
            out[n] = j
            n += 1
        e = nxt[e]
    head[k] = NONE
    return n


@njit(cache=True)
def fire_links(
    k: int,
    learners: np.ndarray,
    start: int,
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    q: float,
    seed: np.uint64,
    hc: np.ndarray,
    tick_of: np.ndarray,
    head: np.ndarray,
    entry: np.ndarray,
    nxt: np.ndarray,
    used: int,
) -> tuple[int, int]:
    """Learners of tick ``k`` (from ``learners[start]`` on) start their links' clocks.

    ``indptr``/``indices``/``weights``: the network by contact (CSC: column ``c`` lists who has
    ``c`` as a contact, with weight ``1/degree``); ``hc`` cumulative hours (``hc[0] = 0``).
    Returns (learners done, entries used); stops early when the arena is full.
    """
    cap = entry.size
    t_last = hc.size - 1
    if k >= t_last:
        return learners.size, used
    base = hc[k]  # hours from the item's first tick to the start of tick k + 1
    for i in range(start, learners.size):
        c = learners[i]
        lo, hi = indptr[c], indptr[c + 1]
        if used + (hi - lo) > cap:
            return i, used
        for p in range(lo, hi):
            j = indices[p]
            cur = tick_of[j]
            if cur == DONE or cur == k + 1:
                continue
            rate = q * weights[p]
            if rate <= 0.0:  # a rate so small it underflows: the link never fires
                continue
            tau = -np.log(_uniform(seed, c, j)) / rate
            kk = _first_at_or_above(hc, k + 1, base + tau)
            if kk != NONE and (cur == NONE or kk < cur):
                tick_of[j] = kk
                entry[used] = j
                nxt[used] = head[kk]
                head[kk] = used
                used += 1
    return learners.size, used
