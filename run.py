#!/usr/bin/env python
"""moatshock command line: run scenarios, sweep parameters, calibrate, validate, plot.

    python run.py run scenarios/deepseek_2025.yaml [--out DIR] [--seed N] [--set k.p=v ...]
    python run.py plot DIR
    python run.py sweep scenarios/sweeps/crash_drivers.yaml [--workers N | --cluster local]
    python run.py analyze DIR
    python run.py posterior SWEEP_DIR CALIBRATION.yaml [--quantile Q] [--recovery N]
    python run.py dashboard [SCENARIO.yaml] [--port N]

Each command has its own --help.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# every command module registers its subcommands through add_parsers(subparsers)
COMMAND_MODULES = [
    "analysis.cli.run",
    "analysis.cli.sweep",
    "analysis.cli.validate",
    "analysis.cli.calibrate",
    "analysis.cli.posterior",
    "analysis.cli.dashboard",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="moatshock: an agent-based market simulator of the 27 January 2025 "
        "DeepSeek sell-off",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # every command writes through temporary files or folders: nothing half-written stays
        print(
            f"\n{args.command}: interrupted; earlier results are left as they were", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
