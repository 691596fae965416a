"""The standard tasks of sweeps and calibrations: scenario + overrides + seed -> metrics.

:func:`evaluate` (the default) runs the scenario and computes the named metrics of
:mod:`analysis.metrics`; :func:`simulate_metrics` also answers stylized statistics of daily
returns (calibration targets). Both have the signature of the task protocol
(:mod:`analysis.experiments.protocol`) and its up-front input check: every run's overrides are
applied to the scenario and validated, and every metric checked against it, before the first
run (:func:`check_scenario_inputs`). Importing this module imports the simulator, so that a
local pool that preloads it starts its workers with the simulator imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from analysis.experiments.protocol import TaskInputError, with_input_check
from analysis.metrics import check_metric, compute_metric, daily_log_returns
from analysis.validation.stylized import STATISTICS, statistic
from sim.scenario import Scenario, ScenarioError, apply_overrides, load_raw, validate
from sim.scenario.loading import short
from sim.simulate import run_scenario

__all__ = [
    "check_scenario_inputs",
    "evaluate",
    "metric_problem",
    "scenario_loader",
    "simulate_metrics",
]


def scenario_loader(path: str | Path) -> Callable[[Mapping[str, Any] | None], Scenario]:
    """``load(overrides)``: scenario ``path`` with ``overrides``, validated (as
    :func:`sim.scenario.load_scenario`, but the file and its ``extends:`` are read once)."""
    path = Path(path)
    raw = load_raw(path)

    def load(overrides: Mapping[str, Any] | None = None) -> Scenario:
        return validate(apply_overrides(raw, dict(overrides or {}), path.name), path.name)

    return load


def metric_problem(name: str, scenario: Scenario, stylized: bool = False) -> str | None:
    """Why a run of ``scenario`` cannot answer metric ``name`` (None if it can).

    A name of :mod:`analysis.metrics`, or with ``stylized`` also
    ``STATISTIC(daily_returns:X)`` (X a ticker or an index; what :func:`simulate_metrics`
    answers).
    """
    stat, paren, inner = name.partition("(")
    if not paren:
        return check_metric(name, scenario)
    if not stylized:
        return (
            f"{name!r}: stylized statistics need task analysis.experiments.tasks:simulate_metrics"
        )
    kind, _, arg = inner.removesuffix(")").partition(":")
    if not inner.endswith(")") or kind != "daily_returns":
        return f"expected STATISTIC(daily_returns:TICKER_OR_INDEX), got {name!r}"
    if stat not in STATISTICS:
        return f"unknown statistic {stat!r} (one of {', '.join(STATISTICS)})"
    known = scenario.tickers + list(scenario.indices)
    if arg not in known:
        return f"{arg!r} is neither a ticker nor an index of {scenario.name} ({known})"
    return None


def check_scenario_inputs(
    scenario: str,
    fixed: Mapping[str, object],
    points: Sequence[Mapping[str, object]],
    metrics: Sequence[str],
    stylized: bool = False,
) -> None:
    """The up-front check of :func:`evaluate` and :func:`simulate_metrics`.

    The scenario with ``fixed``, then with each point's overrides on top, is validated as a
    run would validate it (the file read once), and each metric checked against it; the first
    failure raises :class:`~analysis.experiments.protocol.TaskInputError` naming ``fixed``,
    ``point K (path = value, ...)`` and/or ``metrics.I``.
    """
    try:
        load = scenario_loader(scenario)
    except ScenarioError as err:
        raise TaskInputError("base", "; ".join(str(err).splitlines())) from None

    def check(overrides: Mapping[str, object], where: str, point: bool = True) -> None:
        try:
            scn = load(overrides)
        except (ScenarioError, ValueError, TypeError, KeyError) as err:
            raise TaskInputError(where, "; ".join(str(err).splitlines())) from None
        for i, m in enumerate(metrics):
            if why := metric_problem(m, scn, stylized):
                raise TaskInputError(f"{where}: metrics.{i}" if point else f"metrics.{i}", why)

    check(fixed, "fixed" if fixed else "base", point=False)
    seen: set[str] = set()
    for k, point in enumerate(points):
        key = repr(sorted(point.items(), key=lambda kv: kv[0]))
        if key in seen:  # replicated points (Morris, grids of values) are checked once
            continue
        seen.add(key)
        values = ", ".join(f"{p} = {short(v)}" for p, v in point.items())
        check({**fixed, **point}, f"point {k} ({values})")


@with_input_check(check_scenario_inputs)
def evaluate(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Run ``scenario`` (a path) with ``overrides`` at ``seed``; return ``{metric: value}``.

    Metric names are those of :func:`analysis.metrics.compute_metric`
    (``shock_return:NVDA``, ``dollar_loss:NVDA``, ``group_return:chips``, ...).
    """
    result = run_scenario(scenario, seed=seed, overrides=dict(overrides))
    return {m: compute_metric(result, m) for m in metrics}


@with_input_check(partial(check_scenario_inputs, stylized=True))
def simulate_metrics(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Like :func:`evaluate`, and also ``statistic(daily_returns:X)`` metrics.

    ``statistic`` is a name of :data:`analysis.validation.stylized.STATISTICS` and ``X`` a
    ticker or index; one run gives every metric (calibrations with stylized targets).
    """
    result = run_scenario(scenario, seed=seed, overrides=dict(overrides))
    out: dict[str, float] = {}
    for m in metrics:
        stat, paren, inner = m.partition("(")
        if paren and inner.endswith(")"):
            out[m] = statistic(stat, daily_log_returns(result, inner[:-1].partition(":")[2]))
        else:
            out[m] = compute_metric(result, m)
    return out
