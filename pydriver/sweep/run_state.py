"""Per-run bookkeeping of a sweep: the atomic ``sweep_state.json`` and the process that runs a job.

The run directory's outputs are the truth (:mod:`pydriver.sweep.outputs`); ``sweep_state.json``
adds what they cannot tell: pid or SLURM job id, attempts, times, exit code.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydriver.cache import atomic_write_text
from pydriver.rundir import ADAPTIVE_FILE, EXIT_CODE_FILE, STATE_FILE

log = logging.getLogger(__name__)

#: state values; ``done`` means MD complete, ``analyzed`` also has a valid analysis.json
STATUSES = ("pending", "queued", "running", "interrupted", "failed", "done", "analyzed")


def now_iso() -> str:
    """Local time as ISO 8601 with offset, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def atomic_write_json(path: Path, data: dict) -> None:
    """Write JSON through a temporary file, fsync and rename (:func:`pydriver.cache.atomic_write_text`):
    readers never see half a file."""
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``; ``None`` if the file is missing, empty or not a whole JSON object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass
class RunState:
    """Content of ``sweep_state.json``.

    Attributes
    ----------
    status : one of :data:`STATUSES`.
    attempts : MD starts or submissions so far.
    executor : ``local`` or ``slurm``.
    pid, pgid, proc_start_ticks, host : the local process (group) running the job.
    job_id : SLURM job id (``123`` or ``123_4`` for an array task).
    started_at, finished_at : ISO times of the last start and end.
    start_step : LAMMPS step at which the last attempt started (for the rate/ETA).
    exit_code : exit code of the last attempt.
    message : why it failed, or other notes.
    parameters : the run's parameters when its deck was written
        (:func:`pydriver.sweep.expand.run_parameters`), compared field by field on a resume.
    history : one entry per finished attempt.
    """

    status: str = "pending"
    attempts: int = 0
    executor: str | None = None
    pid: int | None = None
    pgid: int | None = None
    proc_start_ticks: int | None = None
    host: str | None = None
    job_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    start_step: int | None = None
    exit_code: int | None = None
    message: str = ""
    parameters: dict | None = None
    history: list = field(default_factory=list)

    @classmethod
    def load(cls, run_dir: Path) -> RunState:
        """State of ``run_dir`` (a fresh ``pending`` state if the file is missing or corrupt)."""
        data = read_json(Path(run_dir) / STATE_FILE)
        if data is None:
            if (Path(run_dir) / STATE_FILE).exists():
                log.warning("%s: unreadable %s, starting a fresh state", run_dir, STATE_FILE)
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        state = cls(**known)
        if state.status not in STATUSES:
            state.status = "pending"
        return state

    def save(self, run_dir: Path) -> None:
        """Write the state atomically."""
        atomic_write_json(Path(run_dir) / STATE_FILE, asdict(self))

    def finish(self, status: str, exit_code: int | None = None, message: str = "") -> None:
        """Record the end of an attempt."""
        self.history.append({"attempt": self.attempts, "status": status, "exit_code": exit_code,
                             "started_at": self.started_at, "finished_at": now_iso(), "job_id": self.job_id,
                             "message": message})
        self.status, self.exit_code, self.message, self.finished_at = status, exit_code, message, now_iso()
        self.pid = self.pgid = self.proc_start_ticks = None


#: verdicts of an adaptive run; ``running`` until the stopping rule decides
ADAPTIVE_STATUSES = ("running", "converged", "capped")


@dataclass
class AdaptiveState:
    """Content of ``adaptive.json``.

    Attributes
    ----------
    status : one of :data:`ADAPTIVE_STATUSES`.
    chunk_end_step : the step the current (or last) production chunk reaches.
    checks : one entry per analysed chunk: ``step``, ``prod_ps``, ``diffusivity_cm2_s``,
        ``diffusivity_std_cm2_s``, ``hops``, ``diffusive``, ``wall_s`` (chunk wall time,
        s), ``steps`` (steps in the chunk), ``checked_at``.
    chunk_started_s : epoch time (s) at which the current chunk was handed out.
    analysis_options : :meth:`AnalysisOptions.to_dict` used by the checks (empty: defaults).
    """

    status: str = "running"
    chunk_end_step: int = 0
    checks: list = field(default_factory=list)
    chunk_started_s: float | None = None
    analysis_options: dict = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: Path) -> AdaptiveState | None:
        """The state of ``run_dir``, or ``None`` before the first chunk."""
        data = read_json(Path(run_dir) / ADAPTIVE_FILE)
        if data is None:
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def save(self, run_dir: Path) -> None:
        """Write ``adaptive.json`` atomically."""
        atomic_write_json(Path(run_dir) / ADAPTIVE_FILE, asdict(self))

    @property
    def finished(self) -> bool:
        """True once converged or capped."""
        return self.status in ("converged", "capped")


def process_start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (``/proc/<pid>/stat`` field 22); ``None`` if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if fields and fields[0] == "Z":  # a zombie has finished
        return None
    return int(fields[19])


def process_alive(state: RunState) -> bool:
    """True if the recorded local process still runs (same host, same pid and start time)."""
    if state.pid is None or state.host not in (None, socket.gethostname()):
        return False
    ticks = process_start_ticks(state.pid)
    return ticks is not None and (state.proc_start_ticks is None or ticks == state.proc_start_ticks)


def read_exit_code(run_dir: Path) -> int | None:
    """Exit code written by the local job wrapper (``None`` if it did not finish)."""
    try:
        return int((Path(run_dir) / EXIT_CODE_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
