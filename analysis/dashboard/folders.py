"""What a sweep folder holds, for the dashboard's "open a sweep folder" tab.

A sweep folder is written by ``run.py sweep`` (``sweep.json``, ``runs.csv`` and
``runs.parquet``) and, after ``run.py analyze``, holds ``analysis/``: per-point means, the
drivers ranking, screening, Sobol' or Morris indices as CSV and the heatmaps and index charts
as PNG (see :mod:`analysis.experiments.sensitivity`). Run folders are read by
:func:`analysis.dashboard.frame.frame_from_folder`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.experiments.sweep import RUNS_CSV, SWEEP_JSON, SweepError, read_runs

#: analysis/ tables shown first, in this order; the others follow by name.
TABLE_ORDER = ("drivers.csv", "point_means.csv")


@dataclass
class SweepView:
    """A sweep folder: its spec, runs table, analysis tables and images (empty if none)."""

    folder: Path
    name: str
    design: str
    parameters: list[str]
    metrics: list[str]
    fixed: dict
    counts: dict[str, int]
    runs: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)

    @property
    def analysed(self) -> bool:
        return (self.folder / "analysis").is_dir()


def open_sweep(folder: str | Path) -> SweepView:
    """Read a sweep folder (``SweepError``/``FileNotFoundError`` naming what is missing)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    if not (folder / SWEEP_JSON).is_file():
        raise FileNotFoundError(
            f"{folder}: not a sweep folder (no {SWEEP_JSON}; 'python run.py sweep SPEC.yaml' "
            "writes one)"
        )
    try:
        rec = json.loads((folder / SWEEP_JSON).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SweepError(f"{folder / SWEEP_JSON}: unreadable ({type(e).__name__})") from None
    if not isinstance(rec, dict):
        raise SweepError(f"{folder / SWEEP_JSON}: not a sweep record (expected a JSON object)")
    spec = rec.get("spec") or {}
    if (folder / RUNS_CSV).is_file():
        runs = read_runs(folder)
    elif (folder / "runs.parquet").is_file():
        runs = pd.read_parquet(folder / "runs.parquet")
    else:
        raise SweepError(f"{folder}: no runs yet ({RUNS_CSV} is missing)")
    status = runs["status"] if "status" in runs.columns else pd.Series(dtype=str)
    counts = {
        "tasks": int(rec.get("n_tasks", len(runs))),
        "recorded": len(runs),
        "ok": int((status == "ok").sum()),
        # the runner records "ok" or "error"; anything not ok is a failed run
        "failed": int((status != "ok").sum()),
    }
    view = SweepView(
        folder=folder,
        name=str(rec.get("name", folder.name)),
        design=str((spec.get("design") or {}).get("method", "")),
        parameters=[p["path"] for p in spec.get("parameters", [])],
        metrics=list(spec.get("metrics", [])),
        fixed=dict(spec.get("fixed") or {}),
        counts=counts,
        runs=runs,
    )
    adir = folder / "analysis"
    if adir.is_dir():
        csvs = sorted(adir.glob("*.csv"), key=lambda p: (p.name not in TABLE_ORDER, p.name))
        for p in csvs:
            view.tables[p.name] = pd.read_csv(p)
        # Sobol and Morris charts and heatmaps first: they answer "what drives the crash"
        view.images = sorted(
            adir.glob("*.png"),
            key=lambda p: (not p.name.startswith(("sobol", "morris", "heatmap")), p.name),
        )
    return view


def analyse(folder: Path) -> None:
    """Write ``folder/analysis/`` as ``run.py analyze`` does."""
    from analysis.experiments.sensitivity import analyze

    analyze(folder)
