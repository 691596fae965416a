"""Sweep engine throughput and executor overhead, measured side by side in one run.

    python benchmarks/bench_sweep.py [--quick] [--no-scenario] [--json OUT]

1. Scaling: a sweep of CPU-bound tasks (``busy_task``: each burns ``--cpu-s`` seconds of
   its own CPU time, so two tasks sharing a core take twice as long and the speed-up
   is real) on the local process pool with 1 and with 2 workers: runs per minute and
   the 2-vs-1 speed-up (ideal 2.0 on 2 free cores).
2. Overhead: a sweep of near-zero tasks (``ishigami_task``, microseconds) on the local
   pool and on a Dask ``LocalCluster``, both with 2 worker processes: wall time per task
   is then almost all engine + executor overhead (submit, pickle, result, one fsync'ed
   CSV line).
3. The shipped scenario (``scenarios/deepseek_2025.yaml``, its whole week) at 10,000
   investors, on the local pool with 2 workers: **sweep runs per hour**, each run a full
   ``analysis.experiments.tasks:evaluate`` (scenario set-up, the week, its metrics), measured
   twice side by side: with one numba thread per worker (what the experiment runner does)
   and with numba's default (one thread per core in every worker).

Executors are started and warmed up before timing, and their start-up time is reported
separately, so the timings compare steady-state throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from analysis.experiments.runner import make_executor
from analysis.experiments.sweep import run_sweep

REPO = Path(__file__).resolve().parents[1]
SCENARIO = REPO / "scenarios" / "deepseek_2025.yaml"
SCENARIO_INVESTORS = 10_000  # the issue: sweep runs per hour at 10,000 investors
WARM_INVESTORS = 1_000  # warm-up runs: load the compiled kernels in every worker
SECONDS_PER_HOUR = 3600.0


def _spec(tmp: Path, name: str, task: str, param: str, value: float, n: int) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            base: base.yaml
            task: analysis.experiments.testfuncs:{task}
            parameters:
              - {{path: {param}, values: [{value}]}}
              - {{path: x2, values: [1.0]}}
              - {{path: x3, values: [1.0]}}
            design: grid
            replications: {n}
            seed: 1
            metrics: [{"iterations" if task == "busy_task" else "y"}]
            """
        )
    )
    return path


def _scenario_spec(tmp: Path, name: str, investors: int, n: int) -> Path:
    """A sweep of ``n`` replications of the shipped scenario at ``investors`` investors."""
    path = tmp / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            base: {SCENARIO}
            task: analysis.experiments.tasks:evaluate
            parameters:
              - {{path: population.size, values: [{investors}]}}
            design: grid
            replications: {n}
            seed: 1
            metrics: ["shock_return:NVDA"]
            """
        )
    )
    return path


def _scenario_case(tmp: Path, n: int, workers: int, numba_threads: int | None) -> dict[str, Any]:
    """Sweep runs per hour of the shipped scenario on a local pool of ``workers``."""
    t0 = time.perf_counter()
    with make_executor(
        workers=workers, preload=("analysis.experiments.tasks",), numba_threads=numba_threads
    ) as ex:
        warm = _scenario_spec(tmp, f"warm_{len(os.listdir(tmp))}", WARM_INVESTORS, 2 * workers)
        _timed_sweep(warm, tmp / warm.stem, ex)
        startup = time.perf_counter() - t0
        spec = _scenario_spec(tmp, f"scn_{len(os.listdir(tmp))}", SCENARIO_INVESTORS, n)
        wall = _timed_sweep(spec, tmp / spec.stem, ex)
    threads = "1 (runner default)" if numba_threads else "numba default"
    return {
        "case": f"scenario {SCENARIO_INVESTORS:,}",
        "executor": f"local pool, numba threads {threads}",
        "workers": workers,
        "tasks": n,
        "numba_threads": numba_threads,
        "startup_s": round(startup, 3),
        "wall_s": round(wall, 3),
        "runs_per_min": round(60 * n / wall, 2),
        "runs_per_hour": round(SECONDS_PER_HOUR * n / wall, 1),
        "ms_per_task": round(1000 * wall / n, 3),
    }


def _cpu_busy(interval_s: float = 1.0) -> float | None:
    """Fraction of all CPU time in use over ``interval_s`` (/proc/stat; None elsewhere)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    try:
        busy0, total0 = sample()
        time.sleep(interval_s)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (busy1 - busy0) / max(total1 - total0, 1)


def _timed_sweep(spec: Path, out: Path, executor: Any) -> float:
    # run_sweep prints a summary line per sweep; keep the benchmark table readable.
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        summary = run_sweep(spec, out, executor=executor, progress=False)
        wall = time.perf_counter() - t0
    if summary.n_failed:
        raise RuntimeError(f"{summary.n_failed} benchmark tasks failed; see {out / 'runs.csv'}")
    return wall


def _case(
    tmp: Path,
    label: str,
    task: str,
    param: str,
    value: float,
    n: int,
    workers: int,
    cluster: str | None,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    with make_executor(workers=workers, cluster=cluster) as ex:
        # Warm-up: start every worker and import the task there before timing.
        warm = _spec(tmp, f"warm_{len(os.listdir(tmp))}", task, param, 0.0, 2 * workers)
        _timed_sweep(warm, tmp / warm.stem, ex)
        startup = time.perf_counter() - t0
        spec = _spec(tmp, f"run_{len(os.listdir(tmp))}", task, param, value, n)
        wall = _timed_sweep(spec, tmp / spec.stem, ex)
    return {
        "case": label,
        "executor": "dask LocalCluster" if cluster else "local process pool",
        "workers": workers,
        "tasks": n,
        "task_cpu_s": value if task == "busy_task" else 0.0,
        "startup_s": round(startup, 3),
        "wall_s": round(wall, 3),
        "runs_per_min": round(60 * n / wall, 1),
        "ms_per_task": round(1000 * wall / n, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter tasks and fewer runs (~15 s)")
    parser.add_argument("--json", metavar="OUT", type=Path, help="also write results as JSON")
    parser.add_argument(
        "--no-scenario", action="store_true", help="skip the shipped-scenario runs per hour"
    )
    parser.add_argument(
        "--scenario-runs",
        type=int,
        default=None,
        help="runs of the shipped scenario per case (default 8; quick 4)",
    )
    parser.add_argument(
        "--cpu-s",
        type=float,
        default=None,
        help="CPU seconds per busy task (default 1.0; quick 0.25)",
    )
    args = parser.parse_args(argv)
    cpu_s = args.cpu_s if args.cpu_s is not None else (0.25 if args.quick else 1.0)
    per_worker = 4 if args.quick else 6
    n_tiny = 200 if args.quick else 1000

    load_before = os.getloadavg()[0]
    busy_before = _cpu_busy()
    if busy_before is not None and busy_before > 0.2:
        # Other processes competing for the cores make the speed-up meaningless.
        print(f"warning: {100 * busy_before:.0f} % of CPU time was in use before starting")
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "base.yaml").write_text("name: bench\n")
        rows = [
            _case(tmp, f"busy {cpu_s:g} s", "busy_task", "cpu_s", cpu_s, per_worker * w, w, None)
            for w in (1, 2)
        ]
        rows += [
            _case(tmp, "near-zero", "ishigami_task", "x1", 1.0, n_tiny, 2, cluster)
            for cluster in (None, "local")
        ]

        scenario_rows = []
        if not args.no_scenario:
            n_scn = args.scenario_runs or (4 if args.quick else 8)
            # one numba thread per worker (the runner's default) and numba's default, in turn
            scenario_rows = [_scenario_case(tmp, n_scn, 2, t) for t in (1, None)]

    load_after = os.getloadavg()[0]
    one, two, pool, dask = rows
    speedup = two["runs_per_min"] / one["runs_per_min"]
    extra_ms = dask["ms_per_task"] - pool["ms_per_task"]
    header = f"{'case':<12} {'executor':<20} {'workers':>7} {'tasks':>6} {'startup_s':>9} {'wall_s':>8} {'runs/min':>10} {'ms/task':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:<12} {r['executor']:<20} {r['workers']:>7} {r['tasks']:>6} {r['startup_s']:>9.2f} "
            f"{r['wall_s']:>8.2f} {r['runs_per_min']:>10.1f} {r['ms_per_task']:>9.3f}"
        )
    print(f"speed-up, 2 vs 1 workers (CPU-bound {cpu_s:g} s tasks): {speedup:.2f}x")
    for r in scenario_rows:
        print(
            f"shipped scenario at {SCENARIO_INVESTORS:,} investors, 2 workers, {r['executor']}: "
            f"{r['runs_per_hour']:.0f} sweep runs per hour ({r['tasks']} runs in {r['wall_s']:.1f} s)"
        )
    busy_txt = "n/a" if busy_before is None else f"{100 * busy_before:.0f} %"
    print(
        f"CPU in use by other work before starting: {busy_txt}; "
        f"1-min load average {load_before:.2f} before, {load_after:.2f} after"
    )
    print(
        f"near-zero tasks, wall per task: local pool {pool['ms_per_task']:.2f} ms, "
        f"Dask LocalCluster {dask['ms_per_task']:.2f} ms ({extra_ms:+.2f} ms per task)"
    )
    result = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "quick": args.quick,
        "cpu_busy_before": None if busy_before is None else round(busy_before, 3),
        "loadavg_1min_before": round(load_before, 2),
        "loadavg_1min_after": round(load_after, 2),
        "cases": rows,
        "scenario_cases": scenario_rows,
        "speedup_2_vs_1": round(speedup, 3),
        "dask_extra_ms_per_task": round(extra_ms, 3),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
