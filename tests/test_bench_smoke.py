"""Smoke test of benchmarks/bench_step.py: every measurement runs and yields the record schema.

No timing thresholds: this only checks that the benchmark works at a tiny size (N = 1000,
two steps) and that its records, summary and JSON layout are what the README documents.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks import bench_step

N = 1000
STEPS = 2


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [
        bench_step.measure_simulator(N, STEPS),
        bench_step.measure_mesa_reference(N, STEPS),
        bench_step.measure_numpy_bound(N, repeats=STEPS),
    ]


def test_records_have_the_schema(records: list[dict]) -> None:
    for rec, kind in zip(records, bench_step.KINDS, strict=True):
        bench_step.validate_record(rec)
        assert rec["kind"] == kind
        assert rec["investors"] == N
        # the step, the Mesa reference and the bound run on the 10-asset benchmark scenario
        assert rec["assets"] == 10
        assert rec["steps"] == STEPS
        assert math.isclose(rec["investor_steps_per_s"], N / rec["seconds_per_step"])
        json.dumps(rec)  # plain JSON types only


def test_validate_record_rejects_a_broken_record(records: list[dict]) -> None:
    bad = dict(records[0])
    del bad["peak_rss_mb"]
    with pytest.raises(ValueError, match="peak_rss_mb"):
        bench_step.validate_record(bad)
    with pytest.raises(ValueError, match="kind"):
        bench_step.validate_record({**records[0], "kind": "other"})


def test_simulator_times_trading_ticks_only() -> None:
    model = bench_step.build_model(N)
    closed = bench_step.advance_to_trading(model)
    assert closed > 0
    assert model.ticks.kind[model.tick] != 0  # the next tick trades


def test_mesa_reference_does_the_work() -> None:
    from benchmarks.mesa_reference import Investor, MesaReferenceModel

    sim = bench_step.build_model(N)
    bench_step.advance_to_trading(sim)
    ref = MesaReferenceModel(sim, seed=1)
    assert len(ref.agents) == N
    assert all(isinstance(a, Investor) for a in ref.agents)
    lp0 = ref.market.lp.copy()
    for _ in range(STEPS):
        ref.step()
    # prices moved, and every trade has a counterparty: shares outstanding are all held
    assert ref.market.k == sim.market.k + STEPS
    assert not (ref.market.lp == lp0).all()
    held = sum(np.asarray(a.holdings) for a in ref.agents)
    assert held == pytest.approx(sim.universe.shares, rel=1e-9)


def test_summary_and_outputs(records: list[dict], tmp_path) -> None:
    summary = bench_step.summarise(records)
    assert set(summary["simulator_over_mesa"]) == {str(N)}
    assert summary["simulator_over_mesa"][str(N)] > 0
    assert summary["step_over_bound"][str(N)] > 0
    assert summary["exponent"] is None  # needs two sizes >= 1e4
    assert "targets" not in summary  # only with a 1e6 run
    table = bench_step.format_table(records)
    assert all(k in table for k in bench_step.KINDS)
    bench_step.format_summary(summary)
    payload = {"meta": bench_step.machine_meta(quick=True), "records": records, "summary": summary}
    assert {"numpy", "mesa", "python", "date", "nproc"} <= set(payload["meta"])
    json.loads(json.dumps(payload))
    png = bench_step.plot_scaling(records, tmp_path / "scaling.png")
    assert png.stat().st_size > 0


def test_fit_exponent_of_linear_records() -> None:
    recs = [
        {"kind": "simulator", "investors": n, "seconds_per_step": 1e-6 * n}
        for n in (1_000, 10_000, 100_000, 1_000_000)
    ]
    assert bench_step.fit_exponent(recs) == pytest.approx(1.0)


def test_child_process_record() -> None:
    rec = bench_step.run_child("numpy_bound", N, STEPS)
    bench_step.validate_record(rec)
    assert rec["kind"] == "numpy_bound" and rec["investors"] == N


def test_week_record_times_the_simulation_alone() -> None:
    rec = bench_step.measure_week(300)
    bench_step.validate_record(rec)
    assert rec["kind"] == "week" and rec["steps"] > rec["trading_steps"] > 0
    assert {"week_s", "build_s", "collect_s"} <= set(rec)
    summary = bench_step.summarise([rec])
    assert summary["week"]["300"]["ticks"] == rec["steps"]


def test_benchmark_scenario_has_the_ten_assets_and_the_week_both_universes() -> None:
    """The step, bound and Mesa ratios run on the 10-asset variant; the week on both."""
    assert bench_step.build_model(N).universe.n_assets == 10
    rec = bench_step.measure_week(300, bench_step.SHIPPED, "week_shipped")
    bench_step.validate_record(rec)
    assert rec["kind"] == "week_shipped" and rec["assets"] == 29
    summary = bench_step.summarise([rec])
    assert summary["week_shipped"]["300"]["assets"] == 29
    kinds = {k for k, *_ in bench_step.plan(quick=True, week=True)}
    assert {"week", "week_shipped"} <= kinds


def test_targets_of_speed_ii() -> None:
    """Targets appear with what they need; the Mesa ratio is a minimum, the rest maxima."""
    recs = [
        {
            "kind": "simulator",
            "investors": n,
            "seconds_per_step": 1e-7 * n,
            "cpu_s_per_step": 1e-7 * n,
            "investor_steps_per_s": 1e7,
            "peak_rss_mb": 1e-4 * n,
        }
        for n in (10_000, 1_000_000, 10_000_000)
    ] + [
        {
            "kind": "numpy_bound",
            "investors": 1_000_000,
            "seconds_per_step": 0.05,
            "cpu_s_per_step": 0.05,
            "investor_steps_per_s": 2e7,
            "peak_rss_mb": 1.0,
        },
        {
            "kind": "mesa_reference",
            "investors": 10_000,
            "seconds_per_step": 1.0,
            "investor_steps_per_s": 1e4,
            "peak_rss_mb": 1.0,
        },
    ]
    t = bench_step.summarise(recs)["targets"]
    assert t["step_over_bound_at_1e6"]["met"] and t["step_over_bound_at_1e6"]["max"] == 5
    assert t["exponent_1e4_1e7"]["value"] == pytest.approx(1.0) and t["exponent_1e4_1e7"]["met"]
    assert t["peak_rss_mb_at_1e7"]["met"]
    assert t["simulator_over_mesa_at_1e4"] == {"value": 1000.0, "min": 300.0, "met": True}
    assert "week_seconds_at_1e6" not in t
    bench_step.format_summary(bench_step.summarise(recs))


def test_pams_reference_or_a_clear_skip() -> None:
    if not bench_step.pams_available():
        assert "PAMS reference skipped" in _skip_message()
        return
    rec = bench_step.measure_pams(50, 2)
    bench_step.validate_record(rec)
    assert rec["kind"] == "pams" and rec["steps"] == 2 and rec["assets"] == bench_step.PAMS_MARKETS


def _skip_message() -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        bench_step.main(["--pams", "--quick", "--repeats", "0"])
    return out.getvalue()
