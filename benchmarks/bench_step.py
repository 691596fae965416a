"""Simulator step time against population size, a plain-Mesa reference and a numpy bound.

    python benchmarks/bench_step.py [--quick] [--week] [--pams] [--json OUT] [--plot OUT.png]

For N = 1e3, 1e4, 1e5, 1e6 and 1e7 investors (``--quick``: up to 1e5, under a minute; 1e7
only for a full trading day, its peak memory measured) and the ten assets of
``benchmarks/scenarios/deepseek_10.yaml`` (the shipped ``scenarios/deepseek_2025.yaml`` without
the 19 companies the 28-company universe added: the issue's "1e6 x 10" targets), three kinds
of measurement, each (kind, N) in a fresh subprocess so that its peak resident memory is its
own:

* ``simulator``: ``MoatshockModel`` at ``population.size = N``, stepped untimed through the
  closed ticks before the first session, then ``K`` trading ticks timed one by one with
  ``time.perf_counter`` (``K`` = 20 for N <= 1e5, 10 for 1e6; ``--quick``: 10). At the
  largest N (not with ``--quick``) the whole first session is timed: a full trading day of 78
  steps.
* ``mesa_reference`` (N = 1e3 and 1e4): the same decision rules written the plain Mesa way,
  one ``mesa.Agent`` per investor computing its own order in Python
  (``benchmarks/mesa_reference.py``), started from the simulator's state at the same tick and
  cleared by the same ``sim.clearing.batch_auction``.
* ``numpy_bound``: one streaming numpy pass (read and write, in place) over arrays the size
  of the simulator's per-investor state: holdings and firm beliefs (N x A float64), cash and
  wealth (N), belief means and precisions (N x F, F = 3); best of several repeats. A step
  cannot be cheaper than touching its state once, so ``step / bound`` says how far a step is
  from memory-bandwidth bound.

Optional, in the same run (so that their ratios share the machine's state):

* ``week`` and ``week_shipped`` (``--week``): the scenario's whole calendar (20-31 Jan 2025)
  at 1e4 and 1e6 investors, on the 10-asset benchmark scenario (``week``) and on the shipped
  29-asset one (``week_shipped``): every tick stepped, model construction and the result
  tables timed separately (``week_s`` is the simulation alone).
* ``pams`` (``--pams``, needs ``pip install pams``, the ``bench`` extra): PAMS's FCN agents in
  10 markets, order execution off, every agent deciding at every step (``maxNormalOrders`` =
  N); its time per agent-step beside ours. A PAMS step routes every order into a
  continuous-double-auction order book (Python objects), a moatshock step clears one call
  auction per asset: the ratio compares two engines' costs of "every agent decides", not
  the same economics.

Output: a table on stdout, the ratio simulator / Mesa in investor-steps per second, the ratio
step / bound at each N, the log-log exponent of time per step against N from 1e4 up, the full
day, and the issue's targets; ``--json`` writes ``{"meta": ..., "records": [...],
"summary": ...}`` (see ``benchmarks/README.md``); ``--plot`` (default
``results/bench/scaling.png``) draws seconds per step against N on log-log axes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import importlib.metadata
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sim.model import MoatshockModel

# sim, mesa and scipy are imported where they are used: the driver and the numpy-bound
# children then start in a fraction of a second instead of the ~1.5 s Mesa's import takes.

REPO = Path(__file__).resolve().parents[1]
#: the 10-asset benchmark scenario (step, bound, Mesa reference, full days, ``week``)
SCENARIO = REPO / "benchmarks" / "scenarios" / "deepseek_10.yaml"
#: the shipped scenario (29 assets): ``week_shipped``
SHIPPED = REPO / "scenarios" / "deepseek_2025.yaml"
KINDS = ("simulator", "mesa_reference", "numpy_bound")
#: optional measurements (``--week``, ``--pams``)
EXTRA_KINDS = ("week", "week_shipped", "pams")
RECORD_KEYS = (
    "kind",
    "investors",
    "assets",
    "seconds_per_step",
    "investor_steps_per_s",
    "peak_rss_mb",
)
N_FACTORS = 3  # belief columns per investor in the scenario
# Targets of the issue "Speed II" (seconds, MB, ratios)
DAY_TARGET_S = 60.0  # Speed I: a 78-step day at 1e6 investors in under a minute (kept, info)
BOUND_TARGET = 5.0  # one 1e6 x 10 step within 5x the numpy streaming bound of the same run
WEEK_TARGET_S = 60.0  # the week at 1e6 investors and 10 assets, simulation only
WEEK_SHIPPED_TARGET_S = 180.0  # the week at 1e6 investors, shipped 29 assets
WEEK_SMALL_TARGET_S = 2.0  # the week at 1e4 investors (both universes), simulation only
RSS_TARGET_MB = 16384.0  # peak memory of the 1e7-investor day under 16 GB
EXPONENT_TARGET = 1.05  # time per step ~ N^b with b <= 1.05 from 1e4 to 1e7
MESA_TARGET = 300.0  # at least 300x the per-investor Mesa reference at 1e4 (a minimum)
BIG_N = 1_000_000  # the population of the step-vs-bound and week targets
HUGE_N = 10_000_000  # the population of the one-day memory target
SMALL_WEEK_N = 10_000
HUGE_BYTES_PER_INVESTOR = 1_000  # peak B per investor measured at 1e6 (~830) plus margin
MEMORY_SAFETY = 1.3  # run the 1e7 day only if this times its estimate is available
PAMS_MARKETS = 10  # PAMS reference: as many markets as our assets
PAMS_N = 1_000  # PAMS agents (a PAMS step at 1e4 takes ~10 s: too slow to repeat)
_CHILD_TAG = "BENCH_RECORD "


# -- memory ---------------------------------------------------------------------------------
def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB -> MB
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (2^20 bytes).

    Linux ``VmHWM`` (the high-water mark of this process image, reset by ``exec``), else
    ``getrusage(RUSAGE_SELF).ru_maxrss``.
    """
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ru / 2**20 if sys.platform == "darwin" else ru / 1024.0  # bytes on macOS, kB else


def current_rss_mb() -> float:
    """Current resident set size, MB (falls back to the peak where /proc is unavailable)."""
    rss = _proc_status_mb("VmRSS")
    return rss if rss is not None else peak_rss_mb()


def _baseline_rss_mb() -> float:
    """RSS (MB) once the simulator's modules are imported, before anything is built."""
    import mesa  # noqa: F401

    import sim.model  # noqa: F401

    gc.collect()
    return current_rss_mb()


def _memory_fields(n: int, baseline_mb: float) -> dict[str, float]:
    peak = peak_rss_mb()
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "peak_rss_mb": round(peak, 1),
        # the kernel's own peak count, as a cross-check of VmHWM (kB on Linux, B on macOS)
        "ru_maxrss_mb": round(ru / 2**20 if sys.platform == "darwin" else ru / 1024.0, 1),
        "baseline_rss_mb": round(baseline_mb, 1),
        "rss_bytes_per_investor": round((peak - baseline_mb) * 2**20 / n, 1),
    }


# -- the three measurements -----------------------------------------------------------------
def build_model(n: int, scenario: Path = SCENARIO) -> MoatshockModel:
    """The benchmark scenario's model with ``n`` investors."""
    from sim.model import MoatshockModel
    from sim.scenario import load_scenario

    return MoatshockModel(load_scenario(scenario, {"population.size": int(n)}))


def advance_to_trading(model: MoatshockModel) -> int:
    """Step through closed ticks until the next tick is a trading tick; returns ticks stepped."""
    from sim.calendar import TICK_CLOSED

    k = 0
    while model.tick < len(model.ticks) and model.ticks.kind[model.tick] == TICK_CLOSED:
        model.step()
        k += 1
    if model.tick >= len(model.ticks):
        raise RuntimeError("the calendar ended before a trading tick")
    return k


def _time_steps(model: Any, steps: int, full_day: bool) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each timed trading step: ``steps`` of them, or the session."""
    from sim.calendar import TICK_CLOSED

    ticks = model.ticks
    day = ticks.day[model.tick]
    wall: list[float] = []
    cpu: list[float] = []
    while model.tick < len(ticks) and ticks.kind[model.tick] != TICK_CLOSED:
        if (not full_day and len(wall) >= steps) or ticks.day[model.tick] != day:
            break
        c0 = time.process_time()
        t0 = time.perf_counter()
        model.step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if not wall:
        raise RuntimeError("no trading tick was timed")
    return wall, cpu


def _step_fields(n: int, wall: list[float], cpu: list[float]) -> dict[str, Any]:
    sec = float(np.mean(wall))
    return {
        "seconds_per_step": sec,
        "investor_steps_per_s": n / sec,
        "steps": len(wall),
        "step_s_min": float(np.min(wall)),
        "step_s_median": float(np.median(wall)),
        "step_s_max": float(np.max(wall)),
        "cpu_s_per_step": float(np.mean(cpu)),
    }


def measure_simulator(n: int, steps: int, full_day: bool = False) -> dict[str, Any]:
    """Time ``steps`` trading steps of the simulator at ``n`` investors.

    Returns a record (see :data:`RECORD_KEYS`): ``seconds_per_step`` is the mean wall time (s)
    of the first ``steps`` trading ticks of the first session, ``investor_steps_per_s`` is
    ``n / seconds_per_step``. Also ``build_s`` (model construction, s), ``closed_s_per_tick``
    (the untimed closed ticks, s each) and, with ``full_day``, ``day_s``: the wall time (s) of
    every trading tick of that session (``day_steps`` of them, 78 in the scenario).
    """
    baseline = _baseline_rss_mb()
    t0 = time.perf_counter()
    model = build_model(n)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    closed = advance_to_trading(model)
    closed_s = time.perf_counter() - t0
    wall, cpu = _time_steps(model, steps, full_day)
    rec: dict[str, Any] = {
        "kind": "simulator",
        "investors": int(n),
        "assets": int(model.universe.n_assets),
        **_step_fields(n, wall[:steps], cpu[:steps]),
        "build_s": build_s,
        "closed_ticks": closed,
        "closed_s_per_tick": closed_s / max(closed, 1),
    }
    if full_day:
        rec["day_steps"] = len(wall)
        rec["day_s"] = float(np.sum(wall))
        rec["day_cpu_s"] = float(np.sum(cpu))
        rec["day_peak_rss_mb"] = round(peak_rss_mb(), 1)
    rec.update(_memory_fields(n, baseline))
    return rec


def measure_mesa_reference(n: int, steps: int) -> dict[str, Any]:
    """Time ``steps`` trading steps of the plain-Mesa reference at ``n`` investors.

    The reference starts from the simulator's state at its first trading tick (the simulator
    is then dropped) and steps with one ``mesa.Agent`` per investor; fields as in
    :func:`measure_simulator` (seconds, investor-steps per second), plus ``build_s``: the time
    to create the agents (s). Its peak memory includes the simulator it was copied from.
    """
    try:
        from benchmarks.mesa_reference import MesaReferenceModel
    except ModuleNotFoundError:  # run as a script: benchmarks/ itself is sys.path[0]
        from mesa_reference import MesaReferenceModel

    baseline = _baseline_rss_mb()
    sim_model = build_model(n)
    advance_to_trading(sim_model)
    t0 = time.perf_counter()
    ref = MesaReferenceModel(sim_model, seed=int(sim_model.run_seed))
    build_s = time.perf_counter() - t0
    assets = int(sim_model.universe.n_assets)
    del sim_model
    gc.collect()
    wall, cpu = _time_steps(ref, steps, full_day=False)
    rec: dict[str, Any] = {
        "kind": "mesa_reference",
        "investors": int(n),
        "assets": assets,
        **_step_fields(n, wall, cpu),
        "build_s": build_s,
    }
    rec.update(_memory_fields(n, baseline))
    return rec


def measure_numpy_bound(
    n: int, assets: int = 10, factors: int = N_FACTORS, repeats: int = 5
) -> dict[str, Any]:
    """Best time (s) of one streaming pass over per-investor state of ``n`` investors.

    Arrays (float64): holdings and firm beliefs (n x assets), cash and wealth (n), belief
    means and precisions (n x factors); each is read and written once per pass by
    ``np.multiply(x, 1.0000001, out=x)``. ``seconds_per_step`` is the best of ``repeats``
    passes after one warm-up; ``state_bytes`` the bytes of state, ``gb_per_s`` the bytes read
    plus written per second (1e9 bytes).
    """
    baseline = current_rss_mb()
    shapes = [(n, assets), (n,), (n,), (n, factors), (n, factors), (n, assets)]
    arrays = [np.full(s, 1.0) for s in shapes]  # np.full touches every page
    nbytes = sum(a.nbytes for a in arrays)

    def one_pass() -> tuple[float, float]:
        c0 = time.process_time()
        t0 = time.perf_counter()
        for a in arrays:
            np.multiply(a, 1.0000001, out=a)
        return time.perf_counter() - t0, time.process_time() - c0

    one_pass()
    best, best_cpu = min(one_pass() for _ in range(max(repeats, 1)))
    rec: dict[str, Any] = {
        "kind": "numpy_bound",
        "investors": int(n),
        "assets": int(assets),
        "seconds_per_step": best,
        "investor_steps_per_s": n / best,
        "steps": max(repeats, 1),
        "cpu_s_per_step": best_cpu,
        "state_bytes": int(nbytes),
        "gb_per_s": 2 * nbytes / best / 1e9,
    }
    rec.update(_memory_fields(n, baseline))
    return rec


def measure_week(n: int, scenario: Path = SCENARIO, kind: str = "week") -> dict[str, Any]:
    """The ``scenario``'s whole calendar at ``n`` investors, simulation timed alone.

    ``week_s`` (s): wall time of stepping every tick (closed ticks included), i.e. what a
    sweep's run costs beyond set-up; ``build_s`` (model construction: population, network,
    news schedule) and ``collect_s`` (the result tables) are timed apart; nothing is written
    to disk. ``seconds_per_step`` is ``week_s`` over the ticks stepped.
    """
    from sim.tables import collect_tables

    baseline = _baseline_rss_mb()
    t0 = time.perf_counter()
    model = build_model(n, scenario)
    build_s = time.perf_counter() - t0
    ticks = 0
    c0 = time.process_time()
    t0 = time.perf_counter()
    while model.running:
        model.step()
        ticks += 1
    week_s = time.perf_counter() - t0
    week_cpu_s = time.process_time() - c0
    t0 = time.perf_counter()
    collect_tables(model)
    collect_s = time.perf_counter() - t0
    rec: dict[str, Any] = {
        "kind": kind,
        "investors": int(n),
        "assets": int(model.universe.n_assets),
        "seconds_per_step": week_s / max(ticks, 1),
        "investor_steps_per_s": n * max(ticks, 1) / week_s,
        "steps": ticks,
        "trading_steps": int(model.n_trading),
        "cpu_s_per_step": week_cpu_s / max(ticks, 1),
        "week_s": week_s,
        "week_cpu_s": week_cpu_s,
        "build_s": build_s,
        "collect_s": collect_s,
    }
    rec.update(_memory_fields(n, baseline))
    return rec


def pams_config(n: int, markets: int, steps: int) -> dict[str, Any]:
    """A PAMS (0.3) configuration: ``n`` FCN agents trading all ``markets`` markets, order
    execution off, every agent deciding every step; one warm-up step, then ``steps``.

    The FCN parameters are those of PAMS's documented sample (fundamental and noise weights
    exponential with mean 1, no chart weight, mean-reversion time 50-100 steps).
    """
    names = [f"Market{i}" for i in range(markets)]
    session = {
        "withOrderPlacement": True,
        "withOrderExecution": False,  # orders rest in the books; no matching
        "withPrint": False,
        "maxNormalOrders": n,  # every agent is asked at every step
    }
    return {
        "simulation": {
            "markets": names,
            "agents": ["FCNAgents"],
            "sessions": [
                {"sessionName": 0, "iterationSteps": 1, **session},
                {"sessionName": 1, "iterationSteps": steps, **session},
            ],
        },
        **{
            m: {
                "class": "Market",
                "tickSize": 0.00001,
                "marketPrice": 300.0,
                "outstandingShares": 25000,
            }
            for m in names
        },
        "FCNAgents": {
            "class": "FCNAgent",
            "numAgents": n,
            "markets": names,
            "assetVolume": 50,
            "cashAmount": 10000,
            "fundamentalWeight": {"expon": [1.0]},
            "chartWeight": {"expon": [0.0]},
            "noiseWeight": {"expon": [1.0]},
            "meanReversionTime": {"uniform": [50, 100]},
            "noiseScale": 0.001,
            "timeWindowSize": [100, 200],
            "orderMargin": [0.0, 0.1],
        },
    }


def measure_pams(n: int, steps: int) -> dict[str, Any]:
    """PAMS's FCN agents: wall and CPU seconds of each step after the warm-up one.

    A step is PAMS's ``_update_markets`` (ask every agent for its orders in every market,
    then add them to the order books); ``seconds_per_step`` is their mean,
    ``investor_steps_per_s`` is ``n / seconds_per_step``. Raises ``ModuleNotFoundError``
    without pams.
    """
    import random
    import warnings

    from pams.runners import SequentialRunner

    baseline = current_rss_mb()
    runner = SequentialRunner(
        settings=pams_config(n, PAMS_MARKETS, steps), prng=random.Random(1), logger=None
    )
    wall: list[float] = []
    cpu: list[float] = []
    update = runner._update_markets  # one call per step (pams.runners.sequential)

    def timed(session: Any) -> None:
        c0 = time.process_time()
        t0 = time.perf_counter()
        update(session=session)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)

    runner._update_markets = timed  # type: ignore[method-assign]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # PAMS prints its timings and warns about prices off its tick grid at every order
        warnings.simplefilter("ignore")
        runner.main()
    wall, cpu = wall[1:], cpu[1:]  # the first step is the warm-up session
    rec: dict[str, Any] = {
        "kind": "pams",
        "investors": int(n),
        "assets": PAMS_MARKETS,
        **_step_fields(n, wall, cpu),
        "pams": importlib.metadata.version("pams"),
    }
    rec.update(_memory_fields(n, baseline))
    return rec


def pams_available() -> bool:
    """Whether ``pams`` can be imported (the optional ``bench`` extra)."""
    import importlib.util

    return importlib.util.find_spec("pams") is not None


def measure(kind: str, n: int, steps: int, full_day: bool = False) -> dict[str, Any]:
    """Run one measurement of ``kind`` (one of :data:`KINDS` + :data:`EXTRA_KINDS`) here."""
    if kind == "week":
        return measure_week(n)
    if kind == "week_shipped":
        return measure_week(n, SHIPPED, "week_shipped")
    if kind == "pams":
        return measure_pams(n, steps)
    if kind == "simulator":
        return measure_simulator(n, steps, full_day)
    if kind == "mesa_reference":
        return measure_mesa_reference(n, steps)
    if kind == "numpy_bound":
        return measure_numpy_bound(n, repeats=steps)
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS + EXTRA_KINDS}")


def run_child(kind: str, n: int, steps: int, full_day: bool = False) -> dict[str, Any]:
    """Run :func:`measure` in a fresh Python process (so its peak RSS is its own)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--n", str(int(n))]
    cmd += ["--steps", str(steps)] + (["--day"] if full_day else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_CHILD_TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark child {kind} N={n} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len(_CHILD_TAG) :])


# -- summary --------------------------------------------------------------------------------
def validate_record(rec: dict[str, Any]) -> None:
    """Raise ``ValueError`` unless ``rec`` has the record schema with sane values."""
    missing = [k for k in RECORD_KEYS if k not in rec]
    if missing:
        raise ValueError(f"record lacks {missing}: {rec}")
    if rec["kind"] not in KINDS + EXTRA_KINDS:
        raise ValueError(f"unknown kind {rec['kind']!r}")
    for k in ("investors", "assets"):
        if not isinstance(rec[k], int) or rec[k] <= 0:
            raise ValueError(f"{k} must be a positive int, got {rec[k]!r}")
    for k in ("seconds_per_step", "investor_steps_per_s", "peak_rss_mb"):
        if not isinstance(rec[k], float) or not np.isfinite(rec[k]) or rec[k] <= 0:
            raise ValueError(f"{k} must be a positive finite float, got {rec[k]!r}")


def _by(records: list[dict[str, Any]], kind: str) -> dict[int, dict[str, Any]]:
    return {r["investors"]: r for r in records if r["kind"] == kind}


def fit_exponent(
    records: list[dict[str, Any]], n_min: int = 10_000, key: str = "seconds_per_step"
) -> float | None:
    """Slope of log(``key``) on log(N) for simulator records with N >= ``n_min``.

    ``key`` is ``seconds_per_step`` (wall) or ``cpu_s_per_step`` (CPU).
    """
    sim = sorted((n, r[key]) for n, r in _by(records, "simulator").items() if key in r)
    pts = [(n, s) for n, s in sim if n >= n_min]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def _target(value: float | None, bound: float, kind: str = "max") -> dict[str, Any]:
    """A target record: ``value`` against ``max`` (at most) or ``min`` (at least)."""
    met = value is not None and (value <= bound if kind == "max" else value >= bound)
    return {"value": value, kind: bound, "met": met}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios, the scaling exponent, the full day, the week, PAMS and the issue's targets.

    ``simulator_over_mesa``: simulator / Mesa investor-steps per second, per N;
    ``step_over_bound``: simulator seconds per step / numpy bound seconds, per N
    (``step_over_bound_cpu``: the same ratio of CPU times);
    ``exponent``: log-log slope of seconds per step on N over simulator N >= 1e4
    (``exponent_cpu``: the same with CPU seconds, less sensitive to other load);
    ``week`` / ``week_shipped``: per N, the week's simulation seconds on 10 / 29 assets
    (``--week``);
    ``simulator_over_pams``: simulator / PAMS investor-steps per second at PAMS's N
    (``--pams``); ``targets``: the issue's targets among what was measured.
    """
    sim, ref, bound = (_by(records, k) for k in KINDS)
    weeks, pams = _by(records, "week"), _by(records, "pams")
    shipped = _by(records, "week_shipped")
    ratio = {
        str(n): sim[n]["investor_steps_per_s"] / ref[n]["investor_steps_per_s"]
        for n in sorted(ref)
        if n in sim
    }
    over = {
        str(n): sim[n]["seconds_per_step"] / bound[n]["seconds_per_step"]
        for n in sorted(sim)
        if n in bound
    }
    over_cpu = {
        str(n): sim[n]["cpu_s_per_step"] / bound[n]["cpu_s_per_step"]
        for n in sorted(sim)
        if n in bound and "cpu_s_per_step" in sim[n] and "cpu_s_per_step" in bound[n]
    }
    # the same ratio round by round (a round's step and bound ran minutes apart at most)
    rounds = {
        str(n): [
            a / b
            for a, b in zip(
                sim[n]["repeat_seconds_per_step"], bound[n]["repeat_seconds_per_step"], strict=True
            )
        ]
        for n in sorted(sim)
        if n in bound
        and len(sim[n].get("repeat_seconds_per_step", [])) > 1
        and len(sim[n]["repeat_seconds_per_step"])
        == len(bound[n].get("repeat_seconds_per_step", []))
    }
    pts = sorted(n for n in sim if n >= 10_000)
    out: dict[str, Any] = {
        "simulator_over_mesa": ratio,
        "step_over_bound": over,
        "step_over_bound_cpu": over_cpu,
        "step_over_bound_rounds": rounds,
        "exponent": fit_exponent(records),
        "exponent_cpu": fit_exponent(records, key="cpu_s_per_step"),
        "exponent_range": [pts[0], pts[-1]] if len(pts) >= 2 else None,
        "full_day": None,
        "full_days": {},
        "week": _weeks(weeks),
        "week_shipped": _weeks(shipped),
        "simulator_over_pams": {
            str(n): sim[n]["investor_steps_per_s"] / pams[n]["investor_steps_per_s"]
            for n in sorted(pams)
            if n in sim
        },
    }
    days = sorted((r for r in sim.values() if "day_s" in r), key=lambda r: r["investors"])
    for d in days:
        out["full_days"][str(d["investors"])] = {
            "investors": d["investors"],
            "steps": d["day_steps"],
            "seconds": d["day_s"],
            "cpu_seconds": d.get("day_cpu_s"),
            "peak_rss_mb": d.get("day_peak_rss_mb", d["peak_rss_mb"]),
        }
    if days:
        out["full_day"] = out["full_days"][str(days[-1]["investors"])]
    targets: dict[str, dict[str, Any]] = {}
    if str(BIG_N) in over:
        targets["step_over_bound_at_1e6"] = _target(over[str(BIG_N)], BOUND_TARGET)
        targets["step_over_bound_cpu_at_1e6"] = _target(over_cpu.get(str(BIG_N)), BOUND_TARGET)
    if BIG_N in weeks:
        targets["week_seconds_at_1e6"] = _target(weeks[BIG_N]["week_s"], WEEK_TARGET_S)
    if SMALL_WEEK_N in weeks:
        targets["week_seconds_at_1e4"] = _target(weeks[SMALL_WEEK_N]["week_s"], WEEK_SMALL_TARGET_S)
    if BIG_N in shipped:
        targets["week_shipped_seconds_at_1e6"] = _target(
            shipped[BIG_N]["week_s"], WEEK_SHIPPED_TARGET_S
        )
    if SMALL_WEEK_N in shipped:
        targets["week_shipped_seconds_at_1e4"] = _target(
            shipped[SMALL_WEEK_N]["week_s"], WEEK_SMALL_TARGET_S
        )
    if str(BIG_N) in out["full_days"]:
        targets["day_seconds_at_1e6"] = _target(
            out["full_days"][str(BIG_N)]["seconds"], DAY_TARGET_S
        )
    if HUGE_N in sim:
        targets["peak_rss_mb_at_1e7"] = _target(sim[HUGE_N]["peak_rss_mb"], RSS_TARGET_MB)
        targets["exponent_1e4_1e7"] = _target(out["exponent"], EXPONENT_TARGET)
    if str(SMALL_WEEK_N) in ratio:
        targets["simulator_over_mesa_at_1e4"] = _target(
            ratio[str(SMALL_WEEK_N)], MESA_TARGET, "min"
        )
    if targets:
        out["targets"] = targets
    return out


def _weeks(weeks: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per N, a week record's seconds, CPU seconds, ticks, assets and untimed parts."""
    return {
        str(n): {
            "seconds": w["week_s"],
            "cpu_seconds": w.get("week_cpu_s"),
            "ticks": w["steps"],
            "assets": w["assets"],
            "build_s": w.get("build_s"),
            "collect_s": w.get("collect_s"),
        }
        for n, w in sorted(weeks.items())
    }


def _available_cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return None


def machine_meta(quick: bool) -> dict[str, Any]:
    """Versions, date and machine of this run."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "benchmark": "bench_step",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": importlib.metadata.version("numba"),
        "scipy": importlib.metadata.version("scipy"),
        "mesa": importlib.metadata.version("mesa"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "nproc": os.cpu_count(),
        "nproc_available": _available_cpus(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "scenario": str(SCENARIO.relative_to(REPO)),
        "scenario_shipped": str(SHIPPED.relative_to(REPO)),
        "git_commit": commit or None,
        "quick": quick,
    }


# -- output ---------------------------------------------------------------------------------
def format_table(records: list[dict[str, Any]]) -> str:
    """The records as a fixed-width text table."""
    head = (
        f"{'kind':<15} {'investors':>10} {'assets':>6} {'steps':>5} {'s/step':>10} "
        f"{'cpu s/step':>10} {'inv-steps/s':>12} {'peak MB':>8} {'B/investor':>10}"
    )
    lines = [head, "-" * len(head)]
    nan = float("nan")
    for r in sorted(
        records, key=lambda r: ((KINDS + EXTRA_KINDS).index(r["kind"]), r["investors"])
    ):
        lines.append(
            f"{r['kind']:<15} {r['investors']:>10,} {r['assets']:>6} {r.get('steps', ''):>5} "
            f"{r['seconds_per_step']:>10.4g} {r.get('cpu_s_per_step', nan):>10.4g} "
            f"{r['investor_steps_per_s']:>12.4g} {r['peak_rss_mb']:>8.0f} "
            f"{r.get('rss_bytes_per_investor', nan):>10.0f}"
        )
    return "\n".join(lines)


def format_summary(summary: dict[str, Any]) -> str:
    """Ratios, exponent, full day and targets as text lines."""
    out = []
    for n, v in summary["simulator_over_mesa"].items():
        out.append(f"simulator / mesa_reference at N={int(n):,}: {v:.1f}x investor-steps per s")
    cpu = summary.get("step_over_bound_cpu", {})
    for n, v in summary["step_over_bound"].items():
        extra = f" (CPU time: {cpu[n]:.1f}x)" if n in cpu else ""
        per = summary.get("step_over_bound_rounds", {}).get(n)
        if per:
            extra += f"; by round: {', '.join(f'{x:.1f}x' for x in per)}"
        out.append(f"step / numpy bound at N={int(n):,}: {v:.1f}x{extra}")
    if summary["exponent"] is not None:
        lo, hi = summary["exponent_range"]
        cpu = summary.get("exponent_cpu")
        out.append(
            f"log-log exponent of s/step vs N, {lo:.0e} to {hi:.0e}: {summary['exponent']:.2f}"
            + (f" (CPU time: {cpu:.2f})" if cpu is not None else "")
        )
    days = summary.get("full_days") or (
        {str(summary["full_day"]["investors"]): summary["full_day"]} if summary["full_day"] else {}
    )
    for d in days.values():
        out.append(
            f"full trading day at N={d['investors']:,}: {d['steps']} steps in {d['seconds']:.1f} s"
            f" (CPU {d['cpu_seconds']:.1f} s), peak memory {d.get('peak_rss_mb', float('nan')):.0f} MB"
        )
    for key in ("week", "week_shipped"):
        for n, w in summary.get(key, {}).items():
            out.append(
                f"week ({w.get('assets', '?')} assets) at N={int(n):,}: {w['ticks']} ticks "
                f"simulated in {w['seconds']:.2f} s (CPU {w['cpu_seconds']:.2f} s; set-up "
                f"{w['build_s']:.2f} s and tables {w['collect_s']:.2f} s not included)"
            )
    for n, v in summary.get("simulator_over_pams", {}).items():
        out.append(
            f"simulator / PAMS FCN ({PAMS_MARKETS} markets, execution off) at N={int(n):,}: "
            f"{v:.0f}x investor-steps per s (a PAMS step routes every order into a continuous "
            "double auction's books; ours clears one call auction per asset)"
        )
    for name, t in summary.get("targets", {}).items():
        val = "n/a" if t["value"] is None else f"{t['value']:.3g}"
        lim = f"max {t['max']:g}" if "max" in t else f"min {t['min']:g}"
        out.append(f"target {name}: {val} ({lim}) {'met' if t['met'] else 'NOT met'}")
    return "\n".join(out)


def plot_scaling(records: list[dict[str, Any]], path: Path) -> Path:
    """Log-log plot of seconds per step against investors for the three kinds; returns path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    style = {"simulator": "o-", "mesa_reference": "s-", "numpy_bound": "^-"}
    for kind in KINDS:
        pts = sorted((n, r["seconds_per_step"]) for n, r in _by(records, kind).items())
        if pts:
            ax.plot(*zip(*pts, strict=True), style[kind], label=kind.replace("_", " "))
    cpu = sorted(
        (n, r["cpu_s_per_step"])
        for n, r in _by(records, "simulator").items()
        if "cpu_s_per_step" in r
    )
    if cpu:
        ax.plot(*zip(*cpu, strict=True), "o:", mfc="none", color="C0", label="simulator, CPU time")
    bound = sorted((n, r["seconds_per_step"]) for n, r in _by(records, "numpy_bound").items())
    if bound:
        ns, ts = zip(*bound, strict=True)
        ax.plot(ns, BOUND_TARGET * np.array(ts), ":", color="grey", label="5 x numpy bound")
    sim = sorted((n, r["seconds_per_step"]) for n, r in _by(records, "simulator").items())
    if sim:
        # slope-1 guide through the simulator's first point at N >= 1e4 (else its first point)
        n0, t0 = next((p for p in sim if p[0] >= 10_000), sim[0])
        xs = np.array([sim[0][0], sim[-1][0]], dtype=float)
        ax.plot(xs, t0 * xs / n0, "--", color="black", lw=0.8, label="slope 1")
    ax.axhline(DAY_TARGET_S / 78, color="red", lw=0.8, ls="-.", label="60 s / 78-step day")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("investors N")
    ax.set_ylabel("seconds per trading step")
    ax.set_title("moatshock step time, 10 assets (benchmarks/scenarios/deepseek_10)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def median_record(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The repeat with the median ``seconds_per_step`` (the lower middle of an even count),
    with every repeat's time attached: the VM's speed varies between processes by up to ~50 %
    while steps within a process are steady, so one process can misstate a ratio."""
    ranked = sorted(recs, key=lambda r: r["seconds_per_step"])
    rec = dict(ranked[(len(ranked) - 1) // 2])
    for r in recs:  # the full day is timed in the first round only: keep it
        if "day_s" in r and "day_s" not in rec:
            rec.update({k: v for k, v in r.items() if k.startswith("day_")})
    rec["repeats"] = len(recs)
    rec["repeat_seconds_per_step"] = [r["seconds_per_step"] for r in recs]
    return rec


# -- driver ---------------------------------------------------------------------------------
def plan(
    quick: bool, week: bool = False, pams: bool = False, huge: bool = True
) -> list[tuple[str, int, int, bool]]:
    """(kind, N, steps, full_day) of every measurement of a round, in order (``huge``: with
    the 1e7-investor day unless ``quick``)."""
    sizes = [1_000, 10_000, 100_000] if quick else [1_000, 10_000, 100_000, BIG_N]
    runs: list[tuple[str, int, int, bool]] = []
    for n in sizes:
        steps = 10 if quick else (20 if n <= 100_000 else 10)
        runs.append(("simulator", n, steps, not quick and n == sizes[-1]))
    if huge and not quick:
        runs.append(("simulator", HUGE_N, 10, True))  # one day; its first 10 steps for the fit
    for n in (1_000, 10_000):
        runs.append(("mesa_reference", n, (10 if n <= 1_000 else 5) if quick else 20, False))
    for n in sizes:
        runs.append(("numpy_bound", n, 5, False))
    if week:
        for kind in ("week", "week_shipped"):
            runs += [(kind, SMALL_WEEK_N, 0, False)] + ([] if quick else [(kind, BIG_N, 0, False)])
    if pams:
        runs.append(("pams", PAMS_N, 5 if quick else 10, False))
    return runs


def available_memory_mb() -> float | None:
    """``MemAvailable`` of the machine (MB), None where /proc/meminfo is missing."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _every_round(kind: str, n: int) -> bool:
    """Whether a measurement is repeated in every round (else the first round only): all
    but the minutes-long ones (the 1e7 day, the week at 1e6) and PAMS (slow, one engine)."""
    if kind == "pams" or n >= HUGE_N:
        return False
    return not (kind.startswith("week") and n >= BIG_N)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N up to 1e5, fewer steps (< 60 s)")
    parser.add_argument("--json", metavar="OUT", type=Path, help="also write results as JSON")
    parser.add_argument(
        "--plot",
        metavar="OUT.png",
        type=Path,
        default=REPO / "results" / "bench" / "scaling.png",
        help="scaling plot (default results/bench/scaling.png)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="rounds of every measurement below 1e6, each in a fresh process, reported by "
        "their median (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--week",
        action="store_true",
        help="also the week at 1e4 and 1e6 investors, on 10 and on the shipped 29 assets "
        "(simulation timed alone)",
    )
    parser.add_argument(
        "--pams",
        action="store_true",
        help="also the PAMS reference (FCN agents, 10 markets; needs pip install pams)",
    )
    parser.add_argument(
        "--no-1e7",
        dest="huge",
        action="store_false",
        help="leave out the 1e7-investor day (minutes; its memory and the exponent to 1e7)",
    )
    parser.add_argument("--child", choices=KINDS + EXTRA_KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--day", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        rec = measure(args.child, args.n, args.steps, args.day)
        print(_CHILD_TAG + json.dumps(rec), flush=True)
        return 0

    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(f"warning: 1-min load average is {load_before:.2f}; timings will be skewed")
    meta = machine_meta(args.quick)
    use_pams = args.pams
    if use_pams and not pams_available():
        print(
            "PAMS reference skipped: pams is not installed "
            '(pip install -e ".[bench]" on Python >= 3.13; see benchmarks/README.md)'
        )
        use_pams = False
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    meta["repeats"] = repeats
    meta["week"], meta["pams"], meta["huge"] = args.week, use_pams, args.huge
    # Rounds interleave the kinds, so that a slow spell of the machine hits a simulator and
    # its reference alike; the 1e6 step and its bound run in every round (the full day in
    # the first only), the minutes-long measurements once (see _every_round).
    collected: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in range(repeats):
        for kind, n, steps, day in plan(args.quick, args.week, use_pams, args.huge):
            if r > 0 and not _every_round(kind, n):
                continue
            day = day and r == 0
            need = MEMORY_SAFETY * n * HUGE_BYTES_PER_INVESTOR / 2**20
            free = available_memory_mb()
            if n >= HUGE_N and free is not None and free < need:
                # other processes' memory is not ours to push into swap or the OOM killer
                print(f"  skipped {kind} N={n:,}: {free:.0f} MB available, {need:.0f} MB needed")
                meta.setdefault("skipped", []).append(f"{kind} N={n}: {free:.0f} MB available")
                continue
            print(
                f"  [{r + 1}/{repeats}] {kind} N={n:,} ({steps} steps"
                f"{', full day' if day else ''}) ...",
                flush=True,
            )
            rec = run_child(kind, n, steps, day)
            validate_record(rec)
            collected.setdefault((kind, n), []).append(rec)
    records = [median_record(recs) for recs in collected.values()]
    meta["loadavg_1min_before"] = round(load_before, 2)
    meta["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
    meta["wall_s"] = round(time.perf_counter() - t_start, 1)
    summary = summarise(records)

    print()
    print(format_table(records))
    print()
    print(format_summary(summary))
    print(
        f"numpy {meta['numpy']}, mesa {meta['mesa']}, python {meta['python']}, "
        f"{meta['nproc']} CPUs, load {meta['loadavg_1min_before']} -> "
        f"{meta['loadavg_1min_after']}, {meta['date']}, {meta['wall_s']} s"
    )
    if args.plot:
        print(f"wrote {plot_scaling(records, args.plot)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"meta": meta, "records": records, "summary": summary}
        args.json.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
