"""Command-line subcommand ``posterior``: ABC posterior of a calibration on a prior sweep.

``run.py`` wires it in through ``COMMAND_MODULES`` (``add_parsers(subparsers)``)::

    python run.py sweep scenarios/sweeps/deepseek_prior.yaml --workers 2 --out results/sweeps/deepseek_prior
    python run.py posterior results/sweeps/deepseek_prior scenarios/calibration/deepseek_msm.yaml

The handler returns an exit code: 0 on success, 2 on bad input (one line on stderr, nothing
written: a missing folder, a sweep that does not vary the calibration's parameters on its
box, a target metric that is not a column of the runs table). ``python -m
analysis.cli.posterior`` runs it standalone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from analysis.cli.common import bad_input, standalone

__all__ = ["add_parsers", "cmd_posterior", "main"]


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {value}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``posterior`` subcommand; it sets ``args.func``."""
    p = subparsers.add_parser(
        "posterior",
        help="ABC posterior of a calibration's parameters from a prior sweep's runs",
        description=(
            "Approximate Bayesian computation on the runs table of SWEEP_DIR (a sweep over the "
            "calibration's parameters within its bounds) with the real targets of "
            "CALIBRATION.yaml: rejection at a distance quantile (optionally with local-linear "
            "regression adjustment), parameter recovery by holding runs out. Writes posterior_samples.csv, "
            "identification.csv, correlation.csv, recovery.csv, corner.png, posterior.json "
            "and report.md into DIR (default SWEEP_DIR/posterior), as a whole."
        ),
    )
    p.add_argument("sweep", metavar="SWEEP_DIR", type=Path, help="a sweep's output folder")
    p.add_argument("spec", metavar="CALIBRATION.yaml", type=Path, help="calibration file")
    p.add_argument("--out", metavar="DIR", type=Path, default=None, help="output folder")
    p.add_argument(
        "--quantile",
        metavar="Q",
        type=_fraction,
        default=0.1,
        help="share of the runs accepted, nearest first (default 0.1)",
    )
    p.add_argument(
        "--adjust",
        action="store_true",
        help="local-linear regression adjustment (Beaumont 2002) of the accepted runs; "
        "default: plain rejection (both are reported, the other for comparison)",
    )
    p.add_argument(
        "--recovery",
        metavar="N",
        type=_count,
        default=100,
        help="runs held out in turn as pseudo-observed data (default 100; 0: none)",
    )
    p.add_argument("--seed", metavar="N", type=_count, default=0, help="which runs are held out")
    p.add_argument(
        "--include-validation",
        action="store_true",
        help="also compare the calibration's validation facts that are columns of the runs",
    )
    p.add_argument(
        "--exclude",
        metavar="METRIC",
        action="append",
        default=[],
        help="leave this target or validation fact out (repeatable)",
    )
    p.set_defaults(func=cmd_posterior)


def cmd_posterior(args: argparse.Namespace) -> int:
    """Handler of ``posterior``; returns an exit code."""
    from analysis.calibration.posterior import PosteriorError, run_posterior

    try:
        out = run_posterior(
            args.sweep,
            args.spec,
            out=args.out,
            quantile=args.quantile,
            adjust=args.adjust,
            n_recovery=args.recovery,
            seed=args.seed,
            include_validation=args.include_validation,
            exclude=args.exclude,
        )
    except PosteriorError as err:
        return bad_input(" ".join(str(err).split()))
    print((out / "report.md").read_text(encoding="utf-8"), end="")
    print(f"posterior: written to {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m analysis.cli.posterior posterior ...``."""
    return standalone(add_parsers, "python -m analysis.cli.posterior", "moatshock posterior", argv)


if __name__ == "__main__":
    sys.exit(main())
