"""Writing plain files atomically (temp file in the folder, then rename), and a run's tables.

A reader never sees a half-written file: a killed run leaves either the old file or the new.
The run's summary and plots are composed on top of this by :mod:`analysis.outputs`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.tables import RunResult


def atomic_write(path: Path, write: Callable[[str], None], suffix: str = "") -> None:
    """Call ``write(tmp_path)`` then move the finished file onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent
    )
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_csv(df: pd.DataFrame, path: Path, **kw: Any) -> None:
    atomic_write(path, lambda t: df.to_csv(t, index=False, **kw))


def write_json(obj: Any, path: Path) -> None:
    def w(t: str) -> None:
        with open(t, "w") as fh:
            json.dump(obj, fh, indent=2, default=str)
            fh.write("\n")

    atomic_write(path, w)


def write_tables(result: RunResult, out: Path) -> None:
    """Write the run's tables (daily, intraday, flows, beliefs, events CSV) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(
        result.daily.assign(date=result.daily["date"].dt.date),
        out / "daily.csv",
        float_format="%.6f",
    )
    write_csv(result.intraday, out / "intraday.csv", float_format="%.6f")
    write_csv(result.flows, out / "flows.csv", float_format="%.3f")
    write_csv(result.beliefs, out / "beliefs.csv", float_format="%.6f")
    write_csv(result.events, out / "events.csv")
