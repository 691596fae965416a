"""Command-line subcommand ``calibrate`` (method of simulated moments).

``run.py`` wires it in through ``COMMAND_MODULES`` (``add_parsers(subparsers)``)::

    python run.py calibrate scenarios/calibration/deepseek_msm.yaml --workers 2

The handler returns an exit code: 0 on success, 2 on bad input (one-line message on
stderr, nothing written), 130 on Ctrl-C (the runs finished so far stay in ``DIR/runs.csv``;
``--resume`` continues from them). ``python -m analysis.cli.calibrate`` runs it standalone.
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

__all__ = ["add_parsers", "cmd_calibrate", "main"]


def _count(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
    return value


def add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``calibrate`` subcommand; it sets ``args.func``."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit scenario parameters to real prices (simulated moments, differential evolution)",
        description=(
            "Fit the parameters of CALIBRATION.yaml to its real targets by the method of "
            "simulated moments, with differential evolution whose evaluations run in parallel "
            "(common random numbers: the same replication seeds at every evaluation). Writes "
            "runs.csv and evaluations.csv (as they finish; safe to kill, continue with "
            "--resume), trace.csv, fitted.json, fitted_scenario.yaml, report.md and trace.png "
            "into DIR."
        ),
    )
    p.add_argument("spec", metavar="CALIBRATION.yaml", type=Path, help="calibration file")
    p.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=None,
        help="output directory (default: results/calibration/<name>/)",
    )
    add_executor_options(p)
    p.add_argument(
        "--maxiter",
        metavar="N",
        type=lambda s: _count(s, 0),
        default=None,
        help="generations after the initial population (overrides the file's optimizer.maxiter)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the calibration in DIR (same spec): recorded runs are not run again",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    p.set_defaults(func=cmd_calibrate)


def _bad_input(message: str) -> int:
    """:func:`analysis.cli.common.bad_input` on one line (calibration errors may span several)."""
    return bad_input(" ".join(message.split()))


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Handler of ``calibrate``; returns an exit code."""
    # Deferred so that `run.py --help` does not import scipy, pandas and the simulator.
    from analysis.calibration.evaluations import RUNS_CSV
    from analysis.calibration.objective import task_module
    from analysis.calibration.run import apply_maxiter, check_output_dir, run_calibration
    from analysis.calibration.spec import CalibrationError, load_calibration
    from analysis.experiments.lock import hold_folder

    try:
        spec = apply_maxiter(load_calibration(args.spec), args.maxiter)
    except CalibrationError as err:
        return _bad_input(str(err))
    out = args.out if args.out is not None else Path("results") / "calibration" / spec.name
    progress = not args.no_progress
    try:
        # Refuse a folder that holds another calibration, is in use, or cannot be resumed,
        # before writing anything or starting workers or a cluster.
        check_output_dir(out, args.resume, spec)
        with contextlib.ExitStack() as stack:
            stack.enter_context(hold_folder(out, "calibration", CalibrationError))
            pool = open_pool(stack, args, retries=spec.retries, preload=(task_module(spec),))
            run_calibration(spec, out, executor=pool, progress=progress, resume=args.resume)
    except (CalibrationError, BadInput) as err:
        return _bad_input(str(err))
    except KeyboardInterrupt:
        print(
            f"calibrate {spec.name}: interrupted; finished runs are in {out / RUNS_CSV}, "
            "rerun with --resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m analysis.cli.calibrate calibrate ...``."""
    return standalone(
        add_parsers, "python -m analysis.cli.calibrate", "moatshock calibration", argv
    )


if __name__ == "__main__":
    sys.exit(main())
