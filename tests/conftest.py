"""Shared fixtures: paths and small, cached simulator runs."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
MARKET_DATA = ROOT.parent / "shared" / "market-data"

SMALL = {"population.size": 1500}


@cache
def small_run(scenario: str, seed: int = 1, **overrides):
    """A cached run of a shipped scenario with a small population (fast behaviour tests)."""
    from sim.simulate import run_scenario

    ov = {**SMALL, **{k.replace("__", "."): v for k, v in overrides.items()}}
    return run_scenario(SCENARIOS / scenario, seed=seed, overrides=ov)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def dask_pool():
    """One real Dask LocalCluster (2 single-threaded worker processes, 2 retries) for the
    session: sweeps and ensembles run on it next to the local pool."""
    from analysis.experiments.runner import make_executor

    with make_executor(workers=2, cluster="local", retries=2) as pool:
        yield pool
