"""SLURM's command-line tools as Python: ``sbatch``, ``squeue``, ``sacct``/``scontrol`` job states."""

from __future__ import annotations

import getpass
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: squeue states of a job that is still alive
ALIVE_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING",
                "SIGNALING", "STAGE_OUT", "STOPPED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
_ARRAY_RANGE = re.compile(r"^(\d+)_\[([0-9,\-%]+)\]$")
#: SLURM end states after which the run is resumable (resubmitted up to ``max_attempts``)
INTERRUPTED_STATES = {"TIMEOUT", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "REQUEUED", "CANCELLED"}


def sbatch_available() -> bool:
    """True if ``sbatch`` and ``squeue`` are on ``PATH``."""
    return shutil.which("sbatch") is not None and shutil.which("squeue") is not None


def sbatch(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    """Run ``sbatch --parsable ARGS``; returns the job id.

    Raises
    ------
    RuntimeError
        If ``sbatch`` fails (its message included).
    """
    proc = subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"sbatch {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip().split(";")[0]


def _expand_array_id(job_id: str) -> list[str]:
    """``123_[0-3,7%2]`` -> ``['123_0', ..., '123_3', '123_7']``; other ids unchanged."""
    m = _ARRAY_RANGE.match(job_id)
    if not m:
        return [job_id]
    out = []
    for part in m.group(2).split("%")[0].split(","):
        lo, _, hi = part.partition("-")
        out += [f"{m.group(1)}_{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


@dataclass
class Queue:
    """This user's jobs in ``squeue``: ``states`` {job id: state} (array tasks one by one), ``by_name`` {name: id}."""

    states: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)

    def get(self, job_id: str, default: str | None = None) -> str | None:
        """State of a job id (``default`` if not queued)."""
        return self.states.get(job_id, default)


def queue_states() -> Queue:
    """Read ``squeue`` (an empty :class:`Queue` if it fails)."""
    try:
        proc = subprocess.run(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T|%j"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("squeue failed: %s", exc)
        return Queue()
    if proc.returncode != 0:
        log.warning("squeue failed: %s", proc.stderr.strip())
        return Queue()
    queue = Queue()
    for line in proc.stdout.splitlines():
        job_id, state, name = (line.strip().split("|", 2) + ["", ""])[:3]
        for jid in _expand_array_id(job_id):
            queue.states[jid] = state
        if state in ALIVE_STATES:
            queue.by_name[name] = job_id
    return queue


def final_job_state(job_id: str) -> tuple[str | None, str | None]:
    """(state, exit code) of a finished job from ``sacct``, else ``scontrol show job``; ``(None, None)`` if unknown."""
    if shutil.which("sacct"):
        proc = subprocess.run(["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "JobID,State,ExitCode"],
                              capture_output=True, text=True, timeout=60)
        for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
            jid, state, code = (line.split("|") + ["", ""])[:3]
            if jid == job_id:
                return state.split()[0], code
    if not shutil.which("scontrol"):
        return None, None
    proc = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        fields = dict(f.split("=", 1) for f in proc.stdout.split() if "=" in f)
        return fields.get("JobState"), fields.get("ExitCode")
    return None, None
