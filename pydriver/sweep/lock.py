"""One ``sweep run`` per sweep folder: an exclusive lock on ``OUT/.sweep.lock`` naming its holder.

Two ``sweep run`` on one folder would each start every job (two LAMMPS processes per run directory
writing the same dump, log and restart files). The lock is ``fcntl.flock`` on a lock file that
holds JSON about the holder (host, pid, start time, command) for the refusal message. ``flock``
because the kernel drops the lock when its process dies, however it dies (``kill -9``, a node
crash on NFSv4, where the server drops it with the client's lease), so a lock can never be left
behind by a dead process; Linux NFS clients implement ``flock`` with byte-range locks that NFSv4
(and NFSv3 with NLM) share between hosts. A holder record left in the file by a process that
died is reported and overwritten ("recovered"). Where the file system has no locks at all
(``ENOLCK``), the record alone decides: refused while its process is alive on this host.

Each run's job script locks its own directory in shell, not through this module: ``flock(1)`` on
``RUN_DIR/.run.lock``, which it fills with the same JSON holder record (host, pid, started_at,
command), so its refusal names the job that holds it and a deck run by hand beside a sweep is
refused too. Without a ``flock`` command it only notes that the directory is not locked.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydriver.rundir import SWEEP_LOCK
from pydriver.sweep.run_state import now_iso, process_start_ticks

log = logging.getLogger(__name__)


class FolderInUse(ValueError):
    """Another process holds the folder's lock (one-line message naming it)."""


def describe_holder(holder: dict | None) -> str:
    """``host vm, pid 123, started 2025-01-01T10:00:00+0000`` (``unknown holder`` without a record)."""
    if not holder:
        return "unknown holder"
    return f"host {holder.get('host')}, pid {holder.get('pid')}, started {holder.get('started_at')}"


def _read_holder(fd: int) -> dict | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 65536).decode(errors="replace").strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {"host": "?", "pid": "?", "started_at": "?", "raw": text[:200]}
    return data if isinstance(data, dict) else None


def _write_holder(fd: int, holder: dict | None) -> None:
    os.ftruncate(fd, 0)
    if holder is not None:
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    os.fsync(fd)


def _alive_here(holder: dict) -> bool:
    pid = holder.get("pid")
    return holder.get("host") == socket.gethostname() and isinstance(pid, int) and process_start_ticks(pid) is not None


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/.sweep.lock`` (:data:`pydriver.rundir.SWEEP_LOCK`) exclusively for the ``with`` block.

    Raises
    ------
    FolderInUse
        ``FOLDER is in use by another `sweep run` (host H, pid P, started T); wait for it to
        finish or stop it, then run this again``.
    """
    path = Path(folder) / SWEEP_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    locked = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            raise FolderInUse(f"{folder} is in use by another `sweep run` ({describe_holder(_read_holder(fd))}); "
                              "wait for it to finish or stop it, then run this again") from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            log.warning("%s: this file system has no file locks; only a live process on this host is detected", path)
        previous = _read_holder(fd)
        if previous is not None:
            if not locked and _alive_here(previous):
                raise FolderInUse(f"{folder} is in use by another `sweep run` ({describe_holder(previous)}); wait "
                                  "for it to finish or stop it, then run this again")
            log.warning("%s: recovered the lock left by a process that ended without releasing it (%s)", folder,
                        describe_holder(previous))
        _write_holder(fd, {"host": socket.gethostname(), "pid": os.getpid(), "started_at": now_iso(),
                           "command": " ".join(sys.argv[:4])})
        try:
            yield
        finally:
            _write_holder(fd, None)  # a clean end (also Ctrl-C, SIGTERM) leaves no record
    finally:
        if locked:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
