"""Small task functions with the signature of ``analysis.experiments.tasks.evaluate`` for tests.

Each is ``task(scenario, overrides, seed, metrics) -> {metric: float}`` and is a
top-level function so that process pools and Dask can pickle it by reference. The
requested metric names are answered from a fixed menu; unknown names raise (as the
simulator does).
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import numpy as np

__all__ = [
    "busy_task",
    "dying_linear_credibility_task",
    "dying_task",
    "failing_task",
    "ishigami_task",
    "linear_credibility_task",
    "numba_threads_task",
    "sleep_task",
    "slow_linear_credibility_task",
    "toy_posterior_task",
]


def _pick(metrics: list[str], available: dict[str, float]) -> dict[str, float]:
    unknown = [m for m in metrics if m not in available]
    if unknown:
        raise KeyError(f"unknown metric(s): {', '.join(unknown)}")
    return {m: available[m] for m in metrics}


def _noise(seed: int) -> float:
    return float(np.random.default_rng(seed).standard_normal())


def ishigami_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Ishigami-Homma function (a=7, b=0.1) of overrides ``x1, x2, x3`` (radians).

    Metrics: ``y`` (deterministic), ``y_noisy`` (``y`` plus 0.1 x a standard normal draw
    from ``seed``, so replications differ), ``seed_u`` (a uniform draw from ``seed``).
    """
    x1, x2, x3 = (float(overrides[k]) for k in ("x1", "x2", "x3"))  # type: ignore[arg-type]
    y = math.sin(x1) + 7.0 * math.sin(x2) ** 2 + 0.1 * x3**4 * math.sin(x1)
    u = float(np.random.default_rng(seed).random())
    return _pick(metrics, {"y": y, "y_noisy": y + 0.1 * _noise(seed), "seed_u": u})


def sleep_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Sleep ``overrides["sleep"]`` seconds (default 0.1), then report ``y`` = sum of the
    numeric overrides plus seed noise, and ``seed_u``."""
    time.sleep(float(overrides.get("sleep", 0.1)))  # type: ignore[arg-type]
    total = sum(float(v) for v in overrides.values() if isinstance(v, int | float))
    return _pick(
        metrics, {"y": total + _noise(seed), "seed_u": float(np.random.default_rng(seed).random())}
    )


def busy_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Burn ``overrides["cpu_s"]`` seconds of this process's CPU time in a busy loop.

    Measured in process CPU time (not wall time), so two such tasks sharing one core
    take twice as long: parallel speed-ups measured with it are real.
    Metrics: ``iterations`` (loop count), ``cpu_used_s`` (CPU seconds burnt).
    """
    budget = float(overrides.get("cpu_s", 1.0))  # type: ignore[arg-type]
    start = time.process_time()
    end = start + budget
    n = 0
    while True:
        # Check the clock every 10k iterations: the check costs more than the work.
        for _ in range(10_000):
            n += 1
        if time.process_time() >= end:
            break
    return _pick(metrics, {"iterations": float(n), "cpu_used_s": time.process_time() - start})


def failing_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """``y = x`` but raises ``ValueError`` for ``x < 0`` (a failing simulation)."""
    x = float(overrides["x"])  # type: ignore[arg-type]
    if x < 0:
        raise ValueError(f"x={x} is negative\nsecond line of the message")
    return _pick(metrics, {"y": x, "seed_u": float(np.random.default_rng(seed).random())})


def dying_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Kill its own process with SIGKILL, as a segfault or the OOM killer would.

    ``overrides["die"]``: 0 never, 1 only on the first attempt of this task (a marker
    file named after the seed, next to the ``scenario`` file, remembers the death),
    2 on every attempt. Otherwise sleeps ``overrides["sleep"]`` (default 0.05 s) and
    returns ``y`` = the seed's uniform draw.
    """
    die = int(overrides.get("die", 0))  # type: ignore[call-overload]
    if die == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    if die == 1:
        marker = Path(scenario).parent / f".died_{seed}"
        try:
            # O_EXCL: exactly one attempt ever sees the marker missing.
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(overrides.get("sleep", 0.05)))  # type: ignore[arg-type]
    return _pick(metrics, {"y": float(np.random.default_rng(seed).random())})


def linear_credibility_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Stand-in for a run in calibration tests: every metric is -10 x the credibility of the
    viral news (override ``news.viral_cost_claim.credibility``, default 0.6), 0.5 higher at
    odd seeds."""
    cred = float(overrides.get("news.viral_cost_claim.credibility", 0.6))  # type: ignore[arg-type]
    value = -10.0 * cred + (0.5 if seed % 2 else 0.0)
    return {m: value for m in metrics}


def slow_linear_credibility_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """:func:`linear_credibility_task` after 0.1 s (so that a test can kill a calibration)."""
    time.sleep(0.1)
    return linear_credibility_task(scenario, overrides, seed, metrics)


def dying_linear_credibility_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """:func:`linear_credibility_task`, but the first run of each seed kills its own process
    with SIGKILL (a marker file ``.died_<seed>`` next to the ``scenario`` file remembers it)."""
    marker = Path(scenario).parent / f".died_{seed}"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return linear_credibility_task(scenario, overrides, seed, metrics)
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def toy_posterior_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Stand-in for a run in posterior tests: ``shock_return:NVDA`` = -10 x the viral news's
    credibility, ``rebound:NVDA`` = 2 x the funds' risk aversion, each plus 0.2 x a standard
    normal draw from ``seed``; ``volume_multiple:NVDA`` = 5 whatever the parameters."""
    cred = float(overrides.get("news.viral_cost_claim.credibility", 1.0))  # type: ignore[arg-type]
    gamma = float(overrides.get("population.cohorts.fundamental.risk_aversion", 2.0))  # type: ignore[arg-type]
    z = np.random.default_rng(seed).standard_normal(2)
    return _pick(
        metrics,
        {
            "shock_return:NVDA": -10.0 * cred + 0.2 * float(z[0]),
            "rebound:NVDA": 2.0 * gamma + 0.2 * float(z[1]),
            "volume_multiple:NVDA": 5.0,
        },
    )


def numba_threads_task(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Metric ``threads``: the numba threads the worker running it would use (its kernels)."""
    import numba  # deferred: only this task needs it

    return _pick(metrics, {"threads": float(numba.get_num_threads())})
