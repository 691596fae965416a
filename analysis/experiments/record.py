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

Only a torn last line is forgiven: any other line that is not a whole, well-formed row (garbage,
a wrong number of fields, a value its experiment cannot have written) makes :meth:`Record.rows`
refuse the record with the file and the line number, so that a damaged record is never resumed
from or analysed. A record's JSON companion (``sweep.json``, ``calibration.json``) is read by
:func:`read_json_record`, and :func:`differences` names what a spec changed against it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from analysis.experiments.runner import RunnerError, one_line

__all__ = [
    "Record",
    "RecordError",
    "atomic_write_bytes",
    "complete_text",
    "differences",
    "read_json_record",
]


class RecordError(RunnerError):
    """A record (``runs.csv``, ``sweep.json``, ...) is damaged; the message names file and line."""


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

    def rows(self, check: Callable[[list[str]], None] | None = None) -> list[list[str]]:
        """Every complete line after the header (none without a file or a whole header).

        Blank lines are skipped; a line with the wrong number of fields, or that ``check``
        refuses (it raises ``ValueError`` saying why), raises :class:`RecordError` naming the
        file and the line number.
        """
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        data = data[: data.rfind(b"\n") + 1]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise self.damaged(data[: err.start].count(b"\n") + 1, "not UTF-8 text") from None
        if not text:
            return []  # killed while writing the header: start afresh
        reader = csv.reader(io.StringIO(text), strict=True)
        try:
            header = next(reader, None)
        except csv.Error:
            header = None
        if header != self.columns:
            raise RecordError(
                f"{self.path}: its columns do not match this {self.what}; choose another --out"
            )
        rows = []
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader, None)
            except csv.Error as err:
                raise self.damaged(start, f"not a CSV line ({err})") from None
            if row is None:
                return rows
            if not row:
                continue
            if len(row) != len(self.columns):
                raise self.damaged(start, f"{len(row)} fields, expected {len(self.columns)}")
            if check is not None:
                try:
                    check(row)
                except ValueError as err:
                    raise self.damaged(start, str(err)) from None
            rows.append(row)

    def damaged(self, line: int, why: str) -> RecordError:
        """The error for line ``line`` of this record (one line, the content excerpted)."""
        return RecordError(
            f"{self.path}, line {line}: {one_line(why)[:300]}; only a torn last line is "
            f"dropped, so this {self.what} record cannot be trusted: repair or delete that "
            "line, or choose another --out"
        )

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


def read_json_record(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The JSON object in ``path`` (e.g. ``sweep.json``); ``error`` if it is missing or damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise error(f"{path}: damaged ({one_line(str(err))[:200]}); not a {what} record") from None
    if not isinstance(data, dict):
        raise error(f"{path}: damaged (not a JSON object); not a {what} record")
    return data


def differences(old: Any, new: Any, where: str = "", limit: int = 6) -> list[str]:
    """Dotted paths at which ``new`` differs from ``old`` (mappings and equal-length lists are
    compared item by item; at most ``limit`` paths, then ``...``)."""
    out: list[str] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if a == b or len(out) > limit:
            return
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for k in sorted(set(a) | set(b), key=str):
                walk(a.get(k), b.get(k), f"{at}.{k}" if at else str(k))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{at}.{i}" if at else str(i))
        else:
            out.append(at or "(everything)")

    walk(old, new, where)
    return out[:limit] + ["..."] if len(out) > limit else out
