"""Running scenarios from Python: one run to the end, and its tables.

``run_scenario`` drives a :class:`~sim.model.MoatshockModel` through every tick and turns what
Mesa's ``DataCollector`` recorded into plain tables (:class:`~sim.tables.RunResult`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from sim.guard import MarketBreakdown
from sim.model import MoatshockModel
from sim.scenario import Scenario, apply_overrides, load_scenario, validate
from sim.tables import RunResult, collect_tables


def run_model(
    scenario: Scenario, seed: int | None = None, progress: bool = False
) -> tuple[MoatshockModel, RunResult]:
    """Run a validated scenario to the end; returns the model and its tables.

    If the run-time guard stops the run, :class:`~sim.guard.MarketBreakdown` is raised with
    the tables up to the stop in its ``result`` (``diagnostics["stopped"]`` says why).
    """
    model = MoatshockModel(scenario, seed=seed)
    n_ticks = len(model.ticks)
    stopped: MarketBreakdown | None = None
    with tqdm(
        total=n_ticks, disable=not progress, desc=scenario.name, unit="tick", leave=False
    ) as bar:
        try:
            while model.running:
                model.step()
                bar.update(1)
        except MarketBreakdown as exc:
            stopped = exc
    tables = collect_tables(model)
    diag: dict[str, Any] = {
        "ticks": n_ticks,
        "trading_steps": model.n_trading,
        "investors": scenario.population.size,
        "clearings_at_price_limit": model.at_limit_count,
        "max_auction_approximation_adv": model.max_abs_quote_error,
    }
    for c in model.cohorts.values():
        diag.update(c.diagnostics())
    if stopped is not None:
        diag["stopped"] = str(stopped)
    result = RunResult(scenario, model.run_seed, diagnostics=diag, **tables)
    if stopped is not None:
        stopped.result = result  # the tables up to the stop, for the caller to keep
        raise stopped
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
