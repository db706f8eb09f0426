"""Waiting for a killed job to let go of its run directory (tests that kill -9 a job and start it again).

A job script holds the run directory's lock (``.run.lock``, ``flock``) in every process it starts, LAMMPS
included; after ``kill -9`` of the job's process group the lock is free only once the last of them has
exited, which for a LAMMPS process with libtorch loaded can take a moment after the job's shell is reaped.
A job started before then is refused (exit code 75, "in use by another job"), as it should be.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path

from pydriver.rundir import RUN_LOCK


def wait_for_lock_release(run_dir: Path, timeout_s: float = 60.0) -> None:
    """Return once ``run_dir``'s job lock can be taken (it is released again at once).

    Raises
    ------
    AssertionError
        If the lock is still held after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    with open(run_dir / RUN_LOCK, "a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                assert time.monotonic() < deadline, f"{run_dir / RUN_LOCK} still held {timeout_s} s after the kill"
                time.sleep(0.02)
            else:
                fcntl.flock(fh, fcntl.LOCK_UN)
                return
