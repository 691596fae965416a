"""The standard tasks of sweeps and calibrations: scenario + overrides + seed -> metrics.

:func:`evaluate` (the default) runs the scenario and computes the named metrics of
:mod:`analysis.metrics`; :func:`simulate_metrics` also answers stylized statistics of daily
returns (calibration targets). Both have the signature of the task protocol
(:mod:`analysis.experiments.protocol`). Importing this module imports the simulator, so that a
local pool that preloads it starts its workers with the simulator imported.
"""

from __future__ import annotations

from analysis.metrics import compute_metric, daily_log_returns
from analysis.validation.stylized import statistic
from sim.simulate import run_scenario

__all__ = ["evaluate", "simulate_metrics"]


def evaluate(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Run ``scenario`` (a path) with ``overrides`` at ``seed``; return ``{metric: value}``.

    Metric names are those of :func:`analysis.metrics.compute_metric`
    (``shock_return:NVDA``, ``dollar_loss:NVDA``, ``group_return:chips``, ...).
    """
    result = run_scenario(scenario, seed=seed, overrides=dict(overrides))
    return {m: compute_metric(result, m) for m in metrics}


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
