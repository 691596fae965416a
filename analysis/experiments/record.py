"""Append-only records of finished tasks, and atomic whole-file writes.

An experiment that may run for hours and be killed at any moment (kill -9, the OOM killer, a
lost SSH session) records each finished task as one CSV line, appended and fsync'ed as the
task finishes (:class:`Record`). An append-only text file written one complete line per
``write`` and fsync'ed afterwards is durable at line granularity: after any crash it holds
every finished task plus at most one truncated last line, which is dropped when the record is
read or reopened. Resuming reads the recorded task keys and runs only the others.

Parquet cannot be appended to (a file is only valid once its footer is written), so writing
it per task would mean rewriting the whole file each time, and a kill during that rewrite
would lose every result. Whole files (a sweep's ``runs.parquet``, ``sweep.json``) are written
once, via a temporary file and ``os.replace`` (:func:`atomic_write_bytes`), so readers never
see half a file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from analysis.experiments.runner import RunnerError

__all__ = ["Record", "atomic_write_bytes", "complete_text"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsync'ed temporary file and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def complete_text(path: Path) -> tuple[str, int]:
    """Text of ``path`` up to its last newline, and that byte length."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return data[:end].decode("utf-8"), end


class Record:
    """A CSV file of one header line and one line per finished task, appended and fsync'ed.

    ``rows()`` reads the complete lines (checking the header against ``columns``); used as a
    context manager the record is open for :meth:`append`, a torn last line dropped first so
    the next line starts fresh, and the header written if the file has none yet.
    """

    def __init__(self, path: Path, columns: Sequence[str], what: str = "experiment") -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.what = what
        self._fh: Any = None

    def rows(self) -> list[list[str]]:
        """Every complete line after the header (none without a file or a whole header)."""
        if not self.path.is_file():
            return []
        text, _ = complete_text(self.path)
        if not text:
            return []  # killed while writing the header: start afresh
        reader = csv.reader(io.StringIO(text))
        if next(reader, None) != self.columns:
            raise RunnerError(
                f"{self.path}: its columns do not match this {self.what}; choose another --out"
            )
        rows = []
        for row in reader:
            if len(row) != len(self.columns):
                raise RunnerError(
                    f"{self.path}: malformed line {reader.line_num}; cannot resume safely"
                )
            rows.append(row)
        return rows

    def __enter__(self) -> Record:
        end = 0
        if self.path.is_file():
            # Drop a torn last line left by a kill so the next append starts a fresh line.
            _, end = complete_text(self.path)
            os.truncate(self.path, end)
        self._fh = self.path.open("a", encoding="utf-8", newline="")
        if end == 0:
            self.append(self.columns)
        return self

    def append(self, row: Sequence[Any]) -> None:
        """Write ``row`` as one whole line, then fsync: a kill leaves at most a torn last line."""
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        self._fh.write(buf.getvalue())
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._fh.close()
        self._fh = None
