"""Shared pieces of the command-line modules (``run.py`` gathers their subcommands)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

#: Exit status of a command whose input (file, option) was refused; nothing was written.
EXIT_BAD_INPUT = 2
#: Exit status of a run the run-time guard stopped (the market broke down); the partial
#: results are written and marked as such.
EXIT_BREAKDOWN = 3
#: Exit status after Ctrl-C (128 + SIGINT); previous results are left intact.
EXIT_INTERRUPTED = 130


def bad_input(message: str) -> int:
    """Print ``error: message`` to stderr; returns :data:`EXIT_BAD_INPUT`."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


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
