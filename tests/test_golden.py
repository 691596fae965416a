"""Golden test: small fixed runs and a small sweep write byte-identical tables.

The hashes in ``tests/golden/hashes.json`` change only deliberately, with the reason in the
commit message (``python -m tests.golden.hashes --update``).
"""

from __future__ import annotations

import json

from tests.golden.hashes import HASHES, compute


def test_golden_tables_are_byte_identical(tmp_path):
    expected = json.loads(HASHES.read_text())
    got = compute(tmp_path)
    changed = sorted(k for k in expected if got.get(k) != expected[k])
    assert set(got) == set(expected), f"tables differ: {sorted(set(got) ^ set(expected))}"
    assert not changed, f"tables whose bytes changed: {changed}"
