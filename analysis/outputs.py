"""A run's folder, composed of registered outputs: the model's tables, the summary, the plots.

Each output is a function ``write(result, out, summary) -> [paths]`` registered once with
:func:`output`; :func:`write_run` (what ``run.py run`` calls) writes them all in registration
order. A new output is one decorated function (``docs/extending.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.metrics import MetricError, headline
from sim.io import write_json, write_tables
from sim.tables import RunResult

Writer = Callable[[RunResult, Path, dict[str, Any]], list[Path]]


@dataclass(frozen=True)
class Output:
    """One registered output of a run folder."""

    name: str
    description: str
    write: Writer


OUTPUTS: dict[str, Output] = {}


def output(name: str, description: str) -> Callable[[Writer], Writer]:
    """Decorator: register ``write(result, out, summary) -> [paths written]`` as an output."""

    def deco(fn: Writer) -> Writer:
        if name in OUTPUTS:
            raise ValueError(f"output {name!r} is registered twice")
        OUTPUTS[name] = Output(name, description, fn)
        return fn

    return deco


def summary_dict(result: RunResult) -> dict[str, Any]:
    """Content of ``summary.json``: scenario, seed, resolved parameters, headline metrics."""
    scn = result.scenario
    stopped = result.diagnostics.get("stopped")
    try:
        metrics = headline(result)
    except MetricError as exc:  # a run stopped by the guard before the shock date
        metrics = {"unavailable": str(exc)}
    return {
        "scenario": scn.name,
        "seed": result.seed,
        "status": "complete" if stopped is None else "stopped by the run-time guard",
        "parameters": scn.model_dump(mode="json"),
        "metrics": metrics,
        "reference": scn.reference.model_dump(mode="json"),
        "cross_section": _cross_section_summary(result),
        "vs_real": _vs_real(result),
        "diagnostics": result.diagnostics,
    }


def _cross_section_summary(result: RunResult) -> dict[str, Any]:
    from analysis.cross_section import summary

    try:
        return summary(result)
    except (OSError, ValueError) as exc:  # a damaged real-closes file: say so, keep the run
        return {"unavailable": str(exc)}


def _vs_real(result: RunResult) -> dict[str, Any]:
    """Volume multiples (sim and real), volume by investor type and last closes (vs_real)."""
    from analysis import vs_real

    try:
        return vs_real.summary(result)
    except MetricError as exc:  # a run stopped by the guard before the shock date
        return {"unavailable": str(exc)}


@output("tables", "daily, intraday, flows, beliefs and events CSV (sim.io.write_tables)")
def _tables(result: RunResult, out: Path, summary: dict[str, Any]) -> list[Path]:
    write_tables(result, out)
    return [
        out / f for f in ("daily.csv", "intraday.csv", "flows.csv", "beliefs.csv", "events.csv")
    ]


@output(
    "volume",
    "volume.csv (volume multiples, sim and real), volume_by_type.csv, closes.csv (vs real)",
)
def _volume(result: RunResult, out: Path, summary: dict[str, Any]) -> list[Path]:
    from analysis import vs_real

    return vs_real.write(result, out)


@output("summary", "summary.json: parameters as resolved, headline metrics, diagnostics")
def _summary(result: RunResult, out: Path, summary: dict[str, Any]) -> list[Path]:
    write_json(summary, out / "summary.json")
    return [out / "summary.json"]


@output(
    "cross_section",
    "cross_section.csv and plots/cross_section.png: simulated vs real shock-day return per "
    "company, Spearman, MAE (analysis.cross_section)",
)
def _cross_section(result: RunResult, out: Path, summary: dict[str, Any]) -> list[Path]:
    from analysis.cross_section import write

    return write(result, out)


@output("plots", "plots/*.png drawn from the files above (analysis.plots.run)")
def _plots(result: RunResult, out: Path, summary: dict[str, Any]) -> list[Path]:
    from analysis.plots.run import plot_run

    return list(plot_run(out))


def write_run(result: RunResult, out: Path, skip: Collection[str] = ()) -> dict[str, Any]:
    """Write every registered output (except ``skip``) into ``out``; returns the summary."""
    unknown = sorted(set(skip) - set(OUTPUTS))
    if unknown:
        raise ValueError(f"unknown output(s) {unknown}; known: {list(OUTPUTS)}")
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_dict(result)
    for o in OUTPUTS.values():
        if o.name not in skip:
            o.write(result, out, summary)
    return summary
