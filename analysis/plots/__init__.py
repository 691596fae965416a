"""Plots, by what they show: one run (``run``), an ensemble's fan charts (``fans``), a
validation against real returns (``validation``), a sweep's analysis (``sensitivity``) and a
calibration's trace (``calibration``). Every figure is written atomically (:func:`save_figure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["cohort_color", "save_figure"]

#: One colour per investor type, taken in the cohort registry's order (matplotlib's tab10), so
#: a newly registered type gets its own colour without any list to edit.
_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#7f7f7f", "#e377c2", "#bcbd22", "#17becf",
)  # fmt: skip


def cohort_color(name: str) -> str:
    """The colour of investor type ``name`` in every plot and in the dashboard (hex RGB)."""
    from sim.cohorts import cohort_types

    names = [t.name for t in cohort_types()]
    i = names.index(name) if name in names else len(names)
    return _PALETTE[i % len(_PALETTE)]


def save_figure(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` as a PNG (110 dpi, tight), atomically; then close it."""
    import matplotlib.pyplot as plt

    from sim.io import atomic_write

    atomic_write(path, lambda t: fig.savefig(t, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
