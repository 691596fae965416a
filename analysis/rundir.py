"""Results folders written whole: checked before the work, built aside, swapped in at the end.

A command that writes a folder of results (``run``, ``run --replications``, ``validate``)
first checks the target (:func:`check_target`: not a file, not somebody else's folder, its
parent writable), then writes everything into a temporary folder beside it and only at the
end swaps it in place of the old one (:func:`results_folder`). A run killed or interrupted at
any moment leaves the previous results untouched and complete, never a mix of old and new
files; the temporary folder of a killed run is removed by the next run into the same place.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

#: The file that marks a folder as written by moatshock (so it may be replaced).
MARKER = ".moatshock"
#: Files by which folders written before the marker existed are recognised.
_LEGACY = ("summary.json", "ensemble_summary.json", "validation.json")


class OutputError(ValueError):
    """The output location cannot take the results; the message says why and what to do."""


def is_results_folder(path: Path) -> bool:
    """A folder moatshock wrote (and may therefore replace)."""
    return any((path / f).is_file() for f in (MARKER, *_LEGACY))


def check_target(out: Path) -> None:
    """Raise :class:`OutputError` unless ``out`` can be (re)placed by a results folder."""
    try:
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out} exists and is not a folder; choose another --out")
        if out.is_dir() and any(out.iterdir()) and not is_results_folder(out):
            raise OutputError(
                f"{out} is a folder with other files in it, not moatshock results; "
                "choose another --out (it is never overwritten)"
            )
        parent = out.resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"{parent} is not writable; choose another --out")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write there ({exc.strerror})") from None


def default_out(name: str, root: Path = Path("results")) -> Path:
    """``results/<name>``, refusing names that would leave the results folder."""
    out = root / name
    if name in ("", ".", "..") or out.resolve().parent != root.resolve():
        raise OutputError(f"name {name!r} would write outside {root}/; give --out")
    return out


def _remove_stale(out: Path) -> None:
    """Temporary folders of runs into ``out`` that were killed (their process is gone)."""
    stale = [*out.parent.glob(f".{out.name}.tmp-*"), *out.parent.glob(f".{out.name}.old-*")]
    for p in stale:
        pid = p.name.rsplit("-", 2)[-2]
        alive = True
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            alive = False
        except PermissionError:
            pass
        if not alive:
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def results_folder(out: Path, kind: str) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; on success it replaces ``out`` whole.

    On any exception (including Ctrl-C) the temporary folder is removed and ``out`` is left
    as it was. ``kind`` ("run", "ensemble", "validation") is recorded in the marker file.
    """
    check_target(out)
    out = out.resolve()
    _remove_stale(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"{out.parent}: cannot write there ({exc.strerror})") from None
    try:
        (tmp / MARKER).write_text(json.dumps({"kind": kind}) + "\n")
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if out.exists():
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
