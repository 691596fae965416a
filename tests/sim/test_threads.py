"""Both cores, same bytes: a run's tables do not depend on the number of threads."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import hashlib
from sim.scenario import load_scenario
from sim.simulate import run_model
scn = load_scenario("scenarios/deepseek_2025.yaml",
                    {"population.size": 3000, "calendar.end": "2025-01-28"})
_, r = run_model(scn, seed=5)
for t in (r.daily, r.intraday, r.flows, r.beliefs):
    print(hashlib.sha256(t.to_csv(index=False).encode()).hexdigest())
"""


def _tables(threads: int) -> list[str]:
    # every chunked kernel takes its parallel form (MOATSHOCK_PARALLEL_FROM=0)
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "MOATSHOCK_PARALLEL_FROM": "0"}
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.split()


def test_one_thread_and_two_threads_give_identical_tables():
    one, two = _tables(1), _tables(2)
    assert len(one) == 4 and one == two
    assert hashlib.sha256(b"".join(x.encode() for x in one)).hexdigest()
