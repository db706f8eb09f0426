"""Single-pass reader for LAMMPS text dumps (``dump custom``, plain or gzip).

Positions are parsed one frame at a time, sorted by atom id, unwrapped and appended as float32 to a
scratch file that is finally memory-mapped as ``(n_frames, n_atoms, 3)``; memory stays
O(frames x atoms) on disk and O(atoms) in RAM, never the whole text.

Coordinate columns, in order of preference:

* ``xu yu zu`` -- already unwrapped;
* ``x y z`` with ``ix iy iz`` -- unwrapped as ``x + ix a + iy b + iz c`` with each frame's cell;
* ``xs ys zs`` (+ images) -- scaled, converted with each frame's cell;
* wrapped ``x y z`` alone -- unwrapped by minimum-image steps between consecutive frames (in
  fractional coordinates, so correct under NPT and for triclinic cells); a warning says the dump
  stride must be short enough that no atom moves half a cell between frames.

Damaged dumps: a truncated last frame is dropped with a warning; frames repeated after a restart
(timestep not increasing) replace the earlier ones with a warning; ids are sorted in every frame;
a missing ``mol`` column gives ``mol_ids = None`` (the caller falls back to ``data.lmp`` or
clustering); missing ``id``/``type``/position columns and inconsistent atom sets raise ``ValueError``.
"""

from __future__ import annotations

import gzip
import io
import itertools
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pydriver.analysis.cell import box_to_cell, cart_to_frac, frac_to_cart

log = logging.getLogger(__name__)

POSITION_COLUMN_SETS = (("xu", "yu", "zu"), ("x", "y", "z"), ("xs", "ys", "zs"), ("xsu", "ysu", "zsu"))
IMAGE_COLUMNS = ("ix", "iy", "iz")
LARGE_STEP_FRACTION = 0.25  # warn when a wrapped atom moves > 1/4 cell between frames


@dataclass
class Trajectory:
    """Unwrapped trajectory read from a LAMMPS dump.

    Attributes
    ----------
    steps : (n_frames,) int64 -- LAMMPS timesteps.
    positions_A : (n_frames, n_atoms, 3) float32 -- unwrapped Cartesian positions (memory-mapped).
    cells_A : (n_frames, 3, 3) float64 -- cell vectors as rows (a, b, c).
    ids : (n_atoms,) int64 -- atom ids, ascending; row j of every frame is atom ``ids[j]``.
    types : (n_atoms,) int64 -- LAMMPS atom types.
    mol_ids : (n_atoms,) int64 or None -- molecule ids when the dump has a ``mol`` column.
    coordinates : str -- how positions were obtained (``unwrapped``, ``images``, ``scaled``,
        ``min_image``).
    """

    steps: np.ndarray
    positions_A: np.ndarray
    cells_A: np.ndarray
    ids: np.ndarray
    types: np.ndarray
    mol_ids: np.ndarray | None
    coordinates: str
    warnings: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.positions_A.shape[0])

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return int(self.positions_A.shape[1])

    @property
    def volumes_A3(self) -> np.ndarray:
        """(n_frames,) cell volumes in A^3."""
        return np.abs(np.linalg.det(self.cells_A))


def _open(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _read_header(fh) -> dict | None:
    """Read the ITEM lines of one frame; ``None`` at a clean end of file."""
    line = fh.readline()
    while line and not line.strip():
        line = fh.readline()
    if not line:
        return None
    if not line.startswith(b"ITEM: TIMESTEP"):
        raise ValueError(f"expected 'ITEM: TIMESTEP', got {line[:60]!r}")
    try:
        step = int(fh.readline().split()[0])
        fh.readline()  # ITEM: NUMBER OF ATOMS
        n_atoms = int(fh.readline().split()[0])
        box_item = fh.readline().decode().split()
        bounds = [[float(v) for v in fh.readline().split()] for _ in range(3)]
        atoms_item = fh.readline().decode().split()
    except (IndexError, ValueError) as exc:
        raise EOFError(f"truncated header after timestep line: {exc}") from exc
    if len(atoms_item) < 3 or atoms_item[1] != "ATOMS" or any(len(b) < 2 for b in bounds):
        raise EOFError("truncated or malformed frame header")
    triclinic = "xy" in box_item
    cell, origin = box_to_cell(np.array(bounds), triclinic)
    return {"step": step, "n_atoms": n_atoms, "cell": cell, "origin": origin, "columns": atoms_item[2:]}


def _column_plan(columns: list[str]) -> dict:
    """Column indices for id, type, mol, positions and images, or ``ValueError``."""
    index = {name: i for i, name in enumerate(columns)}
    for required in ("id", "type"):
        if required not in index:
            raise ValueError(f"dump has no '{required}' column; columns {columns}, required 'id' and 'type'")
    for names in POSITION_COLUMN_SETS:
        if all(n in index for n in names):
            pos = [index[n] for n in names]
            break
    else:
        raise ValueError(f"dump has no position columns; columns {columns}, allowed sets {POSITION_COLUMN_SETS}")
    images = [index[n] for n in IMAGE_COLUMNS] if all(n in index for n in IMAGE_COLUMNS) else None
    unwrapped = names[0] in ("xu", "xsu")
    kind = "unwrapped" if unwrapped else ("images" if images else "min_image")
    if names[0].startswith("xs") and not unwrapped and images is None:
        kind = "min_image"
    return {"id": index["id"], "type": index["type"], "mol": index.get("mol"), "pos": pos,
            "images": None if unwrapped else images, "scaled": names[0].startswith("xs"), "kind": kind,
            "columns": list(columns)}


def _read_block(fh, n_atoms: int, n_cols: int) -> np.ndarray:
    """Parse ``n_atoms`` lines into ``(n_atoms, n_cols)`` float64; ``EOFError`` if short."""
    lines = list(itertools.islice(fh, n_atoms))
    if len(lines) < n_atoms or not lines[-1].endswith(b"\n"):
        raise EOFError(f"frame has {len(lines)} of {n_atoms} atom lines")
    try:
        data = np.loadtxt(io.BytesIO(b"".join(lines)), dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise EOFError(f"unparsable atom lines: {exc}") from exc
    if data.shape != (n_atoms, n_cols):
        raise EOFError(f"atom block shape {data.shape}, expected {(n_atoms, n_cols)}")
    return data


class _FrameSink:
    """Append-only float32 scratch file, rewindable for restarts, mapped at the end."""

    def __init__(self, n_atoms: int, scratch_dir: Path | None):
        fd, name = tempfile.mkstemp(prefix="pydriver_traj_", suffix=".f32", dir=scratch_dir)
        self.path = Path(name)
        self.fh = os.fdopen(fd, "w+b")
        self.frame_bytes = n_atoms * 3 * 4
        self.n_atoms = n_atoms

    def rewind(self, n_frames: int) -> None:
        self.fh.seek(n_frames * self.frame_bytes)
        self.fh.truncate()

    def append(self, positions: np.ndarray) -> None:
        self.fh.write(np.ascontiguousarray(positions, dtype=np.float32).tobytes())

    def finish(self, n_frames: int) -> np.ndarray:
        self.fh.close()
        if n_frames == 0:
            self.path.unlink(missing_ok=True)
            return np.zeros((0, self.n_atoms, 3), dtype=np.float32)
        mm = np.memmap(self.path, dtype=np.float32, mode="r", shape=(n_frames, self.n_atoms, 3))
        try:  # the mapping keeps the data alive on POSIX; the name can go now
            self.path.unlink()
        except OSError:  # pragma: no cover - e.g. Windows
            pass
        return mm


class _Unwrapper:
    """Turns one sorted frame into unwrapped Cartesian positions."""

    def __init__(self, plan: dict):
        self.plan = plan
        self.prev_frac: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.max_jump_frac = 0.0

    def __call__(self, data: np.ndarray, cell: np.ndarray, origin: np.ndarray) -> np.ndarray:
        p = self.plan
        xyz = data[:, p["pos"]]
        frac = xyz if p["scaled"] else cart_to_frac(xyz - origin, cell)
        if p["kind"] == "unwrapped":
            return frac_to_cart(frac, cell) + (0.0 if p["scaled"] else origin)
        if p["kind"] == "images":
            return frac_to_cart(frac + data[:, p["images"]], cell) + origin
        if self.prev_frac is None:
            self.image = np.zeros_like(frac)
        else:  # track image counts like LAMMPS: x_unwrapped = x + image . cell(t), exact under NPT
            dfrac = frac - self.prev_frac
            jump = np.round(dfrac)
            self.max_jump_frac = max(self.max_jump_frac, float(np.abs(dfrac - jump).max(initial=0.0)))
            self.image = self.image - jump
        self.prev_frac = frac
        out = frac_to_cart(frac + self.image, cell) + origin
        return out


def _sorted_frame(data: np.ndarray, plan: dict, ref_ids: np.ndarray | None, step: int) -> np.ndarray:
    ids = data[:, plan["id"]].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    data = data[order]
    if ref_ids is not None and not np.array_equal(ids[order], ref_ids):
        raise ValueError(f"atom ids at step {step} differ from the first frame (missing or duplicate ids)")
    if np.any(np.diff(ids[order]) == 0):
        raise ValueError(f"duplicate atom ids at step {step}")
    return data


def read_lammps_dump(path: str | os.PathLike, scratch_dir: str | os.PathLike | None = None) -> Trajectory:
    """Read a LAMMPS text dump (optionally gzip) into an unwrapped :class:`Trajectory`.

    Parameters
    ----------
    path : dump file (``dump custom`` with ``id type`` and a position column set; ``.gz`` allowed).
    scratch_dir : folder for the float32 scratch file (default: the system temp folder).

    Returns
    -------
    Trajectory
        Positions ``(n_frames, n_atoms, 3)`` float32 in A, memory-mapped.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For missing required columns, changing atom sets or columns, or no complete frame.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dump file not found: {path}")
    state = {"steps": [], "cells": [], "origins": [], "ref_ids": None, "types": None, "mol": None, "plan": None,
             "warnings": []}
    sink = None
    with _open(path) as fh:
        while True:
            try:
                header = _read_header(fh)
                if header is None:
                    break
                if state["plan"] is None:
                    state["plan"] = _column_plan(header["columns"])
                    unwrap = _Unwrapper(state["plan"])
                    sink = _FrameSink(header["n_atoms"], Path(scratch_dir) if scratch_dir else None)
                elif header["columns"] != state["plan"]["columns"]:
                    raise ValueError(f"columns change at step {header['step']}: {header['columns']} "
                                     f"vs {state['plan']['columns']}")
                data = _read_block(fh, header["n_atoms"], len(header["columns"]))
            except EOFError as exc:
                _warn(state, f"{path.name}: incomplete last frame dropped ({exc})")
                break
            _accept_frame(state, header, data, unwrap, sink)
    if sink is None or not state["steps"]:
        raise ValueError(f"{path}: no complete frame in dump")
    return _finish(state, sink, unwrap)


def _warn(state: dict, message: str) -> None:
    log.warning(message)
    state["warnings"].append(message)


def _accept_frame(state: dict, header: dict, data: np.ndarray, unwrap: _Unwrapper, sink: _FrameSink) -> None:
    plan, step = state["plan"], header["step"]
    data = _sorted_frame(data, plan, state["ref_ids"], step)
    if state["ref_ids"] is None:
        state["ref_ids"] = data[:, plan["id"]].astype(np.int64)
        state["types"] = data[:, plan["type"]].astype(np.int64)
        state["mol"] = data[:, plan["mol"]].astype(np.int64) if plan["mol"] is not None else None
    steps = state["steps"]
    if steps and step <= steps[-1]:
        keep = int(np.searchsorted(np.array(steps), step))
        _warn(state, f"timestep {step} follows {steps[-1]} (restart?): {len(steps) - keep} earlier frame(s) "
                     "from that step on replaced by the new ones")
        del steps[keep:]
        del state["cells"][keep:]
        del state["origins"][keep:]
        sink.rewind(keep)
        if plan["kind"] == "min_image" and keep > 0:  # continue from the last kept frame
            last = np.frombuffer(_read_back(sink, keep - 1), dtype=np.float32).reshape(-1, 3)
            frac = cart_to_frac(last.astype(np.float64) - state["origins"][-1], state["cells"][-1])
            unwrap.image = np.floor(frac + 1e-6)
            unwrap.prev_frac = frac - unwrap.image
        elif keep == 0:
            unwrap.prev_frac = unwrap.image = None
    sink.append(unwrap(data, header["cell"], header["origin"]))
    steps.append(step)
    state["cells"].append(header["cell"])
    state["origins"].append(header["origin"])


def _read_back(sink: _FrameSink, index: int) -> bytes:
    sink.fh.flush()
    sink.fh.seek(index * sink.frame_bytes)
    raw = sink.fh.read(sink.frame_bytes)
    sink.fh.seek(0, os.SEEK_END)
    return raw


def _finish(state: dict, sink: _FrameSink, unwrap: _Unwrapper) -> Trajectory:
    plan = state["plan"]
    if plan["kind"] == "min_image":
        _warn(state, "dump has wrapped coordinates without image flags: unwrapped by minimum-image steps "
                     "between frames; the dump stride must be short enough that no atom moves half a cell "
                     f"between frames (largest step seen: {unwrap.max_jump_frac:.2f} of a cell)")
        if unwrap.max_jump_frac > LARGE_STEP_FRACTION:
            _warn(state, f"largest step {unwrap.max_jump_frac:.2f} of a cell exceeds {LARGE_STEP_FRACTION}: "
                         "unwrapping may be wrong; dump more often or dump xu yu zu")
    if plan["mol"] is None:
        _warn(state, "dump has no 'mol' column: molecule ids must come from data.lmp or clustering")
    positions = sink.finish(len(state["steps"]))
    return Trajectory(steps=np.array(state["steps"], dtype=np.int64), positions_A=positions,
                      cells_A=np.array(state["cells"]), ids=state["ref_ids"], types=state["types"],
                      mol_ids=state["mol"], coordinates=plan["kind"], warnings=state["warnings"])
