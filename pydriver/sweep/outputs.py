"""What a run directory's files say: restart files, the dump's last frame, thermo steps, completeness.

A run is complete when its final restart file is whole (LAMMPS writes a magic string at both ends
of a restart file) and the dump's last frame is at the final step and whole. Truncated restart
files (a job killed while writing one) are detected and moved to ``corrupt/``, so resuming reads
the previous one. For adaptive runs (:mod:`pydriver.sweep.adaptive`) the final step is the end
of the last production chunk, known once the stopping rule has decided.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from pydriver.rundir import (ANALYSIS_FILE, CORRUPT_DIR, DUMP_NAMES, INPUT_FILE, LOG_FILE, MANIFEST_FILE,
                             RESTART_DIR, RESTART_PREFIX, RUN_LOG)
from pydriver.sweep.run_state import AdaptiveState, read_json

log = logging.getLogger(__name__)

RESTART_MAGIC = b"LammpS RestartT\0"
_RESTART = re.compile(rf"^{re.escape(RESTART_PREFIX)}(\d+)$")


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


_SOURCE_LOCATION = re.compile(r"\s*\([^()]*\.(?:cpp|h):\d+\)\s*$")
#: how much of the end of a log :func:`failure_cause` reads, bytes
_LOG_TAIL_BYTES = 1 << 16


def _log_tail(path: Path, start_marker: str) -> list[str]:
    """The lines of the last attempt in a log: after the last line starting with ``start_marker``."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            fh.seek(max(0, size - _LOG_TAIL_BYTES))
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    starts = [i for i, line in enumerate(lines) if line.startswith(start_marker)]
    return lines[starts[-1]:] if starts else lines


def failure_cause(run_dir: Path, job_logs: tuple[Path, ...] = ()) -> str | None:
    """The error that ended a run's last attempt, in one line, or ``None`` when no log names one.

    Looks, in order, in ``log.lammps`` (LAMMPS's ``ERROR: ...``, without the source location), in the
    local executor's ``sweep_run.log`` and in ``job_logs`` (the SLURM output of the job): the last
    ``ERROR``/``error:`` line of the last attempt, e.g. ``ERROR: Pair style m3gnet: cannot open model
    file ../model/m.pt`` or the job script's ``error: no LAMMPS executable 'lmp' here: ...``.
    """
    run_dir = Path(run_dir)
    # the deck opens log.lammps (appending on resume) right before its `units` line; the local executor
    # writes a `=== attempt N` header into sweep_run.log; an array task starts with `array task N:`
    candidates = [(run_dir / LOG_FILE, "units "), (run_dir / RUN_LOG, "=== "),
                  *((Path(p), "array task ") for p in job_logs)]
    for path, marker in candidates:
        errors = [line.strip() for line in _log_tail(path, marker)
                  if line.lstrip().startswith(("ERROR", "error:", "Error:")) or ": command not found" in line
                  or "No such file or directory" in line]
        if errors:
            return _SOURCE_LOCATION.sub("", errors[-1])[:300]
    return None


def deck_model_found(run_dir: Path) -> bool:
    """True if the model file that ``in.lammps`` names in ``pair_coeff`` exists, seen from the run directory
    (also True for a deck without a readable ``pair_coeff`` line: nothing to check)."""
    try:
        text = (Path(run_dir) / INPUT_FILE).read_text()
    except OSError:
        return True
    for line in text.splitlines():
        if line.startswith("pair_coeff"):
            try:
                words = shlex.split(line)
            except ValueError:
                return True
            return len(words) < 4 or (Path(run_dir) / words[3]).is_file()
    return True


@dataclass
class Outputs:
    """What a run directory's files say.

    Attributes
    ----------
    deck_ok : ``run.json`` readable (deck complete).
    final_step : last MD step (equilibration + production).
    latest_restart : step of the newest whole restart file (``None``: none).
    last_step : newest step seen in ``log.lammps`` thermo output or restart files.
    complete : MD finished (whole final restart, whole dump frame at the final step; or, after the
        trajectory and restarts were deleted to save space, an analysis of the whole run).
    analyzed : ``analysis.json`` valid and newer than the dump.
    problem : why the outputs are not complete (empty when complete).
    trajectory_removed : complete and analysed, its dump deleted afterwards (kept results of a
        finished sweep; the run is not redone).
    """

    deck_ok: bool
    final_step: int | None = None
    latest_restart: int | None = None
    last_step: int | None = None
    complete: bool = False
    analyzed: bool = False
    problem: str = ""
    trajectory_removed: bool = False


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


def is_adaptive(manifest: dict | None) -> bool:
    """True if a ``run.json`` dict asks for adaptive production (it has a ``target``)."""
    return bool(manifest and manifest.get("target"))


def chunk_complete(run_dir: Path, manifest: dict, end_step: int) -> bool:
    """True if a whole restart file exists at ``end_step`` or later and the dump ends at ``end_step`` whole."""
    whole = [s for s, p in restart_files(run_dir) if restart_is_whole(p)]
    if not whole or max(whole) < end_step:
        return False
    step, whole_frame = last_dump_frame(Path(run_dir) / manifest.get("dump_file", DUMP_NAMES[0]),
                                        int(manifest["n_atoms"]))
    return step == end_step and whole_frame


def _final_step(run_dir: Path, manifest: dict) -> tuple[int, str]:
    """(last MD step, why it is not complete yet if adaptive and undecided, else "")."""
    if not is_adaptive(manifest):
        return int(manifest["equil_steps"]) + int(manifest["prod_steps"]), ""
    state = AdaptiveState.load(run_dir)
    if state is None:
        return int(manifest["equil_steps"]), "adaptive run not started"
    return state.chunk_end_step, "" if state.finished else f"adaptive run {state.status} (chunk to step " \
        f"{state.chunk_end_step}, {len(state.checks)} checks so far)"


def inspect_outputs(run_dir: Path) -> Outputs:
    """Check a run directory's outputs (see :class:`Outputs`); never raises for bad files."""
    run_dir = Path(run_dir)
    manifest = read_json(run_dir / MANIFEST_FILE)
    if manifest is None:
        return Outputs(False, problem=f"{MANIFEST_FILE} missing or unreadable (deck incomplete)")
    final, undecided = _final_step(run_dir, manifest)
    whole = [s for s, p in restart_files(run_dir) if restart_is_whole(p)]
    latest = max(whole) if whole else None
    thermo = last_thermo_step(run_dir / manifest.get("log_file", LOG_FILE))
    last = max([s for s in (latest, thermo) if s is not None], default=None)
    out = Outputs(True, final, latest, last)
    if not undecided and _analysed_then_trajectory_removed(run_dir, final, thermo):
        out.complete = out.analyzed = out.trajectory_removed = True
        return out
    if latest is None or latest < final:
        out.problem = f"no whole restart file at the final step {final} (latest: {latest})"
        return out
    step, whole_frame = last_dump_frame(run_dir / manifest.get("dump_file", DUMP_NAMES[0]),
                                        int(manifest["n_atoms"]))
    if step != final or not whole_frame:
        out.problem = f"dump ends at step {step} ({'whole' if whole_frame else 'partial'} frame), expected {final}"
        return out
    if undecided:
        out.problem = undecided
        return out
    out.complete = True
    out.analyzed = analysis_is_valid(run_dir)
    return out


def _analysed_then_trajectory_removed(run_dir: Path, final: int, thermo_step: int | None) -> bool:
    """No dump file, but LAMMPS reached ``final`` (log.lammps) and ``analysis.json`` covers the run to ``final``."""
    if any((run_dir / name).exists() for name in DUMP_NAMES) or thermo_step is None or thermo_step < final:
        return False
    data = read_json(run_dir / ANALYSIS_FILE)
    return bool(data and "transport" in data and (data.get("run") or {}).get("last_step") == final)


def analysis_is_valid(run_dir: Path) -> bool:
    """``analysis.json`` parses, has transport results, and is newer than the dump."""
    path = Path(run_dir) / ANALYSIS_FILE
    data = read_json(path)
    if data is None or "transport" not in data:
        return False
    dumps = [p for p in (Path(run_dir) / name for name in DUMP_NAMES) if p.exists()]
    return all(path.stat().st_mtime >= d.stat().st_mtime for d in dumps)
