"""Shared pieces of the command-line modules (``run.py`` gathers their subcommands)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

#: Exit status of a command whose input (file, option) was refused; nothing was written.
EXIT_BAD_INPUT = 2
#: Exit status of a run the run-time guard stopped (the market broke down); the partial
#: results are written and marked as such.
EXIT_BREAKDOWN = 3
#: Exit status after Ctrl-C (128 + SIGINT); previous results are left intact.
EXIT_INTERRUPTED = 130


class BadInput(Exception):
    """Input a command refuses; its message is printed as ``error: ...`` (exit status 2)."""


def bad_input(message: str) -> int:
    """Print ``error: message`` to stderr; returns :data:`EXIT_BAD_INPUT`."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
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
        type=positive_int,
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


def open_pool(
    stack: contextlib.ExitStack,
    args: argparse.Namespace,
    retries: int = 2,
    preload: tuple[str, ...] = (),
    workers: int | None = None,
) -> Any:
    """The pool that :func:`add_executor_options`' options ask for, closed with ``stack``.

    ``workers`` caps the local pool (e.g. at the number of runs). Raises :class:`BadInput`
    if the Dask scheduler cannot be reached.
    """
    from analysis.experiments.runner import make_executor

    n = args.workers
    if workers is not None and args.cluster is None and args.scheduler is None:
        n = min(n or os.cpu_count() or 1, workers)
    try:
        return stack.enter_context(
            make_executor(
                workers=n,
                cluster=args.cluster,
                scheduler=args.scheduler,
                retries=retries,
                preload=preload,
            )
        )
    except OSError as err:
        raise BadInput(f"cannot reach Dask scheduler {args.scheduler}: {err}") from None


def standalone(
    add_parsers: Callable[[argparse._SubParsersAction], None],
    prog: str,
    description: str,
    argv: Sequence[str] | None = None,
) -> int:
    """Run one command module on its own (``python -m analysis.X_cli ...``); returns the exit code."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    add_parsers(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))
