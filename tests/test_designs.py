"""Sweep specs and designs: parsing, validation messages, design matrices, seeds, Sobol'."""

from __future__ import annotations

import itertools
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.experiments.designs import build_design
from analysis.experiments.protocol import task_seeds
from analysis.experiments.sensitivity import morris_indices, screening_indices, sobol_indices
from analysis.experiments.spec import SpecError, load_spec, parse_spec

PI = math.pi


def spec_of(**fields: object):
    data = {
        "name": "t",
        "base": "base.yaml",
        "task": "analysis.experiments.testfuncs:ishigami_task",
        "metrics": ["y"],
        "seed": 11,
    }
    data.update(fields)
    return parse_spec(data, "t.yaml")


def write_spec(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    (tmp_path / "base.yaml").write_text("name: base\n")
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# ------------------------------------------------------------------------------ designs


def test_grid_is_cartesian_product_first_parameter_slowest() -> None:
    spec = spec_of(
        parameters=[
            {"path": "a", "values": [1, 2, 3]},
            {"path": "b.c", "low": 0.0, "high": 1.0, "levels": 3},
            {"path": "mode", "values": ["calm", "panic"]},
        ],
        design="grid",
    )
    d = build_design(spec)
    assert d.unit is None and d.n_points == 18
    rows = list(d.points.itertuples(index=False, name=None))
    assert rows == list(itertools.product([1, 2, 3], [0.0, 0.5, 1.0], ["calm", "panic"]))
    assert d.points["a"].dtype == np.int64
    assert d.overrides(0) == {"a": 1, "b.c": 0.0, "mode": "calm"}
    assert all(type(v) in (int, float, str) for v in d.overrides(17).values())


def test_grid_log_scale_and_integer_rounding() -> None:
    spec = spec_of(
        parameters=[
            {"path": "log", "low": 1, "high": 1000, "scale": "log", "levels": 4},
            {"path": "int", "low": 0, "high": 10, "integer": True, "levels": 4},
            {"path": "fewer", "low": 0, "high": 2, "integer": True, "levels": 5},
        ],
        design="grid",
    )
    d = build_design(spec)
    np.testing.assert_allclose(sorted(d.points["log"].unique()), [1, 10, 100, 1000])
    assert sorted(d.points["int"].unique()) == [0, 3, 7, 10]
    # 5 levels on {0, 1, 2} collapse to the 3 distinct integers.
    assert sorted(d.points["fewer"].unique()) == [0, 1, 2]
    assert d.n_points == 4 * 4 * 3


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_space_filling_designs_within_bounds(method: str) -> None:
    params = [
        {"path": "lin", "low": -2.0, "high": 3.0},
        {"path": "log", "low": 0.01, "high": 100.0, "scale": "log"},
        {"path": "int", "low": 1, "high": 4, "integer": True},
        {"path": "cat", "values": ["a", "b"]},
    ]
    spec = spec_of(parameters=params, design={"method": method, "n": 64})
    d = build_design(spec)
    assert d.n_points == 64 and d.unit.shape == (64, 4)
    assert ((d.unit >= 0) & (d.unit < 1)).all()
    p = d.points
    assert p["lin"].between(-2, 3).all() and p["log"].between(0.01, 100).all()
    assert set(p["int"]) == {1, 2, 3, 4} and p["int"].dtype == np.int64
    assert set(p["cat"]) == {"a", "b"}
    # Log scale: uniform in log10 space, so about half the points lie below 1 = sqrt(0.01*100).
    assert 24 <= (p["log"] < 1).sum() <= 40
    # Integers get equal shares of the cube (floor, not round): 16 each for LHS/Sobol.
    assert p["int"].value_counts().tolist() == [16, 16, 16, 16]
    # Deterministic given the seed; a different seed gives another design.
    np.testing.assert_array_equal(build_design(spec).unit, d.unit)
    other = build_design(spec.model_copy(update={"seed": 12}))
    assert not np.array_equal(other.unit, d.unit)


def test_lhs_is_stratified() -> None:
    spec = spec_of(
        parameters=[{"path": "x", "low": 0, "high": 1}], design={"method": "lhs", "n": 40}
    )
    x = build_design(spec).points["x"].to_numpy()
    assert sorted(np.floor(x * 40).astype(int)) == list(range(40))


def test_distribution_parameters_use_quantile_function() -> None:
    spec = spec_of(
        parameters=[
            {"path": "n", "distribution": "normal", "mean": 5.0, "sd": 2.0},
            {"path": "ln", "distribution": "lognormal", "mu": 0.0, "sigma": 0.5},
            {"path": "u", "distribution": "uniform", "low": 1.0, "high": 2.0},
        ],
        design={"method": "lhs", "n": 2000},
    )
    p = build_design(spec).points
    assert abs(p["n"].mean() - 5.0) < 0.05 and abs(p["n"].std() - 2.0) < 0.1
    assert abs(np.median(p["ln"]) - 1.0) < 0.03 and (p["ln"] > 0).all()
    assert p["u"].between(1, 2).all()
    # Morris puts points at u = 0 and 1: truncation keeps the normal's values finite.
    params = [p.model_dump() for p in spec.parameters]
    morris = build_design(spec_of(parameters=params, design={"method": "morris", "n": 4}))
    assert np.isfinite(morris.points.to_numpy(dtype=float)).all()
    assert morris.points["n"].max() == pytest.approx(5.0 + 2.0 * 3.0902, abs=1e-3)


def test_saltelli_and_morris_sizes() -> None:
    params = [{"path": f"x{i}", "low": 0, "high": 1} for i in range(3)]
    first = build_design(spec_of(parameters=params, design={"method": "saltelli", "n": 8}))
    assert first.n_points == 8 * (3 + 2)
    second = build_design(
        spec_of(parameters=params, design={"method": "saltelli", "n": 8, "calc_second_order": True})
    )
    assert second.n_points == 8 * (2 * 3 + 2)
    morris = build_design(
        spec_of(parameters=params, design={"method": "morris", "n": 5, "levels": 4})
    )
    assert morris.n_points == 5 * (3 + 1)
    np.testing.assert_allclose(np.unique(morris.unit), [0, 1 / 3, 2 / 3, 1])


def test_task_seeds_depend_only_on_seed_and_index() -> None:
    s10 = task_seeds(5, 10)
    assert s10.dtype == np.int64 and (s10 >= 0).all() and len(set(s10)) == 10
    np.testing.assert_array_equal(task_seeds(5, 4), s10[:4])
    child = np.random.SeedSequence(5).spawn(10)[7]
    assert s10[7] == int(child.generate_state(1, dtype=np.uint64)[0] >> 1)
    assert not np.array_equal(task_seeds(6, 10), s10)


# ----------------------------------------------------------------------------- bad specs

GOOD = """\
name: ok
base: base.yaml
parameters:
  - {path: a.b, low: 0, high: 1, levels: 2}
design: grid
metrics: [y]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("- {path: a.b, ", "- {"), "bad.yaml: parameters.0.path: field required"),
        (
            GOOD.replace("levels: 2}", "levels: 2, colour: red}"),
            "bad.yaml: parameters.0.colour: extra inputs are not permitted",
        ),
        (
            GOOD.replace(", levels: 2}", "}"),
            "bad.yaml: parameters.0.levels: required for a grid design",
        ),
        (
            GOOD.replace("low: 0, high: 1", "low: 1, high: 0"),
            "bad.yaml: parameters.0: low (1.0) must be below high (0.0)",
        ),
        (
            GOOD.replace("low: 0, high: 1", "low: 0, high: 1, scale: log"),
            "bad.yaml: parameters.0: log scale needs low > 0",
        ),
        (
            GOOD.replace("low: 0, high: 1", "low: 0, high: 1, scale: cubic"),
            "bad.yaml: parameters.0.scale: input should be 'linear' or 'log'",
        ),
        (
            GOOD.replace(
                "{path: a.b, low: 0, high: 1, levels: 2}",
                "{path: a, distribution: normal, mean: 1}",
            ),
            "bad.yaml: parameters.0: normal distribution needs sd",
        ),
        (
            GOOD.replace("design: grid", "design: {method: saltelli, n: 30}"),
            "bad.yaml: design.n: must be a power of 2",
        ),
        (
            GOOD.replace("design: grid", "design: {method: lhs}"),
            "bad.yaml: design.n: field required",
        ),
        (
            GOOD.replace("design: grid", "design: factorial"),
            "bad.yaml: design.method: unknown design 'factorial'",
        ),
        (
            GOOD + "replications: 0\n",
            "bad.yaml: replications: input should be greater than or equal to 1",
        ),
        (GOOD + "retries: many\n", "bad.yaml: retries: input should be a valid integer"),
        (
            GOOD.replace("metrics: [y]", "metrics: [y, y]"),
            "bad.yaml: metrics: duplicate metric(s): y",
        ),
        (GOOD.replace("metrics: [y]\n", ""), "bad.yaml: metrics: field required"),
        (GOOD + "colour: red\n", "bad.yaml: colour: extra inputs are not permitted"),
        (GOOD + "task: not a dotted name\n", "bad.yaml: task: expected 'package.module:function'"),
        (GOOD.replace("base.yaml", "missing.yaml"), "bad.yaml: base: scenario file not found"),
        (
            GOOD.replace("metrics: [y]", "metrics: [y, a.b]"),
            "bad.yaml: metrics.1: 'a.b' is also a parameter path",
        ),
        (
            GOOD.replace("metrics: [y]", "metrics: [status]"),
            "bad.yaml: metrics.0: 'status' is also a reserved column name",
        ),
        ("- just\n- a list\n", "bad.yaml: expected a mapping of sweep fields at the top level"),
        ("name: [unclosed\n", "bad.yaml: invalid YAML (line 2, column 1)"),
    ],
)
def test_bad_specs_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write_spec(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.lower().startswith(expected.lower()), message


def test_good_spec_loads_and_resolves_base(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, GOOD, "good.yaml"))
    assert spec.base_path == (tmp_path / "base.yaml").resolve()
    assert (
        spec.task == "analysis.experiments.tasks:evaluate"
        and spec.retries == 2
        and spec.replications == 1
    )


@pytest.mark.parametrize(
    "name", ["momentum_vs_credibility.yaml", "crash_drivers.yaml", "deepseek_prior.yaml"]
)
def test_shipped_sweep_files_are_valid(name: str) -> None:
    path = Path(__file__).resolve().parents[1] / "scenarios" / "sweeps" / name
    spec = load_spec(path, check_base=False)
    assert spec.base_path.name == "deepseek_2025.yaml"
    d = build_design(spec)
    assert d.n_points >= 16 and yaml.safe_load(path.read_text())["name"] == spec.name


# -------------------------------------------------------------------------- sensitivity


def test_sobol_of_ishigami_matches_known_indices() -> None:
    """Ishigami a=7, b=0.1: S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244)."""
    from SALib.test_functions import Ishigami

    params = [{"path": f"x{i}", "low": -PI, "high": PI} for i in (1, 2, 3)]
    spec = spec_of(parameters=params, design={"method": "saltelli", "n": 2048}, seed=3)
    d = build_design(spec)
    y = Ishigami.evaluate(d.points.to_numpy(dtype=float), A=7.0, B=0.1)
    table, dropped = sobol_indices(spec, y)
    assert dropped == 0
    np.testing.assert_allclose(table["S1"], [0.3139, 0.4424, 0.0], atol=0.04)
    np.testing.assert_allclose(table["ST"], [0.5576, 0.4424, 0.2437], atol=0.04)
    assert (table["ST_conf"] > 0).all() and (table["ST_conf"] < 0.1).all()

    # A base sample whose output is missing is dropped as a whole block.
    y[5] = np.nan
    _, dropped = sobol_indices(spec, y)
    assert dropped == 1


def test_morris_ranks_linear_effects_per_range() -> None:
    params = [
        {"path": "a", "low": 0, "high": 2},
        {"path": "b", "low": 0, "high": 1},
        {"path": "c", "low": 5, "high": 6},
    ]
    spec = spec_of(parameters=params, design={"method": "morris", "n": 10, "levels": 4})
    d = build_design(spec)
    y = 10 * d.points["a"].to_numpy() + d.points["b"].to_numpy()
    table, _ = morris_indices(spec, d.unit, y)
    # Effects per full range: a spans 2 units at slope 10 -> 20; b -> 1; c -> 0.
    np.testing.assert_allclose(table["mu_star"], [20.0, 1.0, 0.0], atol=1e-9)


def test_screening_finds_the_driver() -> None:
    spec = spec_of(
        parameters=[{"path": "x", "low": 0, "high": 1}, {"path": "z", "low": 0, "high": 1}],
        design={"method": "sobol", "n": 256},
    )
    p = build_design(spec).points
    y = np.sin(6 * p["x"].to_numpy())  # non-monotonic: rank correlation alone would miss part
    s = screening_indices(p, y)
    assert s.loc["x", "eta2"] > 0.9 and s.loc["z", "eta2"] < 0.05
    assert abs(s.loc["z", "srrc"]) < 0.2


def test_all_overrides_are_plain_python() -> None:
    spec = spec_of(
        parameters=[
            {"path": "i", "low": 1, "high": 9, "integer": True},
            {"path": "s", "values": ["a", "b"]},
            {"path": "f", "low": 0, "high": 1},
        ],
        design={"method": "lhs", "n": 16},
    )
    d = build_design(spec)
    rows = d.all_overrides()
    assert rows == [d.overrides(i) for i in range(16)]
    assert {type(v) for r in rows for v in r.values()} == {int, str, float}


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(-1e6, 1e6),
    width=st.floats(1e-3, 1e6),
    scale=st.sampled_from(["linear", "log"]),
    integer=st.booleans(),
    method=st.sampled_from(["lhs", "sobol", "morris"]),
    seed=st.integers(0, 2**32),
)
def test_mapped_values_stay_in_range(
    low: float, width: float, scale: str, integer: bool, method: str, seed: int
) -> None:
    if scale == "log":
        low = abs(low) + 1e-3
    high = low + width
    if integer and math.floor(high) < math.ceil(low):
        high = math.ceil(low) + 1.0
    param = {"path": "p", "low": low, "high": high, "scale": scale, "integer": integer}
    design = {"method": method, "n": 8} if method != "morris" else {"method": "morris", "n": 2}
    x = build_design(spec_of(parameters=[param], design=design, seed=seed)).points["p"].to_numpy()
    assert (x >= low - 1e-9 * abs(low)).all() and (x <= high + 1e-9 * abs(high)).all()
    if integer:
        assert x.dtype == np.int64


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("sim.api:evaluate", "evaluate"),
        ("analysis.calibration:simulate_metrics", "simulate_metrics"),
        ("analysis.calibration.engine:simulate_metrics", "simulate_metrics"),
    ],
)
def test_renamed_task_names_still_resolve_with_a_warning(old: str, new: str) -> None:
    from analysis.experiments import tasks
    from analysis.experiments.protocol import resolve_task

    with pytest.warns(DeprecationWarning, match="was renamed"):
        assert resolve_task(old) is getattr(tasks, new)
