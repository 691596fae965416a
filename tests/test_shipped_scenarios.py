"""Every shipped scenario loads and runs to the end at a small population."""

from __future__ import annotations

import numpy as np
import pytest

from sim.scenario import load_scenario
from sim.simulate import run_model
from tests.conftest import SCENARIOS

SHIPPED = sorted(p.name for p in SCENARIOS.glob("*.yaml") if p.name != "characteristics.yaml")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_runs(name):
    scn = load_scenario(SCENARIOS / name)
    over = {"population.size": 300}
    if (scn.calendar.end - scn.calendar.start).days > 31:
        # a long calendar (the calm year) is run over its first month only
        over["calendar.end"] = str(scn.calendar.start.replace(day=28))
        over["reference.shock_date"] = None
    model, result = run_model(load_scenario(SCENARIOS / name, over), seed=1)
    assert not model.running
    prices = result.daily["close"].to_numpy()
    assert np.all(np.isfinite(prices)) and np.all(prices > 0)
    assert len(result.daily) == len(model.ticks.sessions) * model.universe.n_assets
