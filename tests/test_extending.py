"""docs/extending.md: every worked example runs as written.

The investor type is added as docs/extending.md says, as new files only, to a copy of the
model package; the metric and the output are executed in their registry's module and removed
again afterwards.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from sim.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS, small_run

DOC = ROOT / "docs" / "extending.md"


def _blocks() -> dict[str, str]:
    """Code blocks of the doc keyed by their first line (``# file: X`` or ``# add to: X``)."""
    out = {}
    for body in re.findall(r"```(?:python|yaml)\n(.*?)```", DOC.read_text(), re.S):
        first, _, rest = body.partition("\n")
        if first.startswith("# file:") or first.startswith("# add to:"):
            out[first[2:].strip()] = rest
    return out


def test_doc_has_every_example():
    keys = set(_blocks())
    assert {
        "file: sim/cohorts/contrarian.py",
        "file: scenarios/with_contrarians.yaml",
        "file: tests/sim/cohorts/test_contrarian.py",
        "add to: analysis/metrics.py",
        "file: scenarios/with_export_ban.yaml",
        "add to: analysis/outputs.py",
        "file: scenarios/with_newco.yaml",
    } <= keys


def test_new_company_is_one_entry(tmp_path):
    (tmp_path / "scenarios").mkdir()
    p = tmp_path / "scenarios" / "with_newco.yaml"
    p.write_text(_blocks()["file: scenarios/with_newco.yaml"].replace(
        "extends: deepseek_2025.yaml", f"extends: {SCENARIOS / 'deepseek_2025.yaml'}"
    ))  # fmt: skip
    scn = load_scenario(p)
    base = load_scenario(SCENARIOS / "deepseek_2025.yaml")
    assert scn.tickers == base.tickers + ["NEWCO"]
    nvda = next(a for a in scn.universe.assets if a.ticker == "NVDA")
    assert nvda.characteristics["ai_share_of_expected_growth"] == 0.9


def test_new_investor_type_is_one_new_module(tmp_path):
    blocks = _blocks()
    for d in ("sim", "scenarios", "tests/sim"):
        shutil.copytree(ROOT / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("tests/__init__.py", "tests/conftest.py"):
        shutil.copy(ROOT / f, tmp_path / f)
    new = ["sim/cohorts/contrarian.py", "scenarios/with_contrarians.yaml"]
    new.append("tests/sim/cohorts/test_contrarian.py")
    for rel in new:
        (tmp_path / rel).write_text(blocks[f"file: {rel}"])
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    test = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", new[2]],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    script = textwrap.dedent(
        """
        from sim.scenario import load_scenario
        from sim.simulate import run_model
        scn = load_scenario("scenarios/with_contrarians.yaml",
                            {"population.size": 400, "calendar.end": "2025-01-28"})
        model, result = run_model(scn, seed=1)
        flows = result.flows[result.flows["cohort"] == "contrarian"]
        print(flows["shares"].abs().sum())
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert float(run.stdout) > 0  # the new type is in the market and trades


def test_new_metric_is_one_function():
    import analysis.metrics as metrics

    exec(_blocks()["add to: analysis/metrics.py"], vars(metrics))
    try:
        value = metrics.compute_metric(small_run("deepseek_2025.yaml"), "close_to_low:NVDA")
        assert value >= 0
        scn = load_scenario(SCENARIOS / "deepseek_2025.yaml")
        assert metrics.check_metric("close_to_low:NVDA", scn) is None
        assert "unknown ticker" in metrics.check_metric("close_to_low:XXX", scn)
    finally:
        metrics.METRICS.pop("close_to_low", None)


def test_new_news_event_is_one_yaml_item(tmp_path):
    text = _blocks()["file: scenarios/with_export_ban.yaml"]
    path = tmp_path / "with_export_ban.yaml"
    path.write_text(text.replace("deepseek_2025.yaml", str(SCENARIOS / "deepseek_2025.yaml")))
    scn = load_scenario(path, {"news.export_curbs.credibility": 2})
    ev = next(e for e in scn.news if e.id == "export_curbs")
    assert ev.credibility == 2 and ev.idiosyncratic == {"NVDA": -0.05}


def test_new_output_is_one_function(tmp_path):
    import analysis.outputs as outputs

    exec(_blocks()["add to: analysis/outputs.py"], vars(outputs))
    try:
        outputs.write_run(small_run("deepseek_2025.yaml"), tmp_path, skip=("plots",))
        table = pd.read_csv(tmp_path / "daily_flows.csv")
        assert list(table.columns) == ["date", "cohort", "ticker", "shares"]
        assert set(table["cohort"]) >= {"fundamental", "retail", "market_maker"}
    finally:
        outputs.OUTPUTS.pop("daily_flows", None)


@pytest.mark.parametrize("name", ["does_not_exist"])
def test_unknown_output_is_refused(tmp_path, name):
    import analysis.outputs as outputs

    with pytest.raises(ValueError, match="unknown output"):
        outputs.write_run(small_run("deepseek_2025.yaml"), tmp_path, skip=(name,))
