"""Per-run state: an atomic JSON state file, and what the run directory's outputs say.

The outputs are the truth; ``sweep_state.json`` adds what they cannot tell (pid or SLURM job id,
attempts, times, exit code). :func:`inspect_outputs` checks them: a run is complete when its
final restart file is whole (LAMMPS writes a magic string at both ends of a restart file) and the
dump's last frame is at the final step and whole. Truncated restart files (a job killed while
writing one) are detected and moved to ``corrupt/``, so resuming reads the previous one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydriver.rundir import (ANALYSIS_FILE, CORRUPT_DIR, DUMP_NAMES, EXIT_CODE_FILE, LOG_FILE, MANIFEST_FILE,
                             RESTART_DIR, RESTART_PREFIX, RUN_LOG, STATE_FILE)

log = logging.getLogger(__name__)

RESTART_MAGIC = b"LammpS RestartT\0"
_RESTART = re.compile(rf"^{re.escape(RESTART_PREFIX)}(\d+)$")
#: state values; ``done`` means MD complete, ``analyzed`` also has a valid analysis.json
STATUSES = ("pending", "queued", "running", "interrupted", "failed", "done", "analyzed")


def now_iso() -> str:
    """Local time as ISO 8601 with offset, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def atomic_write_json(path: Path, data: dict) -> None:
    """Write JSON through a temporary file, fsync and rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    params_sha256 : hash of the run's parameters (detects a changed config).
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
    params_sha256: str | None = None
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


def restart_files(run_dir: Path) -> list[tuple[int, Path]]:
    """``restart/restart.<step>`` files of a run, sorted by step."""
    folder = Path(run_dir) / RESTART_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _RESTART.match(p.name))]
    return sorted(found)


def restart_is_whole(path: Path) -> bool:
    """True if a LAMMPS restart file starts and ends with its magic string (not truncated)."""
    n = len(RESTART_MAGIC)
    try:
        size = path.stat().st_size
        if size < 2 * n:
            return False
        with open(path, "rb") as fh:
            head = fh.read(n)
            fh.seek(size - n)
            tail = fh.read(n)
    except OSError:
        return False
    return head == RESTART_MAGIC and tail == RESTART_MAGIC


def quarantine_bad_restarts(run_dir: Path) -> list[Path]:
    """Move truncated ``restart/restart.<step>`` files to ``corrupt/restart.<step>``.

    Out of ``restart/``, since LAMMPS's ``read_restart restart/restart.*`` takes the largest step
    of any file in that folder whose name merely contains ``restart.``.

    Returns
    -------
    list of Path
        The renamed files (new names).
    """
    moved = []
    for step, path in restart_files(run_dir):
        if not restart_is_whole(path):
            target = Path(run_dir) / CORRUPT_DIR / path.name
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
            log.warning("%s: restart file %s is truncated; moved to %s/", run_dir, path.name, CORRUPT_DIR)
            moved.append(target)
    return moved


def last_dump_frame(path: Path, n_atoms: int) -> tuple[int | None, bool]:
    """Step of the last frame of a LAMMPS text dump and whether that frame is whole.

    Reads only the end of the file. Returns ``(None, False)`` for a missing or empty dump.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return None, False
    chunk = min(size, max(1 << 16, (n_atoms + 20) * 160))
    with open(path, "rb") as fh:
        fh.seek(size - chunk)
        text = fh.read().decode(errors="replace")
    start = text.rfind("ITEM: TIMESTEP\n")
    if start < 0:
        return None, False
    lines = text[start:].split("\n")
    try:
        step = int(lines[1])
        n_frame = int(lines[3])
    except (IndexError, ValueError):
        return None, False
    try:
        atoms_at = next(i for i, line in enumerate(lines) if line.startswith("ITEM: ATOMS"))
    except StopIteration:
        return step, False
    body = lines[atoms_at + 1:]
    whole = text.endswith("\n") and len([b for b in body if b.strip()]) == n_frame == n_atoms
    return step, whole


@dataclass
class Outputs:
    """What a run directory's files say.

    Attributes
    ----------
    deck_ok : ``run.json`` readable (deck complete).
    final_step : last MD step (equilibration + production).
    latest_restart : step of the newest whole restart file (``None``: none).
    last_step : newest step seen in ``log.lammps`` thermo output or restart files.
    complete : MD finished (whole final restart, whole dump frame at the final step).
    analyzed : ``analysis.json`` valid and newer than the dump.
    problem : why the outputs are not complete (empty when complete).
    """

    deck_ok: bool
    final_step: int | None = None
    latest_restart: int | None = None
    last_step: int | None = None
    complete: bool = False
    analyzed: bool = False
    problem: str = ""


def last_thermo_step(log_path: Path, max_bytes: int = 1 << 15) -> int | None:
    """Step of the last thermo line in ``log.lammps`` (its first column), reading only the end."""
    try:
        size = log_path.stat().st_size
        with open(log_path, "rb") as fh:
            fh.seek(max(0, size - max_bytes))
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines = lines[:-1]  # a line being written
    for line in reversed(lines):
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit():
            try:
                [float(p) for p in parts[1:3]]
            except ValueError:
                continue
            return int(parts[0])
    return None


def inspect_outputs(run_dir: Path) -> Outputs:
    """Check a run directory's outputs (see :class:`Outputs`); never raises for bad files."""
    run_dir = Path(run_dir)
    manifest = read_json(run_dir / MANIFEST_FILE)
    if manifest is None:
        return Outputs(False, problem=f"{MANIFEST_FILE} missing or unreadable (deck incomplete)")
    final = int(manifest["equil_steps"]) + int(manifest["prod_steps"])
    whole = [s for s, p in restart_files(run_dir) if restart_is_whole(p)]
    latest = max(whole) if whole else None
    thermo = last_thermo_step(run_dir / manifest.get("log_file", LOG_FILE))
    last = max([s for s in (latest, thermo) if s is not None], default=None)
    out = Outputs(True, final, latest, last)
    if latest is None or latest < final:
        out.problem = f"no whole restart file at the final step {final} (latest: {latest})"
        return out
    step, whole_frame = last_dump_frame(run_dir / manifest.get("dump_file", DUMP_NAMES[0]),
                                        int(manifest["n_atoms"]))
    if step != final or not whole_frame:
        out.problem = f"dump ends at step {step} ({'whole' if whole_frame else 'partial'} frame), expected {final}"
        return out
    out.complete = True
    out.analyzed = analysis_is_valid(run_dir)
    return out


def analysis_is_valid(run_dir: Path) -> bool:
    """``analysis.json`` parses, has transport results, and is newer than the dump."""
    path = Path(run_dir) / ANALYSIS_FILE
    data = read_json(path)
    if data is None or "transport" not in data:
        return False
    dumps = [p for p in (Path(run_dir) / name for name in DUMP_NAMES) if p.exists()]
    return all(path.stat().st_mtime >= d.stat().st_mtime for d in dumps)


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


def current_status(state: RunState, outputs: Outputs, queue=None) -> str:
    """Status of a run from its outputs and state file.

    Parameters
    ----------
    state, outputs : from :meth:`RunState.load` and :func:`inspect_outputs`.
    queue : SLURM queue (:class:`pydriver.sweep.executors.slurm.Queue`); ``None`` keeps a SLURM
        run's recorded ``queued``/``running`` status unchecked.

    Returns
    -------
    str
        ``analyzed``, ``done``, ``running``, ``queued``, ``interrupted``, ``failed`` or ``pending``.
    """
    if outputs.complete:
        return "analyzed" if outputs.analyzed else "done"
    if state.status == "running" and state.executor == "local":
        return "running" if process_alive(state) else "interrupted"
    if state.status in ("queued", "running") and state.executor == "slurm":
        if queue is None:
            return state.status
        slurm_state = queue.get(state.job_id or "")
        if slurm_state is None:
            return "interrupted"
        return "queued" if slurm_state == "PENDING" else "running"
    if state.status == "failed":
        return "failed"
    if outputs.latest_restart is not None or state.status == "interrupted":
        return "interrupted"
    return "pending"
