"""Units of work of sweeps, calibrations and ensembles: scenario + overrides + seed -> metrics.

A task is any importable function ``task(scenario, overrides, seed, metrics) -> {metric:
value}``; experiment files name it as ``"package.module:function"``. :func:`evaluate` is the
default: it runs the scenario and computes the named metrics of :mod:`analysis.metrics`.
"""

from __future__ import annotations

from analysis.metrics import compute_metric
from sim.simulate import run_scenario


def evaluate(
    scenario: str, overrides: dict[str, object], seed: int, metrics: list[str]
) -> dict[str, float]:
    """Run ``scenario`` (a path) with ``overrides`` at ``seed``; return ``{metric: value}``.

    Metric names are those of :func:`analysis.metrics.compute_metric`
    (``shock_return:NVDA``, ``dollar_loss:NVDA``, ``group_return:chips``, ...).
    """
    result = run_scenario(scenario, seed=seed, overrides=dict(overrides))
    return {m: compute_metric(result, m) for m in metrics}
