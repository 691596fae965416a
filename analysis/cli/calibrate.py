"""Command-line subcommand ``calibrate`` (method of simulated moments).

``run.py`` wires it in through ``COMMAND_MODULES`` (``add_parsers(subparsers)``)::

    python run.py calibrate scenarios/calibration/deepseek_msm.yaml --workers 2

The handler returns an exit code: 0 on success, 2 on bad input (one-line message on
stderr, nothing written), 130 on Ctrl-C (the evaluations finished so far stay in
``DIR/evaluations.csv``). ``python -m analysis.cli.calibrate`` runs it standalone.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.cli.common import bad_input, standalone
from analysis.cli.sweep import add_executor_options

__all__ = ["add_parsers", "cmd_calibrate", "main"]

EXIT_INTERRUPTED = 130


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
            "evaluations.csv (as they finish), trace.csv, fitted.json, fitted_scenario.yaml, "
            "report.md and trace.png into DIR."
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    p.set_defaults(func=cmd_calibrate)


def _bad_input(message: str) -> int:
    """:func:`analysis.cli.common.bad_input` on one line (calibration errors may span several)."""
    return bad_input(" ".join(message.split()))


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Handler of ``calibrate``; returns an exit code."""
    # Deferred so that `run.py --help` does not import scipy, pandas and the simulator.
    from analysis.calibration.engine import (
        EVALUATIONS_CSV,
        CalibrationError,
        check_output_dir,
        load_calibration,
        run_calibration,
    )
    from analysis.experiments.sweep import make_executor

    try:
        spec = load_calibration(args.spec)
    except CalibrationError as err:
        return _bad_input(str(err))
    out = args.out if args.out is not None else Path("results") / "calibration" / spec.name
    progress = not args.no_progress
    try:
        check_output_dir(out)
        with contextlib.ExitStack() as stack:
            try:
                ex = stack.enter_context(
                    make_executor(
                        workers=args.workers,
                        cluster=args.cluster,
                        scheduler=args.scheduler,
                        preload=("analysis.experiments.tasks", "analysis.calibration.engine"),
                    )
                )
            except OSError as err:
                return _bad_input(f"cannot reach Dask scheduler {args.scheduler}: {err}")
            run_calibration(spec, out, executor=ex, maxiter=args.maxiter, progress=progress)
    except CalibrationError as err:
        return _bad_input(str(err))
    except KeyboardInterrupt:
        print(
            f"calibrate {spec.name}: interrupted; finished evaluations are in "
            f"{out / EVALUATIONS_CSV}",
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
