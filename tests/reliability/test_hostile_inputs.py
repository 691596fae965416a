"""Hostile and clumsy inputs: refused with one line and exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario
from tests.conftest import ROOT, SCENARIOS

BASE = SCENARIOS / "deepseek_2025.yaml"


def cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        capture_output=True, text=True, cwd=cwd, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize(
    "path, value",
    [
        ("news.viral_cost_claim.credibility", ".inf"),
        ("news.viral_cost_claim.signal.compute_demand", ".nan"),
        ("factors.0.consensus", "-.inf"),
        ("universe.assets.0.characteristics.ai_infrastructure_revenue_share", ".nan"),
        ("universe.exposures.compute_demand.ai_infrastructure_revenue_share", ".inf"),
        ("universe.assets.0.price", ".inf"),
        ("population.cohorts.fundamental.risk_aversion", ".inf"),
        ("beliefs.trust_mean", ".nan"),
        ("network.q", "1e999"),
    ],
)
def test_non_finite_numbers_are_refused(path, value):
    from sim.scenario import parse_override

    key, v = parse_override(f"{path}={value}")
    with pytest.raises(ScenarioError, match=r"finite number|valid number"):
        load_scenario(BASE, {key: v})


@pytest.mark.parametrize(
    "path, value, bound",
    [
        ("news.viral_cost_claim.signal.compute_demand", 1e6, "less than or equal to 10"),
        ("universe.assets.0.price", 1e9, "less than or equal to 1000000"),
        ("population.cohorts.leveraged.leverage", 50, "less than or equal to 20"),
        ("network.q", 1e5, "less than or equal to 100"),
        ("calendar.end", "2060-01-01", "more than 3660 days"),
    ],
)
def test_absurd_values_are_refused_with_their_range(path, value, bound):
    with pytest.raises(ScenarioError, match=bound):
        load_scenario(BASE, {path: value})


def test_cli_refuses_inf_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    r = cli("run", str(BASE), "--set", "beliefs.trust_mean=.inf", "--out", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "beliefs.trust_mean" in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_billion_laughs_is_refused_quickly(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    lines.append("name: *i")
    p = tmp_path / "laughs.yaml"
    p.write_text("\n".join(lines) + "\n")
    assert p.stat().st_size < 400
    t0 = time.perf_counter()
    r = cli("run", str(p), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "aliases" in r.stderr and len(r.stderr) < 400
    assert time.perf_counter() - t0 < 30
    with pytest.raises(ScenarioError, match="expands to more than"):
        load_scenario(p)


def test_messages_never_echo_a_large_value_or_file(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_text("just a very long string " * 20000 + "\n")
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {huge}\nname: x\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(child)
    assert len(str(err.value)) < 400
    child.write_text("extends: [" + ", ".join(["1"] * 50000) + "]\nname: x\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(child)
    assert "extends: expected a file path" in str(err.value) and len(str(err.value)) < 400
    long_name = tmp_path / "long.yaml"
    long_name.write_text("name: x\nextends: " + "a" * 100_000 + "\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(long_name)
    assert len(str(err.value)) < 400


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"\xff\xfe\x00garbage", "not a UTF-8 text file"),
        (b"a: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
        (b"name: [unclosed\n", "malformed YAML"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, content, expected):
    p = tmp_path / "bad.yaml"
    p.write_bytes(content)
    with pytest.raises(ScenarioError, match=expected):
        load_scenario(p)


def test_a_name_cannot_escape_the_results_folder(tmp_path):
    p = tmp_path / "dots.yaml"
    p.write_text(f"extends: {BASE}\nname: '..'\n")
    r = cli("run", str(p), cwd=tmp_path)
    assert r.returncode == 2 and "name" in r.stderr
    assert list(tmp_path.iterdir()) == [p]
