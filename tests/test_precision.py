"""float32 belief arrays (half the memory at a million investors) change no headline result."""

from __future__ import annotations

import numpy as np

from analysis.metrics import compute_metric
from sim.simulate import run_scenario
from tests.conftest import SCENARIOS

METRICS = ["shock_return:NVDA", "shock_return:AAPL", "rebound:NVDA", "group_return:chips"]


def test_float32_beliefs_match_float64():
    runs = {
        dt: run_scenario(
            SCENARIOS / "deepseek_2025.yaml",
            seed=1,
            overrides={"population.size": 1000, "population.dtype": dt},
        )
        for dt in ("float64", "float32")
    }
    from sim.model import MoatshockModel
    from sim.scenario import load_scenario

    m = MoatshockModel(
        load_scenario(
            SCENARIOS / "deepseek_2025.yaml",
            {"population.size": 1000, "population.dtype": "float32"},
        )
    )
    assert m.beliefs.mu.dtype == np.float32 and m.beliefs.idio.dtype == np.float32
    for metric in METRICS:
        a, b = (compute_metric(runs[d], metric) for d in ("float64", "float32"))
        assert abs(a - b) < 0.05, metric  # percentage points
