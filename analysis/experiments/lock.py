"""One experiment per output folder: ``DIR/.lock``, held with ``flock`` for the whole run.

A sweep or a calibration appends to the records of its folder for hours; two of them writing
one folder at once would run tasks twice and interleave their records. :func:`hold_folder`
takes an exclusive ``fcntl.flock`` on ``DIR/.lock`` (created, with the folder, if missing) and
keeps it until the block ends; a second experiment into the same folder is refused at once,
naming the folder and the holder (pid, host, what, since when: the lock file holds them).

The kernel releases the lock when its holder dies, however it dies (``kill -9`` included), so
a lock file left by a killed run never blocks the next one. On a clean exit the file is
removed (and the folder too if it was created here and is still empty, so a refused command
leaves nothing behind). Removing a lock file is safe because a process that obtains the lock
checks that the file it locked is still the one at ``DIR/.lock`` and otherwise tries again.

Nested holds of one folder by the same thread (the command line holds it across the pool's
start and the run, which holds it again) are one hold.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import socket
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_FILE", "check_folder_free", "hold_folder"]

LOCK_FILE = ".lock"

#: folders held by this process: resolved path -> (thread id, depth)
_held: dict[Path, tuple[int, int]] = {}
_held_guard = threading.Lock()


def _holder(path: Path) -> str:
    """Who holds the lock file ``path``, as far as it says."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        who = f"another {info['what']} (pid {int(info['pid'])} on {info['host']}"
        return who + f", since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another sweep or calibration (holder unknown)"


def _busy(out: str | Path, holder: str) -> str:
    return f"{out} is in use by {holder}; wait for it to end or choose another --out"


def _lock(out: Path, what: str, error: type[Exception]) -> int | None:
    """Open and flock ``out/.lock``; its descriptor, or None where locks are not supported."""
    path = out / LOCK_FILE
    for _ in range(20):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            continue  # the folder was removed by a holder that created it: try again
        except OSError as err:
            raise error(f"{out}: cannot create its lock file ({err.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise error(_busy(out, _holder(path))) from None
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                warnings.warn(
                    f"{out}: its file system does not support locks; nothing stops a second "
                    "experiment from writing this folder at the same time",
                    RuntimeWarning,
                    stacklevel=4,
                )
                return None
            raise error(f"{out}: cannot lock it ({err.strerror})") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # locked a file its holder removed on release: lock the new one
            os.close(fd)
            continue
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "what": what,
            "since": dt.datetime.now().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode())
        return fd
    raise error(f"{out}: cannot lock it (its lock file keeps being replaced)")


@contextlib.contextmanager
def hold_folder(out: str | Path, what: str, error: type[Exception]) -> Iterator[None]:
    """Hold output folder ``out`` for the block (created if missing); ``what`` names the
    holder (``sweep``, ``calibration``) for others. Raises ``error`` if another process (or
    another thread) holds it or it cannot be created."""
    out = Path(out)
    key = out.resolve()
    me = threading.get_ident()
    with _held_guard:
        holder = _held.get(key)
        if holder is not None and holder[0] == me:
            _held[key] = (me, holder[1] + 1)
    if holder is not None:
        if holder[0] != me:
            raise error(_busy(out, f"another {what} of this process"))
        try:
            yield
        finally:
            with _held_guard:
                _held[key] = (me, _held[key][1] - 1)
        return

    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise error(f"{out}: cannot write there ({err.strerror})") from None
    try:
        fd = _lock(out, what, error)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    with _held_guard:
        _held[key] = (me, 1)
    try:
        yield
    finally:
        with _held_guard:
            del _held[key]
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(out / LOCK_FILE)  # still held: nobody can have locked this file
            os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only if empty: a refused command leaves nothing


def check_folder_free(out: str | Path, error: type[Exception]) -> None:
    """Raise ``error`` if another process holds ``out`` (see :func:`hold_folder`); creates
    nothing (a probe before any check that reads the folder, so the holder is named first)."""
    path = Path(out) / LOCK_FILE
    key = Path(out).resolve()
    with _held_guard:
        holder = _held.get(key)
    if holder is not None:
        if holder[0] != threading.get_ident():
            raise error(_busy(out, "another experiment of this process"))
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # no lock file: nobody holds it (hold_folder will create and lock one)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise error(_busy(out, _holder(path))) from None
    except OSError:
        pass  # no locks on this file system: hold_folder warns
    finally:
        os.close(fd)
