"""A run's folder: the model's tables (:func:`sim.io.write_tables`), its summary, its plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis.metrics import headline
from sim.io import write_json, write_tables
from sim.tables import RunResult


def summary_dict(result: RunResult) -> dict[str, Any]:
    """Content of ``summary.json``: scenario, seed, resolved parameters, headline metrics."""
    scn = result.scenario
    return {
        "scenario": scn.name,
        "seed": result.seed,
        "parameters": scn.model_dump(mode="json"),
        "metrics": headline(result),
        "reference": scn.reference.model_dump(mode="json"),
        "diagnostics": result.diagnostics,
    }


def write_run(result: RunResult, out: Path, plots: bool = True) -> dict[str, Any]:
    """Write the run's tables, ``summary.json`` and (unless ``plots=False``) its plots."""
    write_tables(result, out)
    summary = summary_dict(result)
    write_json(summary, out / "summary.json")
    if plots:
        from analysis.plots.run import plot_run

        plot_run(out)
    return summary
