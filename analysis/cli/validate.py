"""Command-line subcommand ``validate``: stylized facts of a scenario against real returns.

``run.py`` wires it in through ``COMMAND_MODULES`` (``add_parsers(subparsers)``)::

    python run.py validate scenarios/calm_2024.yaml \\
        --real ../shared/market-data/close_adjusted/NVDA.csv --replications 5

The handler returns an exit code: 0 on success, 2 on bad input (one-line message on stderr),
130 on Ctrl-C. ``python -m analysis.cli.validate validate ...`` runs it standalone.
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
    positive_int,
    standalone,
)
from analysis.cli.run import add_override_options, overrides
from analysis.rundir import OutputError, check_target, default_out, results_folder

__all__ = ["add_parsers", "cmd_validate", "main"]


def add_parsers(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``validate`` subcommand; it sets ``args.func``."""
    from analysis.validation.validate import DEFAULT_END, DEFAULT_START

    p = subparsers.add_parser(
        "validate",
        help="compare the stylized facts of simulated and real daily returns",
        description=(
            "Run SCENARIO.yaml with N seeds, measure the stylized facts of one ticker's "
            "simulated daily returns (fat tails, no linear autocorrelation, volatility "
            "clustering, ...) and of a real price series, and write validation.json, report.md "
            "and plots/ into --out."
        ),
    )
    p.add_argument("scenario", metavar="SCENARIO.yaml", type=Path, help="scenario file")
    p.add_argument(
        "--real",
        metavar="CSV",
        type=Path,
        required=True,
        help="real daily prices (Date,Close or date,open,high,low,close,volume), e.g. "
        "../shared/market-data/close_adjusted/NVDA.csv",
    )
    p.add_argument(
        "--ticker",
        help="simulated ticker (default: the real file's name if the scenario has it, "
        "else the scenario's first asset)",
    )
    p.add_argument(
        "--replications", metavar="N", type=positive_int, default=5, help="seeds (default 5)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="base seed; replication seeds are spawned from it (default: the scenario's)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output folder (default results/validate/<name>/)"
    )
    p.add_argument(
        "--start", default=DEFAULT_START, help=f"first date of the real window ({DEFAULT_START})"
    )
    p.add_argument(
        "--end", default=DEFAULT_END, help=f"last date of the real window ({DEFAULT_END})"
    )
    add_executor_options(p)
    add_override_options(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Handler of ``validate``; returns an exit code."""
    from analysis.experiments.runner import RunnerError
    from analysis.validation.validate import (
        CHECKS,
        PRELOAD,
        ValidationError,
        check_validation,
        validate,
    )
    from sim.scenario import ScenarioError, load_scenario

    try:
        scn = load_scenario(args.scenario, overrides(args))
    except ScenarioError as exc:
        # pydantic may report several fields: keep the one-line promise
        lines = str(exc).splitlines()
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        return bad_input(lines[0] + more)
    try:
        out = args.out or default_out(scn.name, Path("results") / "validate")
        check_target(out)
        # Check the input before starting workers or a cluster.
        check_validation(scn, args.real, args.ticker, args.replications, args.start, args.end)
        with contextlib.ExitStack() as stack:
            tmp = stack.enter_context(results_folder(out, "validation"))
            res = validate(
                scn,
                args.real,
                tmp,
                ticker=args.ticker,
                replications=args.replications,
                seed=args.seed,
                start=args.start,
                end=args.end,
                executor=open_pool(stack, args, preload=PRELOAD, workers=args.replications),
                progress=not args.no_progress,
            )
    except (ValidationError, BadInput, OutputError) as exc:
        return bad_input(str(exc))
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    st = res["statistics"]
    print(f"\n{res['scenario']} {res['ticker']}: {res['replications']} replications vs {args.real}")
    print(f"{'statistic':32s}{'sim median':>12s}{'[min, max]':>22s}{'real':>10s}  check")
    for name, s in st.items():

        def f(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.4f}"

        rng = f"[{f(s['simulated_min'])}, {f(s['simulated_max'])}]"
        chk = ""
        if name in CHECKS:
            chk = {True: "pass", False: "MISS", None: "n/a"}[s["passed"]] + f" ({s['check']})"
        print(f"{name:32s}{f(s['simulated_median']):>12s}{rng:>22s}{f(s['real']):>10s}  {chk}")
    print(f"\nwrote {out}/validation.json, report.md, plots/")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m analysis.cli.validate validate ...``."""
    return standalone(add_parsers, "python -m analysis.cli.validate", "moatshock validation", argv)


if __name__ == "__main__":
    sys.exit(main())
