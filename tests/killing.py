"""Kill -9 in tests: start a command line, wait for it to record enough, kill its process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def data_lines(path: Path) -> list[str]:
    """The lines of a CSV record after its header (none if there is no file yet)."""
    return path.read_text().splitlines()[1:] if path.exists() else []


def kill_when(args: list[str], ready: Callable[[], bool], timeout: float = 60.0) -> None:
    """Run ``python -m ARGS`` from the repository; once ``ready()`` holds, SIGKILL it.

    The whole process group is killed: the program, its fork server and its workers, as
    ``kill -9`` of a session would. Fails if the program ends, or is not ready in time.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"{args[0]} was not ready in {timeout:g} s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
