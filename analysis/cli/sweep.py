"""Command-line subcommands ``sweep`` and ``analyze``.

``run.py`` wires them in with::

    from analysis.cli.sweep import add_parsers
    sub = parser.add_subparsers(dest="command", required=True)
    add_parsers(sub)
    args = parser.parse_args()
    sys.exit(args.func(args))

Each handler returns an exit code: 0 on success, 2 on bad input (one-line message on
stderr, nothing written: a point or metric the task refuses, an output folder another sweep
or calibration holds, a ``--resume`` the folder's ``sweep.json`` does not allow, a damaged
``runs.csv``), 130 on Ctrl-C. ``python -m analysis.cli.sweep`` runs them
standalone.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.cli.common import (
    EXIT_INTERRUPTED,
    BadInput,
    add_executor_options,
    bad_input,
    open_pool,
    standalone,
)

__all__ = ["add_parsers", "cmd_analyze", "cmd_sweep", "main"]


def add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``sweep`` and ``analyze`` subcommands; each sets ``args.func``."""
    p = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep (grid/lhs/sobol/saltelli/morris) in parallel",
        description=(
            "Run every (design point, replication) of SWEEP.yaml, appending one line per "
            "finished run to DIR/runs.csv (safe to kill; continue with --resume), then "
            "write DIR/runs.parquet."
        ),
    )
    p.add_argument("spec", metavar="SWEEP.yaml", type=Path, help="sweep specification file")
    p.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=None,
        help="output directory (default: results/sweeps/<name>/)",
    )
    add_executor_options(p)
    p.add_argument(
        "--resume", action="store_true", help="continue a sweep in DIR, skipping recorded runs"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    p.set_defaults(func=cmd_sweep)

    a = subparsers.add_parser(
        "analyze",
        help="analyse a sweep directory (heatmaps, Sobol'/Morris indices, drivers table)",
        description="Write plots and tables into DIR/analysis/ and print the drivers of the crash depth.",
    )
    a.add_argument("dir", metavar="DIR", type=Path, help="sweep output directory")
    a.add_argument(
        "--metric",
        metavar="NAME",
        default=None,
        help="analyse only this metric and rank drivers by it (default: all; drivers of shock_return)",
    )
    a.set_defaults(func=cmd_analyze)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Handler of ``sweep``: run or resume the sweep; returns an exit code."""
    # Deferred so that `run.py --help` does not import pandas, scipy and SALib.
    from analysis.experiments.lock import hold_folder
    from analysis.experiments.spec import SpecError, load_spec
    from analysis.experiments.sweep import SweepError, check_sweep, run_sweep

    try:
        spec = load_spec(args.spec)
    except SpecError as err:
        return bad_input(str(err))
    out = args.out if args.out is not None else Path("results") / "sweeps" / spec.name
    try:
        # Validate every point and metric, and refuse a folder in use or one that cannot be
        # resumed, before writing anything or starting workers or a cluster.
        check_sweep(spec, out, args.resume)
        with contextlib.ExitStack() as stack:
            stack.enter_context(hold_folder(out, "sweep", SweepError))
            task_module = spec.task.partition(":")[0]
            pool = open_pool(stack, args, retries=spec.retries, preload=(task_module,))
            run_sweep(spec, out, executor=pool, resume=args.resume, progress=not args.no_progress)
    except (SpecError, SweepError, BadInput) as err:
        return bad_input(str(err))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    """Handler of ``analyze``: write DIR/analysis/; returns an exit code."""
    from analysis.experiments.sensitivity import analyze
    from analysis.experiments.sweep import SweepError

    try:
        analyze(args.dir, metric=args.metric)
    except SweepError as err:
        return bad_input(str(err))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m analysis.cli.sweep {sweep,analyze} ...``."""
    return standalone(
        add_parsers, "python -m analysis.cli.sweep", "moatshock parameter sweeps", argv
    )


if __name__ == "__main__":
    sys.exit(main())
