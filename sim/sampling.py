"""Random subsets drawn in time proportional to their size, not to the population.

A cohort of 500,000 retail investors of whom 10 % trade in a step, or a few switch opinion,
should not draw 500,000 uniforms per step: the gaps between successive members of a
Bernoulli(p) subset are geometric, so the subset takes ``n p`` draws.
"""

from __future__ import annotations

import numpy as np


def bernoulli_subset(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Ascending indices of ``range(n)``, each included independently with probability ``p``."""
    if p <= 0.0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if p >= 1.0:
        return np.arange(n, dtype=np.int64)
    parts = []
    pos = -1
    batch = int(n * p + 5.0 * np.sqrt(n * p) + 16)
    while True:
        idx = pos + np.cumsum(rng.geometric(p, size=batch))
        if idx[-1] >= n:
            parts.append(idx[idx < n])
            break
        parts.append(idx)
        pos = int(idx[-1])
    return np.concatenate(parts)


def switch(
    rng: np.random.Generator, state: np.ndarray, p_leave_true: float, p_leave_false: float
) -> None:
    """Flip members of a two-state population in place: a ``True`` member turns ``False`` with
    probability ``p_leave_true``, a ``False`` one turns ``True`` with ``p_leave_false``.

    Candidates are drawn at the larger rate and thinned to each state's own rate, so the law is
    exactly that of one uniform per member.
    """
    p_max = max(p_leave_true, p_leave_false)
    cand = bernoulli_subset(rng, state.size, p_max)
    if cand.size == 0:
        return
    rate = np.where(state[cand], p_leave_true, p_leave_false)
    flip = cand[rng.random(cand.size) * p_max < rate]
    state[flip] = ~state[flip]
