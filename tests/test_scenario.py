"""Scenario files: bad input stops with a message naming the file, the field and what is
expected, and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sim.scenario import PathDeprecation, ScenarioError, load_raw, load_scenario
from tests.conftest import ROOT, SCENARIOS


def _write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _child(tmp_path: Path, body: dict, name: str = "bad.yaml") -> Path:
    data = {"extends": str(SCENARIOS / "deepseek_2025.yaml"), **body}
    return _write(tmp_path, yaml.safe_dump(data, sort_keys=False), name)


def test_shipped_scenarios_load():
    for f in ["deepseek_2025.yaml", "no_shock.yaml", "cost_debunked.yaml"]:
        scn = load_scenario(SCENARIOS / f)
        assert "NVDA" in scn.tickers and scn.population.size >= 10_000


@pytest.mark.parametrize(
    "body, field, expected",
    [
        ({"seeed": 3}, "seeed", "unknown field"),
        ({"population": {"size": "many"}}, "population.size", "integer"),
        ({"beliefs": {"prior_precision": -1}}, "beliefs.prior_precision", "greater than or equal"),
        ({"network": {"degree": "eight"}}, "network.degree", "integer"),
    ],
)
def test_bad_fields_are_named(tmp_path, body, field, expected):
    p = _child(tmp_path, body)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "bad.yaml" in msg and field in msg and expected in msg


def test_negative_shares_are_rejected(tmp_path):
    p = _child(
        tmp_path, {"universe": {"assets_add": [{"ticker": "NVDA", "shares_outstanding": -5}]}}
    )
    with pytest.raises(
        ScenarioError,
        match=r"bad\.yaml: universe\.assets\.0 \(NVDA\)\.shares_outstanding.*greater than or "
        r"equal to 1000",
    ):
        load_scenario(p)


def test_unknown_ticker_in_an_event(tmp_path):
    ev = {
        "id": "odd_news",
        "time": "2025-01-27T10:00:00",
        "idiosyncratic": {"NVDAX": -0.1},
        "credibility": 1.0,
        "reach": 0.5,
    }
    p = _child(tmp_path, {"news_append": [ev]})
    with pytest.raises(
        ScenarioError, match=r"bad\.yaml.*news\.\d+\.idiosyncratic.*unknown ticker 'NVDAX'"
    ):
        load_scenario(p)


def test_unknown_factor_in_an_event(tmp_path):
    ev = {
        "id": "hype",
        "time": "2025-01-27T10:00",
        "signal": {"hype": 1},
        "credibility": 1,
        "reach": 0.5,
    }
    p = _child(tmp_path, {"news_append": [ev]})
    with pytest.raises(ScenarioError, match=r"news\.\d+\.signal: unknown factor 'hype'"):
        load_scenario(p)


def test_event_outside_the_calendar(tmp_path):
    ev = {
        "id": "late",
        "time": "2025-03-01T10:00:00",
        "signal": {"compute_demand": -1},
        "credibility": 1,
        "reach": 0.5,
    }
    p = _child(tmp_path, {"news_append": [ev]})
    with pytest.raises(
        ScenarioError, match=r"news\.\d+\.time: 2025-03-01 10:00:00 is outside the calendar"
    ):
        load_scenario(p)


def test_malformed_yaml_names_the_line(tmp_path):
    p = _write(tmp_path, "name: x\ncalendar: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml: malformed YAML \(line \d+"):
        load_scenario(p)


def test_missing_extends_target(tmp_path):
    p = _write(tmp_path, "extends: nowhere.yaml\nname: x\n")
    with pytest.raises(ScenarioError, match="nowhere.yaml: file not found"):
        load_scenario(p)


def test_unstable_adjustment_is_rejected(tmp_path):
    p = _child(tmp_path, {"population": {"cohorts": {"fundamental": {"adjust_per_step": 0.5}}}})
    with pytest.raises(
        ScenarioError, match=r"population\.cohorts\.fundamental.*price_response_per_step"
    ):
        load_scenario(p)


def test_extends_and_overrides():
    scn = load_scenario(
        SCENARIOS / "cost_debunked.yaml",
        {"population.size": 2000, "news.viral_cost_claim.credibility": 3},
    )
    base = load_scenario(SCENARIOS / "deepseek_2025.yaml")
    assert scn.name == "cost_debunked" and len(scn.news) == len(base.news) + 1
    assert scn.news[-1].id == "cost_refuted"
    assert scn.population.size == 2000 and scn.news[2].credibility == 3
    with pytest.raises(ScenarioError, match=r"population\.sise.*unknown field"):
        load_scenario(SCENARIOS / "deepseek_2025.yaml", {"population.sise": 5})
    with pytest.raises(
        ScenarioError, match=r"news\.nothing: expected an id \(one of \['r1_release'"
    ):
        load_scenario(SCENARIOS / "deepseek_2025.yaml", {"news.nothing.credibility": 1})


def test_news_by_position_still_works_with_a_deprecation_warning():
    with pytest.warns(PathDeprecation, match=r"news\.2.*deprecated.*news\.viral_cost_claim"):
        scn = load_scenario(SCENARIOS / "deepseek_2025.yaml", {"news.2.credibility": 3})
    assert scn.news[2].id == "viral_cost_claim" and scn.news[2].credibility == 3


def test_news_ids_are_required_and_unique(tmp_path):
    raw = load_raw(SCENARIOS / "deepseek_2025.yaml")
    raw["news"][1]["id"] = raw["news"][0]["id"]
    with pytest.raises(ScenarioError, match=r"bad\.yaml: news: duplicate id\(s\) \['r1_release'\]"):
        load_scenario(_write(tmp_path, yaml.safe_dump(raw)))
    del raw["news"][1]["id"]
    with pytest.raises(ScenarioError, match=r"bad\.yaml: news\.1\.id: Field required"):
        load_scenario(_write(tmp_path, yaml.safe_dump(raw)))


def test_cli_reports_bad_input_and_writes_nothing(tmp_path):
    p = _child(tmp_path, {"population": {"size": -3}})
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "run", str(p), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert "bad.yaml: population.size" in r.stderr
    assert not out.exists()


def test_readme_field_reference_is_up_to_date():
    from sim.scenario.doc import field_paths, markdown

    text = (SCENARIOS / "README.md").read_text()
    missing = [path for path, _ in field_paths() if f"`{path}`" not in text]
    assert not missing, f"scenarios/README.md lacks: {missing}"
    assert markdown() in text, "run python -m sim.scenario.doc --write scenarios/README.md"
