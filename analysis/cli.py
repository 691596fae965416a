"""Shared pieces of the command-line modules (``run.py`` gathers their subcommands)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


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
