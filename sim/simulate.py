"""Running scenarios from Python: one run to the end, and its tables.

``run_scenario`` drives a :class:`~sim.model.MoatshockModel` through every tick and turns what
Mesa's ``DataCollector`` recorded into plain tables (:class:`~sim.tables.RunResult`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

import pandas as pd
from tqdm.auto import tqdm

from sim.model import MoatshockModel
from sim.scenario import Scenario, apply_overrides, load_scenario, validate
from sim.tables import RunResult, collect_tables


def run_model(
    scenario: Scenario, seed: int | None = None, progress: bool = False
) -> tuple[MoatshockModel, RunResult]:
    """Run a validated scenario to the end; returns the model and its tables."""
    model = MoatshockModel(scenario, seed=seed)
    n_ticks = len(model.ticks)
    with tqdm(
        total=n_ticks, disable=not progress, desc=scenario.name, unit="tick", leave=False
    ) as bar:
        while model.running:
            model.step()
            bar.update(1)
    tables = collect_tables(model)
    diag = {
        "ticks": n_ticks,
        "trading_steps": model.n_trading,
        "investors": scenario.population.size,
        "clearings_at_price_limit": model.at_limit_count,
        "max_auction_approximation_adv": model.max_abs_quote_error,
    }
    for c in model.cohorts.values():
        diag.update(c.diagnostics())
    result = RunResult(scenario, model.run_seed, diagnostics=diag, **tables)
    return model, result


def run_scenario(
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
) -> RunResult:
    """Load (if a path), override, validate and run a scenario."""
    scn = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, overrides)
    if isinstance(scenario, Scenario) and overrides:
        scn = validate(apply_overrides(scenario.model_dump(mode="json"), overrides, "<overrides>"))
    return run_model(scn, seed=seed, progress=progress)[1]


def shock_date(result: RunResult) -> dt.date:
    """The scenario's shock date, or the session with the largest absolute index move."""
    ref = result.scenario.reference.shock_date
    if ref is not None:
        return ref
    d = result.daily
    worst = d.groupby("date")["return_pct"].apply(lambda s: s.abs().mean()).idxmax()
    return pd.Timestamp(cast(dt.datetime, worst)).date()  # the "date" column holds datetimes
