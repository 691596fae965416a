"""Plots, by what they show: one run (``run``), an ensemble's fan charts (``fans``), a
validation against real returns (``validation``), a sweep's analysis (``sensitivity``) and a
calibration's trace (``calibration``). Every figure is written atomically (:func:`save_figure`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["save_figure"]


def save_figure(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` as a PNG (110 dpi, tight), atomically; then close it."""
    import matplotlib.pyplot as plt

    from sim.io import atomic_write

    atomic_write(path, lambda t: fig.savefig(t, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
