"""``run.py run`` and ``run.py plot``: one scenario to files, and redrawing its plots."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from analysis.cli.common import (
    EXIT_BREAKDOWN,
    BadInput,
    add_executor_options,
    bad_input,
    open_pool,
)
from analysis.rundir import OutputError, check_target, default_out, results_folder
from sim.scenario import ScenarioError, load_scenario, parse_override


def add_override_options(p: argparse.ArgumentParser) -> None:
    """``--set KEY.PATH=VALUE`` (repeatable) and ``--investors N``; read by :func:`overrides`."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override a scenario field, e.g. population.cohorts.momentum.share=0.1 (repeatable)",
    )
    p.add_argument(
        "--investors", type=int, help="population size (same as --set population.size=N)"
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run one scenario and write tables, summary and plots",
        description="Run a scenario YAML file. Writes daily.csv, intraday.csv, flows.csv, "
        "beliefs.csv, events.csv, summary.json and plots/ into --out.",
    )
    p.add_argument("scenario", type=Path, help="scenario YAML file")
    p.add_argument("--out", type=Path, help="output folder (default results/<scenario name>/)")
    p.add_argument("--seed", type=int, help="integer seed (default: the scenario's seed)")
    add_override_options(p)
    p.add_argument(
        "--replications",
        type=int,
        default=1,
        help="run N seeds and draw fan charts (median, 5-95%% band) with the real path; "
        "the runs go to --workers / --cluster / --scheduler",
    )
    add_executor_options(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_run)

    q = sub.add_parser(
        "plot",
        help="redraw the plots of a finished run from its files",
        description="Redraw plots/ of a run folder from daily.csv, intraday.csv and friends.",
    )
    q.add_argument("dir", type=Path, help="a folder written by 'run.py run'")
    q.set_defaults(func=cmd_plot)


def overrides(args: argparse.Namespace) -> dict:
    """The scenario overrides given by :func:`add_override_options`' options."""
    ov = dict(parse_override(s) for s in args.overrides)
    if args.investors is not None:
        ov["population.size"] = args.investors
    return ov


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def print_headline(summary: dict) -> None:
    """A short table: simulated shock-day figures next to the real ones the scenario knows."""
    m = summary["metrics"]
    sd = m["shock_date"]
    ref = summary.get("reference", {})
    real = ref.get("returns_pct", {})
    real_idx = ref.get("index_returns_pct", {})
    real_loss = ref.get("dollar_loss_usd", {})
    assets = {a["ticker"]: a for a in summary["parameters"]["universe"]["assets"]}
    sim = m["shock_day"]["returns_pct"]
    usd = m["shock_day"]["dollar_change_usd"]
    volm = m["shock_day"]["volume_multiple"]
    reb = m.get("rebound_pct", {})
    vm = summary.get("vs_real", {}).get("volume_multiple", {}).get(sd, {})
    print(f"\n{summary['scenario']} (seed {summary['seed']}): shock day {sd}")
    print(
        f"{'ticker':8s}{'sim %':>9s}{'real %':>9s}{'sim $bn':>10s}{'real $bn':>10s}{'vol x':>7s}"
        f"{'real x':>7s}{'next %':>8s}"
    )
    for t, r in sim.items():
        rr = real.get(t)
        cap0 = assets[t]["price"] * assets[t]["shares_outstanding"]
        rl = real_loss.get(t, cap0 * rr / 100 if rr is not None else None)
        print(
            f"{t:8s}{r:9.2f}{(f'{rr:9.2f}' if rr is not None else '        -')}"
            f"{usd[t] / 1e9:10.1f}{(f'{rl / 1e9:10.1f}' if rl is not None else '         -')}"
            f"{volm[t]:7.1f}{_x(vm.get(t, {}).get('real')):>7s}{reb.get(t, float('nan')):8.2f}"
        )
    for g, r in m["shock_day"]["index_returns_pct"].items():
        rr = real_idx.get(g)
        print(f"{'[' + g + ']':16s}{r:9.2f}{(f'{rr:9.2f}' if rr is not None else '        -')}")
    cs = summary.get("cross_section") or {}
    if cs.get("n"):
        print(
            f"cross-section ({cs['n']} companies): Spearman {cs['spearman']:.2f}, "
            f"MAE {cs['mae_points']:.1f} points (cross_section.csv)"
        )


def cmd_run(args: argparse.Namespace) -> int:
    from analysis.outputs import write_run
    from sim.guard import MarketBreakdown
    from sim.io import write_json
    from sim.simulate import run_model

    try:
        if args.replications < 1:
            raise OutputError("--replications must be at least 1")
        scn = load_scenario(args.scenario, overrides(args))
        out = args.out or default_out(scn.name)
        check_target(out)  # before any simulation: a bad --out costs nothing
    except (ScenarioError, OutputError) as exc:
        return bad_input(str(exc))
    if args.replications > 1:
        from analysis.experiments.ensemble import PRELOAD, run_ensemble
        from analysis.experiments.runner import RunnerError

        try:
            with contextlib.ExitStack() as stack:
                pool = open_pool(stack, args, preload=PRELOAD, workers=args.replications)
                with results_folder(out, "ensemble") as tmp:
                    run_ensemble(
                        scn,
                        tmp,
                        args.replications,
                        seed=args.seed,
                        progress=not args.no_progress,
                        executor=pool,
                    )
        except BadInput as exc:
            return bad_input(str(exc))
        except RunnerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {out}/")
        return 0
    t0 = time.perf_counter()
    stopped: MarketBreakdown | None = None
    try:
        with results_folder(out, "run") as tmp:
            try:
                _, result = run_model(scn, seed=args.seed, progress=not args.no_progress)
            except MarketBreakdown as exc:
                stopped, result = exc, exc.result
            wall = time.perf_counter() - t0
            summary = write_run(result, tmp)
            # timings differ from run to run: kept out of the files that are byte-identical
            write_json(
                {"wall_seconds": round(wall, 3), "investors": scn.population.size},
                tmp / "timing.json",
            )
    except ScenarioError as exc:  # refused while building the model: nothing is written
        return bad_input(str(exc))
    if stopped is not None:
        print(f"error: {stopped}", file=sys.stderr)
        print(f"partial results up to the stop (summary.json status: stopped) in {out}/")
        return EXIT_BREAKDOWN
    print_headline(summary)
    print(f"\nwrote {out}/ ({scn.population.size} investors, {wall:.1f} s)")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from analysis.plots.run import plot_run

    try:
        paths = plot_run(args.dir)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0
