"""``run.py dashboard``: the browser dashboard on 127.0.0.1 (see :mod:`analysis.dashboard`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.cli.common import bad_input

DEFAULT_PORT = 8765


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dashboard",
        help="open the interactive dashboard in the browser (watch a run, compare, open folders)",
        description="Serve the interactive dashboard on 127.0.0.1 and print its URL. The page "
        "runs a scenario live with its key parameters as controls, compares two runs, and "
        "opens run and sweep folders.",
    )
    p.add_argument(
        "scenario",
        type=Path,
        nargs="?",
        help="scenario YAML shown first (default: scenarios/deepseek_2025.yaml)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 or a busy port: a free one)",
    )
    p.add_argument(
        "--market-data",
        type=Path,
        help="folder of real market data (default: the scenario's reference.market_data_dir)",
    )
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from analysis.dashboard.controls import read_scenario
    from analysis.dashboard.server import SETTINGS, bind, serve

    if not 0 <= args.port <= 65535:
        return bad_input(f"--port {args.port}: expected 0 to 65535")
    if args.scenario is not None:
        _, message = read_scenario(args.scenario)
        if message is not None:
            return bad_input(message)
        SETTINGS.scenario = args.scenario.resolve()
    if args.market_data is not None:
        if not args.market_data.is_dir():
            return bad_input(f"--market-data {args.market_data}: no such folder")
        SETTINGS.market_data = args.market_data.resolve()
    sock, note = bind(args.port)
    host, port = sock.getsockname()[:2]
    if note:
        print(note)
    print(f"moatshock dashboard: http://{host}:{port}/  (Ctrl+C stops it)", flush=True)
    try:
        serve(sock)
    except KeyboardInterrupt:
        pass
    return 0
