"""A hand-built market for the cohort unit tests.

The deepseek_2025 market with 600 investors, no news at all, a three-session calendar, and
the model stopped before its first trade: every investor holds its neutral position and every
belief-driven investor sits at its own target. A test then moves one thing (a belief, a price
path, volatility, a fund flow) and asks a single cohort what it orders.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import MoatshockModel
from sim.scenario import load_scenario
from tests.conftest import SCENARIOS

QUIET = {
    "population.size": 600,
    "news": [],
    "news_flow.rate_per_day": 0.0,
    "news_flow.idiosyncratic_rate_per_day": 0.0,
    # starts on a day the committed derived table covers (tiny_week's), so the tests also run
    # without ../shared/market-data
    "calendar.start": "2025-01-25",
    "calendar.end": "2025-01-29",
    "reference.shock_date": None,
}


def quiet_model(**overrides: object) -> MoatshockModel:
    """The quiet market, stopped at its first trading tick (nothing traded yet)."""
    ov = {**QUIET, **{k.replace("__", "."): v for k, v in overrides.items()}}
    model = MoatshockModel(load_scenario(SCENARIOS / "deepseek_2025.yaml", ov), seed=3)
    while model.ticks.kind[model.tick] == 0:  # closed ticks: nothing to trade
        model.step()
    model.tick += 1  # the trading tick being decided (as in MoatshockModel.step)
    model.wealth_update()
    return model


def asset(model: MoatshockModel, ticker: str) -> int:
    return model.universe.tickers.index(ticker)


def shift_beliefs(model: MoatshockModel, factor: str, amount: float) -> None:
    """Move every investor's belief about ``factor`` by ``amount`` (factor units)."""
    k = model.universe.factor_names.index(factor)
    model.beliefs.mu[:, k] += amount
    model.beliefs._refresh(slice(None))


def record_prices(model: MoatshockModel, log_moves: np.ndarray, steps: int) -> None:
    """Let ``steps`` trading steps pass in which every price moves by ``log_moves`` per step."""
    m = model.market
    for _ in range(steps):
        m.record(m.lp + log_moves, ewma_alpha=0.05)
    model.wealth_update()


@pytest.fixture
def model() -> MoatshockModel:
    return quiet_model()
