"""Property tests over the scenario schema and the model (Hypothesis).

Any valid scenario the strategies generate runs to the end with finite, positive prices or
stops with the run-time guard's message; any invalid one is refused with a ScenarioError
naming the field (and, on the command line, exit 2 with nothing written).
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import numpy as np
import pytest
from annotated_types import Ge, Gt, Le, Lt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import run as cli_main
from sim.guard import MarketBreakdown
from sim.scenario import ScenarioError, load_raw, load_scenario
from sim.scenario.doc import field_paths
from sim.simulate import run_model
from tests.conftest import SCENARIOS

BASE = SCENARIOS / "deepseek_2025.yaml"
TINY = {
    "population.size": 150,
    "calendar.start": "2025-01-25",
    "calendar.end": "2025-01-27",
    "news_flow.rate_per_day": 1.0,
    # the weekend's and Monday's news (the others fall outside this calendar)
    "news": [e for e in load_raw(BASE)["news"] if str(e["time"]) >= "2025-01-25"],
}
# fields whose size sets the cost of a run (kept small above) or its layout
SKIP = {"population.size", "price_formation.bins", "seed", "calendar.step_minutes"}


def _bounds(info: Any) -> tuple[float | None, float | None, bool]:
    lo = hi = None
    for m in info.metadata:
        if isinstance(m, Ge | Gt):
            lo = float(m.ge if isinstance(m, Ge) else m.gt)
        if isinstance(m, Le | Lt):
            hi = float(m.le if isinstance(m, Le) else m.lt)
    return lo, hi, info.annotation is int


def _numeric_fields() -> dict[str, tuple[float | None, float | None, bool]]:
    out = {}
    scn = load_scenario(BASE)
    dumped = scn.model_dump()
    for path, info in field_paths():
        if "[]" in path or path in SKIP or info.annotation not in (float, int):
            continue
        parts = path.split(".")
        node: Any = dumped
        for p in parts:  # only fields present in the base (cohort types it has)
            node = node.get(p) if isinstance(node, dict) else None
        if node is None:
            continue
        lo, hi, is_int = _bounds(info)
        if lo is not None and hi is not None:
            out[path] = (lo, hi, is_int)
    return out


FIELDS = _numeric_fields()


@st.composite
def valid_values(draw) -> dict[str, Any]:
    """A few numeric fields set to values inside their declared ranges."""
    chosen = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=4, unique=True))
    out: dict[str, Any] = {}
    for path in chosen:
        lo, hi, is_int = FIELDS[path]
        if is_int:
            out[path] = draw(st.integers(int(math.ceil(lo)), int(min(hi, lo + 1000))))
        else:
            out[path] = draw(st.floats(lo, hi, exclude_min=True, exclude_max=True, allow_nan=False))
    return out


@st.composite
def invalid_values(draw) -> tuple[str, Any]:
    """One numeric field set outside its range, to a non-finite number, or to text."""
    path = draw(st.sampled_from(sorted(FIELDS)))
    lo, hi, _ = FIELDS[path]
    bad = draw(
        st.sampled_from(
            [math.inf, -math.inf, math.nan, hi * 10 + 1, lo - abs(lo) - 1, "lots", [1, 2]]
        )
    )
    return path, bad


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=valid_values())
def test_valid_scenarios_run_with_finite_positive_prices_or_stop_cleanly(values):
    try:
        scn = load_scenario(BASE, {**TINY, **values})
    except ScenarioError as exc:  # a cross-field rule (e.g. margins) refused the combination
        assert str(exc).startswith("deepseek_2025.yaml: ")
        assert "must" in str(exc) or "exceed" in str(exc), str(exc)
        return
    try:
        _, result = run_model(scn, seed=1)
    except ScenarioError as exc:  # refused when the model is built (e.g. no shares left)
        assert "population.cohorts" in str(exc), str(exc)
        return
    except MarketBreakdown as exc:
        assert "broke down" in str(exc)
        assert exc.result is not None
        return
    prices = result.intraday["price"].to_numpy()
    assert np.all(np.isfinite(prices)) and np.all(prices > 0)


@settings(max_examples=40, deadline=None)
@given(bad=invalid_values())
def test_invalid_values_are_refused_naming_the_field(bad):
    path, value = bad
    with pytest.raises(ScenarioError) as err:
        load_scenario(BASE, {**TINY, path: value})
    field = path.split(".")[-1]
    assert field in str(err.value)


@settings(max_examples=8, deadline=None)
@given(bad=invalid_values())
def test_command_line_refuses_invalid_values_with_exit_2_and_writes_nothing(bad, tmp_path_factory):
    path, value = bad
    if isinstance(value, float) and not math.isfinite(value):
        text = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    else:
        text = str(value)
    out = tmp_path_factory.mktemp("cli") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        code = cli_main.main(["run", str(BASE), "--set", f"{path}={text}", "--out", str(out)])
    err = buf.getvalue()
    assert code == 2 and err.startswith("error: ") and path.split(".")[-1] in err
    assert not out.exists()
