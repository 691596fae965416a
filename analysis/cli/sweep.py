"""Command-line subcommands ``sweep`` and ``analyze``.

``run.py`` wires them in with::

    from analysis.cli.sweep import add_parsers
    sub = parser.add_subparsers(dest="command", required=True)
    add_parsers(sub)
    args = parser.parse_args()
    sys.exit(args.func(args))

Each handler returns an exit code: 0 on success, 2 on bad input (one-line message on
stderr, nothing written), 130 on Ctrl-C. ``python -m analysis.cli.sweep`` runs them
standalone.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.cli.common import bad_input, standalone

__all__ = ["add_parsers", "cmd_analyze", "cmd_sweep", "main"]

EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """``--workers N | --cluster local | --scheduler ADDRESS``: where the runs execute."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        metavar="N",
        type=_positive_int,
        default=None,
        help="local worker processes (default: CPU count)",
    )
    where.add_argument(
        "--cluster",
        choices=["local"],
        default=None,
        help="start a Dask LocalCluster of 2 single-threaded worker processes and run on it",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on an existing Dask cluster, e.g. tcp://host:8786",
    )


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
    from analysis.experiments.designs import SpecError, load_spec
    from analysis.experiments.sweep import SweepError, check_sweep, make_executor, run_sweep

    try:
        spec = load_spec(args.spec)
    except SpecError as err:
        return bad_input(str(err))
    out = args.out if args.out is not None else Path("results") / "sweeps" / spec.name
    try:
        if args.cluster is None and args.scheduler is None:
            run_sweep(
                spec, out, resume=args.resume, progress=not args.no_progress, workers=args.workers
            )
        else:
            # Validate (and refuse an existing runs.csv) before starting a cluster.
            check_sweep(spec, out, args.resume)
            with contextlib.ExitStack() as stack:
                try:
                    ex = stack.enter_context(
                        make_executor(
                            cluster=args.cluster, scheduler=args.scheduler, retries=spec.retries
                        )
                    )
                except OSError as err:
                    return bad_input(f"cannot reach Dask scheduler {args.scheduler}: {err}")
                run_sweep(spec, out, executor=ex, resume=args.resume, progress=not args.no_progress)
    except (SpecError, SweepError) as err:
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
