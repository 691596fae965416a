"""Compiled inner loops (numba, ``cache=True``): the few passes over every investor of a step.

Each kernel does one job on plain arrays and is called by the module that owns the economics
(:mod:`sim.news`, :mod:`sim.cohorts`, :mod:`sim.beliefs`); none changes a price. Kernels that
may run on both cores are compiled twice (:func:`dual`): serially, and with ``prange`` over
chunks of investors; :meth:`Dual.__call__` takes the parallel one only for large cohorts, so
small runs (and sweep workers sharing the cores) never wait on each other's threads. Chunk
boundaries depend only on the number of investors, never on the number of threads, and the
chunks' partial sums are added in a fixed order: results are identical with one thread or two.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

# Threads that finish their chunks wait for the next parallel kernel asleep, not spinning: a
# spinning OpenMP worker takes a core from the serial code between two kernels, and on a shared
# machine (sweep workers, other jobs) steps were measured 2-5x slower with libgomp's default
# (1e6 investors, 2 cores, load ~2: 0.9 s vs 0.17 s). Must be set before numba loads OpenMP; a
# value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: Investors per chunk of a chunked kernel; fixed so that sums do not depend on threads.
#: A chunk adds its rows into small arrays of its own and copies them into the shared
#: (chunks x assets) table once at its end: accumulating into the shared table row by row
#: was 1.2-1.8x slower (the compiler cannot prove that table does not alias the investors'
#: arrays, so every addition goes through memory, and the two threads' chunks share lines).
CHUNK = 16_384
#: Below this many investors a chunked kernel runs on one thread (waking threads costs more);
#: the environment variable MOATSHOCK_PARALLEL_FROM overrides it (tests use 0).
PARALLEL_FROM = int(os.environ.get("MOATSHOCK_PARALLEL_FROM", "200000"))


def chunks(n: int) -> np.ndarray:
    """Chunk boundaries ``[0, c, 2c, ..., n]`` for ``n`` rows (int64)."""
    return np.append(np.arange(0, n, CHUNK, dtype=np.int64), np.int64(n))


class Dual:
    """A kernel compiled serially and in parallel; called like the function it compiles.

    The first argument of a dual kernel is always its chunk ``bounds``: the parallel variant
    is used when they cover at least :data:`PARALLEL_FROM` rows and numba has threads.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.serial = numba.njit(cache=True)(fn)
        self.parallel = numba.njit(cache=True, parallel=True)(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __call__(self, bounds: np.ndarray, *args: Any) -> Any:
        big = bounds[-1] >= PARALLEL_FROM and numba.get_num_threads() > 1
        return (self.parallel if big else self.serial)(bounds, *args)


def dual(fn: Callable[..., Any]) -> Dual:
    """Decorator: compile ``fn`` (whose loops over chunks use ``numba.prange``) both ways."""
    return Dual(fn)
