"""Free disk space before an MD chunk starts: what the chunk will write, from what the run wrote so far.

A chunk that runs out of space stops LAMMPS mid-frame and leaves a resume with nothing to work in,
so a chunk starts only when the file system holds what it will write: dump frames (the size of the
run's first frame, or of an estimate from the atom count and dump columns before there is one),
restart files (the newest one's size, or an estimate) and thermo lines, with a 10 % margin plus
:data:`MARGIN_BYTES`.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from pydriver.rundir import RunManifest
from pydriver.sweep.outputs import restart_files, restart_is_whole

#: fixed headroom on top of the estimate, bytes
MARGIN_BYTES = 1 << 20
#: bytes of one text dump value (``%.6f`` floats and ids) and of one thermo line
_VALUE_BYTES, _THERMO_LINE_BYTES = 12, 200


class NotEnoughDiskSpace(OSError):
    """The file system of a run directory cannot hold what the next chunk will write."""

    def __init__(self, message: str):
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return self.strerror


def format_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'``, ``3.2e9 -> '3.0 GiB'``."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"


def dump_frame_bytes(run_dir: Path, manifest: RunManifest) -> int:
    """Bytes of one dump frame: the dump's first frame, else estimated from atoms x dump columns."""
    path = Path(run_dir) / manifest.dump_file
    try:
        if path.stat().st_size > 0:
            return _frame_end(path)
    except OSError:
        pass
    return (manifest.n_atoms or 0) * (_VALUE_BYTES * len(manifest.dump_columns) + 2) + 200


def _frame_end(path: Path) -> int:
    """Byte offset of the second ``ITEM: TIMESTEP`` line (the first frame's size)."""
    offset = 0
    with open(path, "rb") as fh:
        for i, line in enumerate(fh):
            if i > 0 and line.startswith(b"ITEM: TIMESTEP"):
                return offset
            offset += len(line)
    return offset


def restart_bytes(run_dir: Path, manifest: RunManifest) -> int:
    """Bytes of one restart file: the newest whole one, else about 200 bytes per atom plus a header."""
    for _step, path in reversed(restart_files(run_dir)):
        if restart_is_whole(path):
            return path.stat().st_size
    return (manifest.n_atoms or 0) * 200 + 50_000


def chunk_bytes(run_dir: Path, from_step: int, to_step: int) -> dict[str, int]:
    """Bytes an MD chunk from ``from_step`` to ``to_step`` will write: ``{"dump", "restart", "log", "total"}``.

    ``total`` includes the margin (10 % and :data:`MARGIN_BYTES`).

    Raises
    ------
    FileNotFoundError, ValueError
        If ``run_dir/run.json`` is missing or not a run manifest (:meth:`pydriver.rundir.RunManifest.read`).
    """
    manifest = RunManifest.read(run_dir)
    equil = manifest.equil_steps or 0
    dump_every = max(1, manifest.dump_every or 1)
    restart_every = max(1, manifest.restart_every or to_step or 1)
    thermo_every = max(1, manifest.thermo_every or 100)
    dump_from = max(from_step, equil)
    frames = max(0, to_step - dump_from) // dump_every + (1 if to_step >= dump_from else 0)
    sizes = {"dump": frames * dump_frame_bytes(run_dir, manifest),
             "restart": (max(0, to_step - from_step) // restart_every + 1) * restart_bytes(run_dir, manifest),
             "log": max(0, to_step - from_step) // thermo_every * _THERMO_LINE_BYTES}
    sizes["total"] = int(1.1 * sum(sizes.values())) + MARGIN_BYTES
    return sizes


def check_chunk_space(run_dir: Path, to_step: int) -> dict[str, int]:
    """:func:`check_free_space` for a chunk that resumes from the newest whole restart file (step 0
    without one) and runs to ``to_step``; raises :class:`NotEnoughDiskSpace` like it."""
    whole = [step for step, path in restart_files(run_dir) if restart_is_whole(path)]
    return check_free_space(run_dir, max(whole, default=0), to_step)


def check_free_space(run_dir: Path, from_step: int, to_step: int) -> dict[str, int]:
    """Refuse an MD chunk the file system of ``run_dir`` cannot hold; returns :func:`chunk_bytes`.

    Raises
    ------
    NotEnoughDiskSpace
        ``steps 100..500 will write about 2.1 GiB (dump 1.8 GiB, restart files 0.3 GiB); 1.0 GiB free
        in RUN_DIR``.
    """
    sizes = chunk_bytes(run_dir, from_step, to_step)
    free = shutil.disk_usage(run_dir).free
    if free < sizes["total"]:
        raise NotEnoughDiskSpace(
            f"steps {from_step}..{to_step} will write about {format_bytes(sizes['total'])} (dump "
            f"{format_bytes(sizes['dump'])}, restart files {format_bytes(sizes['restart'])}); "
            f"{format_bytes(free)} free in {run_dir}")
    return sizes
