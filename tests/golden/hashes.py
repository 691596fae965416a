"""Golden hashes: SHA-256 of every table that small, fixed runs write.

A refactoring must leave these bytes unchanged; a change of the model's outputs updates them
deliberately (``python -m tests.golden.hashes --update``) and says why in its commit message.

The hashes are recorded per numpy minor version (``"numpy 2.4"``, ...): numpy's float64 ``exp``,
``log``, ``expm1``, ``log1p`` and ``power`` may round the last bit differently from one release to
another, and the simulation runs them on every step (numpy 1.26 and 2.x differ in the last bit
on this project's machines, so prices and volumes differ from the first auction on; 2.0 to 2.5
give the same bytes). ``--update`` writes the set of the numpy it runs with, keeps the others
and says which recorded versions give the same bytes; a numpy with no recorded set skips the
test, saying how to record one.

What is hashed:

* ``run.py run scenarios/deepseek_2025.yaml --investors 2000 --seed S`` for S = 1, 2: every CSV
  table of the run folder (daily, intraday, flows, beliefs, events);
* ``run.py sweep tests/golden/sweep.yaml --workers 1``: its runs table without the timing
  column (``wall_s``), as CSV.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HASHES = HERE / "hashes.json"
RUN_TABLES = ("daily.csv", "intraday.csv", "flows.csv", "beliefs.csv", "events.csv")
SEEDS = (1, 2)
INVESTORS = 2000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cli(*args: str) -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True, cwd=ROOT
    )
    if r.returncode != 0:
        raise RuntimeError(f"run.py {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")


def run_hashes(tmp: Path, seed: int) -> dict[str, str]:
    """Hashes of the tables of one golden run."""
    out = tmp / f"run_seed{seed}"
    _cli("run", "scenarios/deepseek_2025.yaml", "--investors", str(INVESTORS),
         "--seed", str(seed), "--out", str(out), "--no-progress")  # fmt: skip
    return {f"run_seed{seed}/{t}": _sha((out / t).read_bytes()) for t in RUN_TABLES}


def sweep_hash(tmp: Path) -> dict[str, str]:
    """Hash of the golden sweep's runs table (timings dropped)."""
    import pandas as pd

    out = tmp / "sweep"
    _cli("sweep", str(HERE / "sweep.yaml"), "--workers", "1", "--out", str(out), "--no-progress")
    text = (out / "runs.csv").read_text(encoding="utf-8")
    df = pd.read_csv(io.StringIO(text)).drop(columns=["wall_s"]).sort_values("task")
    return {"sweep/runs.csv": _sha(df.to_csv(index=False, float_format="%.10g").encode())}


def numpy_key() -> str:
    """The key of the running numpy's hashes: ``"numpy MAJOR.MINOR"``."""
    import numpy as np

    major, minor = np.__version__.split(".")[:2]
    return f"numpy {major}.{minor}"


def load() -> dict[str, dict[str, str]]:
    """Every recorded set, by numpy key."""
    return json.loads(HASHES.read_text()) if HASHES.exists() else {}


def compute(tmp: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for s in SEEDS:
        out.update(run_hashes(tmp, s))
    out.update(sweep_hash(tmp))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--update",
        action="store_true",
        help="write this numpy version's hashes into hashes.json (other versions' are kept)",
    )
    p.add_argument(
        "--reset",
        action="store_true",
        help="with --update: drop every other version's hashes (the outputs changed on purpose; "
        "record each supported numpy again)",
    )
    args = p.parse_args(argv)
    key = numpy_key()
    with tempfile.TemporaryDirectory() as d:
        got = compute(Path(d))
    print(json.dumps({key: got}, indent=1))
    recorded = load()
    same = [k for k, v in recorded.items() if v == got and k != key]
    if same:
        print(f"{key}: the same bytes as {', '.join(sorted(same))}")
    if args.update:
        if args.reset:
            recorded = {}
        recorded[key] = got
        HASHES.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        print(f"wrote the {key} hashes into {HASHES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
