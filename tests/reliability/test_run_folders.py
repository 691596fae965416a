"""A run's folder is written whole: checked first, built aside, swapped in at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS
from tests.reliability.test_hostile_inputs import cli

SMALL = ["--investors", "300", "--set", "calendar.end=2025-01-27", "--no-progress"]
BASE = str(SCENARIOS / "deepseek_2025.yaml")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prev") / "run"
    r = cli("run", BASE, *SMALL, "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_same_seed_same_bytes_except_timing(tmp_path, previous_run):
    again = tmp_path / "again"
    assert cli("run", BASE, *SMALL, "--seed", "1", "--out", str(again)).returncode == 0
    a, b = _snapshot(previous_run), _snapshot(again)
    assert set(a) == set(b)
    differ = sorted(k for k in a if a[k] != b[k])
    assert differ == ["timing.json"], differ


def test_out_that_is_a_file_is_refused_before_simulating(tmp_path):
    f = tmp_path / "file"
    f.write_text("mine")
    t0 = time.perf_counter()
    r = cli("run", BASE, "--out", str(f))
    assert r.returncode == 2 and "is not a folder" in r.stderr
    assert time.perf_counter() - t0 < 20 and f.read_text() == "mine"
    r = cli("run", BASE, "--out", str(f / "sub"))
    assert r.returncode == 2 and "cannot write there" in r.stderr


def test_a_foreign_folder_is_never_overwritten(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    r = cli("run", BASE, *SMALL, "--out", str(mine))
    assert r.returncode == 2 and "not moatshock results" in r.stderr
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_a_new_run_replaces_the_old_folder_whole(tmp_path, previous_run):
    out = tmp_path / "run"
    subprocess.run(["cp", "-r", str(previous_run), str(out)], check=True)
    (out / "plots" / "fan_NVDA.png").write_bytes(b"left over from an ensemble")
    r = cli("run", BASE, *SMALL, "--seed", "2", "--out", str(out))
    assert r.returncode == 0
    assert not (out / "plots" / "fan_NVDA.png").exists()
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


def test_kill_during_writing_keeps_the_previous_run(tmp_path, previous_run):
    out = tmp_path / "run"
    subprocess.run(["cp", "-r", str(previous_run), str(out)], check=True)
    before = _snapshot(out)
    # the run is killed (SIGKILL, no cleanup) while it writes its files: after the tables,
    # before the plots
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        import analysis.outputs as o
        def killed(result, out, summary):
            os.kill(os.getpid(), signal.SIGKILL)
        o.OUTPUTS["plots"] = o.Output("plots", "", killed)
        import run
        run.main(["run", {BASE!r}, *{SMALL!r}, "--seed", "2", "--out", {str(out)!r}])
        """
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL
    assert _snapshot(out) == before  # the previous run, whole and unchanged
    # its half-written temporary folder is cleaned up by the next run into the same place
    assert any(p.name.startswith(".run.tmp-") for p in tmp_path.iterdir())
    assert cli("run", BASE, *SMALL, "--seed", "3", "--out", str(out)).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_ctrl_c_stops_with_one_line_and_keeps_the_previous_run(tmp_path, previous_run):
    out = tmp_path / "run"
    subprocess.run(["cp", "-r", str(previous_run), str(out)], check=True)
    before = _snapshot(out)
    p = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "run", BASE, "--investors", "1000000",
         "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(4)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert err.strip().count("\n") == 0 and "interrupted" in err
    assert _snapshot(out) == before
    assert [q.name for q in tmp_path.iterdir()] == ["run"]


def test_guard_stops_a_breaking_market_with_exit_3_and_marked_partial_results(tmp_path):
    out = tmp_path / "lev"
    r = cli("run", BASE, "--investors", "1000", "--no-progress", "--out", str(out),
            "--set", "population.cohorts.leveraged.leverage=10",
            # at leverage 10 the default crowded book would hold more than the float of the
            # most crowded names (refused before the run); a milder tilt lets the market break
            "--set", "population.cohorts.leveraged.crowding=0.3")  # fmt: skip
    assert r.returncode == 3, r.stderr
    assert "broke down" in r.stderr and "population.cohorts.leveraged.leverage=10" in r.stderr
    assert r.stderr.strip().count("\n") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "stopped by the run-time guard"
    assert "broke down" in summary["diagnostics"]["stopped"]
    assert (out / "daily.csv").stat().st_size > 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_read_only_parent_is_refused_before_simulating(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        r = cli("run", BASE, "--out", str(ro / "out"))
        assert r.returncode == 2 and "not writable" in r.stderr
    finally:
        ro.chmod(0o700)
