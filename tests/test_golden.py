"""Golden test: small fixed runs and a small sweep write byte-identical tables.

The hashes in ``tests/golden/hashes.json`` are recorded per numpy minor version (numpy's
transcendental functions may round differently between releases, see
:mod:`tests.golden.hashes`) and change only deliberately, with the reason in the commit message
(``python -m tests.golden.hashes --update``).
"""

from __future__ import annotations

import pytest

from tests.golden.hashes import HASHES, ROOT, compute, load, numpy_key


def test_golden_tables_are_byte_identical(tmp_path):
    key = numpy_key()
    recorded = load()
    if key not in recorded:
        pytest.skip(
            f"no golden hashes recorded for {key} (recorded: {', '.join(sorted(recorded))}); "
            "check that this numpy gives the same results up to rounding, then record them with "
            f"`python -m tests.golden.hashes --update` and commit {HASHES.relative_to(ROOT)}"
        )
    expected = recorded[key]
    got = compute(tmp_path)
    changed = sorted(k for k in expected if got.get(k) != expected[k])
    assert set(got) == set(expected), f"tables differ: {sorted(set(got) ^ set(expected))}"
    assert not changed, f"tables whose bytes changed ({key}): {changed}"
