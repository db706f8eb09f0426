"""Single-pass reader for LAMMPS text dumps (``dump custom``, any file name, plain or gzip).

Positions are parsed one frame at a time, sorted by atom id, unwrapped and appended as float32 to a
scratch file that is finally memory-mapped as ``(n_frames, n_atoms, 3)``; memory stays
O(frames x atoms) on disk and O(atoms) in RAM, never the whole text.

Columns: ``id`` and ``type`` or ``element`` are required; ``mol``, ``element`` (string; names the
types), ``ix iy iz`` are used when present; any other column (``vx``, ``q``, ``c_*``, ``v_*``,
strings) is ignored. Type labels (``dump_modify types labels``) are read as elements. Position
columns, in order of preference: ``xu yu zu``, ``xsu ysu zsu`` (unwrapped), ``x y z`` or
``xs ys zs`` with ``ix iy iz``, and wrapped ``x y z`` / ``xs ys zs`` alone, unwrapped by
minimum-image steps between frames (:class:`pydriver.analysis.trajectory.Unwrapper`; a warning says
the dump stride must be short enough that no atom moves half a cell between frames).

Damaged dumps: a frame cut mid-write (anywhere in the file, e.g. followed by frames a resumed job
appended) is skipped with a warning naming its step, and reading resumes at the next
``ITEM: TIMESTEP``; a gzip file cut by a killed job (no end-of-stream marker) or with damaged
compressed data is read up to the cut, every complete frame kept, with a warning; frames repeated
after a restart (timestep not increasing) replace the earlier
ones with a warning; ids are sorted in every frame; missing ``id``/``type``/position columns and
inconsistent atom sets raise ``ValueError``. Non-finite positions (``nan``, ``inf``: a run that blew
up) are read as they are and the first frame holding one is recorded in
``Trajectory.first_nonfinite`` (the analysis refuses or cuts there:
:func:`pydriver.analysis.trajectory.finite_part`).
"""

from __future__ import annotations

import gzip
import io
import itertools
import logging
import os
import zlib
from pathlib import Path

import numpy as np

from pydriver.analysis.cell import box_to_cell
from pydriver.analysis.trajectory import FrameSink, NonFinite, Trajectory, Unwrapper

log = logging.getLogger(__name__)

__all__ = ["Trajectory", "is_lammps_dump", "read_lammps_dump"]

POSITION_COLUMN_SETS = (("xu", "yu", "zu"), ("xsu", "ysu", "zsu"), ("x", "y", "z"), ("xs", "ys", "zs"))
IMAGE_COLUMNS = ("ix", "iy", "iz")
STRING_COLUMNS = ("element",)
LARGE_STEP_FRACTION = 0.25  # warn when a wrapped atom moves > 1/4 cell between frames
FRAME_START = b"ITEM: TIMESTEP"
#: what reading a gzip stream raises where the file was cut (EOFError) or its data are damaged
GZIP_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def stream_error_warning(name: str, error: BaseException, n_frames: int, last_step: int | str | None = None) -> str:
    """Warning for a gzip stream that ends early (a cut file) or is damaged; the frames before it are kept."""
    what = ("gzip stream ends before its end marker: the file was cut (e.g. a job killed while writing)"
            if isinstance(error, EOFError) else f"gzip data damaged ({error}): nothing after it can be read")
    last = "" if last_step is None else f" (last step {last_step})"
    return f"{name}: {what}; read the {n_frames} complete frames before it{last}"


class _Damaged(Exception):
    """A frame that cannot be parsed; ``lines`` are the lines read from it (for resynchronising)."""

    def __init__(self, message: str, lines: list[bytes], step: int | None):
        super().__init__(message)
        self.lines, self.step = lines, step


class _Lines:
    """Line source over a binary file with push-back (to resume at a frame start inside read lines).

    A gzip stream that ends without its end-of-stream marker (a file cut by a killed job) or whose
    compressed data are damaged ends the lines there; ``stream_error`` then holds the exception.
    """

    def __init__(self, fh):
        self.fh = fh
        self.pending: list[bytes] = []
        self.stream_error: Exception | None = None
        self.lines = self._guarded()

    def _guarded(self):
        try:
            yield from self.fh
        except GZIP_STREAM_ERRORS as exc:
            self.stream_error = exc

    def readline(self) -> bytes:
        return self.pending.pop() if self.pending else next(self.lines, b"")

    def take(self, n: int) -> list[bytes]:
        out = []
        while self.pending and len(out) < n:
            out.append(self.pending.pop())
        return out + list(itertools.islice(self.lines, n - len(out)))

    def push(self, lines: list[bytes]) -> None:
        self.pending.extend(reversed(lines))

    def resync(self, consumed: list[bytes]) -> bool:
        """Continue at the next ``ITEM: TIMESTEP`` in ``consumed`` or the file; False at end of file."""
        for k, line in enumerate(consumed):
            pos = line.find(FRAME_START)
            if pos >= 0:
                self.push([line[pos:]] + consumed[k + 1:])
                return True
        while True:
            line = self.readline()
            if not line:
                return False
            pos = line.find(FRAME_START)
            if pos >= 0:
                self.push([line[pos:]])
                return True


def _open(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def is_lammps_dump(path: str | os.PathLike) -> bool:
    """Whether the file (plain or gzip, also a cut gzip) starts like a LAMMPS text dump."""
    with _open(Path(path)) as fh:
        head = b"".join(itertools.islice(_Lines(fh).lines, 3))
    return head.lstrip().startswith(FRAME_START)


def _read_header(src: _Lines) -> dict | None:
    """Read the ITEM lines of one frame; ``None`` at a clean end of file, :class:`_Damaged` if broken."""
    line = src.readline()
    while line and not line.strip():
        line = src.readline()
    if not line:
        return None
    lines, step = [line], None
    if not line.startswith(FRAME_START):
        raise _Damaged(f"expected 'ITEM: TIMESTEP', got {line[:60]!r}", lines, None)
    try:
        lines += src.take(8)
        step = int(lines[1].split()[0])
        n_atoms = int(lines[3].split()[0])
        box_item = lines[4].decode().split()
        bounds = [[float(v) for v in lines[k].split()] for k in (5, 6, 7)]
        atoms_item = lines[8].decode().split()
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise _Damaged(f"truncated or malformed header ({exc})", lines[1:], step) from exc
    triclinic = "xy" in box_item
    width = 3 if triclinic else 2
    if (len(atoms_item) < 3 or atoms_item[1] != "ATOMS" or box_item[:3] != ["ITEM:", "BOX", "BOUNDS"]
            or any(len(b) < width for b in bounds)):
        raise _Damaged("truncated or malformed frame header", lines[1:], step)
    cell, origin = box_to_cell(np.array([b[:width] for b in bounds]), triclinic)
    return {"step": step, "n_atoms": n_atoms, "cell": cell, "origin": origin, "columns": atoms_item[2:]}


def _column_plan(columns: list[str]) -> dict:
    """Column indices for id, type, element, mol, positions and images, or ``ValueError``."""
    index = {name: i for i, name in enumerate(columns)}
    if "id" not in index or ("type" not in index and "element" not in index):
        raise ValueError(f"dump has no 'id' and 'type' (or 'element') columns; columns {columns}")
    for names in POSITION_COLUMN_SETS:
        if all(n in index for n in names):
            break
    else:
        raise ValueError(f"dump has no position columns; columns {columns}, allowed sets {POSITION_COLUMN_SETS}")
    unwrapped = names[0] in ("xu", "xsu")
    has_images = all(n in index for n in IMAGE_COLUMNS)
    kind = "unwrapped" if unwrapped else ("images" if has_images else "min_image")
    numeric = ["id"] + (["mol"] if "mol" in index else []) + list(names)
    numeric += list(IMAGE_COLUMNS) if kind == "images" else []
    return {"columns": list(columns), "index": index, "numeric": numeric,
            "usecols": [index[n] for n in numeric], "pos": [numeric.index(n) for n in names],
            "images": [numeric.index(n) for n in IMAGE_COLUMNS] if kind == "images" else None,
            "mol": numeric.index("mol") if "mol" in index else None, "scaled": names[0].startswith("xs"),
            "kind": kind, "labels": [n for n in ("type", "element") if n in index],
            "all_numeric": "element" not in index}


def _read_block(src: _Lines, n_atoms: int, plan: dict, step: int) -> tuple[np.ndarray, list[bytes]]:
    """Parse ``n_atoms`` atom lines into ``(n_atoms, n_numeric)`` float64 (+ the raw lines)."""
    lines = src.take(n_atoms)
    blob = b"".join(lines)
    if len(lines) < n_atoms or not lines[-1].endswith(b"\n") or FRAME_START in blob:
        raise _Damaged(f"frame has {sum(FRAME_START not in x for x in lines)} of {n_atoms} atom lines", lines, step)
    n_cols = len(plan["columns"])
    if plan["all_numeric"]:  # fastest: parse every column; the shape check covers the column count
        try:
            data = np.loadtxt(io.BytesIO(blob), dtype=np.float64, ndmin=2)
            if data.shape == (n_atoms, n_cols):
                return data[:, plan["usecols"]], lines
        except ValueError:
            pass
    try:
        data = np.loadtxt(io.BytesIO(blob), dtype=np.float64, usecols=plan["usecols"], ndmin=2)
    except ValueError as exc:
        raise _Damaged(f"unparsable atom lines ({exc})", lines, step) from exc
    n_values = len(blob.split())  # one C-level pass: catches lines that are too long or too short
    if data.shape[0] != n_atoms or n_values != n_atoms * n_cols:
        raise _Damaged(f"{n_values} values in {n_atoms} atom lines of {n_cols} columns", lines, step)
    plan["all_numeric"] = False  # string columns (element, type labels): parse only the numeric ones
    return data, lines


def _labels(lines: list[bytes], plan: dict, order: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Types (int) and elements (str or None) of the first frame, rows sorted by id."""
    table = [x.split() for x in lines]
    index = plan["index"]
    raw_types = [row[index["type"]].decode() for row in table] if "type" in index else None
    elements = [row[index["element"]].decode() for row in table] if "element" in index else None
    if raw_types is not None and all(t.lstrip("-").isdigit() for t in raw_types):
        types = np.array([int(t) for t in raw_types], dtype=np.int64)
    else:  # type labels (dump_modify types labels) or only an element column: number them by name
        names = raw_types if raw_types is not None else elements
        elements = elements if elements is not None else names
        numbering = {name: k + 1 for k, name in enumerate(sorted(set(names)))}
        types = np.array([numbering[n] for n in names], dtype=np.int64)
    types = types[order]
    return types, None if elements is None else np.array(elements)[order]


def read_lammps_dump(path: str | os.PathLike, scratch_dir: str | os.PathLike | None = None) -> Trajectory:
    """Read a LAMMPS text dump (any name, optionally gzip) into an unwrapped :class:`Trajectory`.

    Parameters
    ----------
    path : dump file (``dump custom`` with ``id``, ``type`` or ``element``, and a position column set).
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
    state = {"steps": [], "cells": [], "origins": [], "ref_ids": None, "types": None, "elements": None,
             "mol": None, "plan": None, "warnings": [], "sink": None, "unwrap": None, "nonfinite": []}
    try:
        with _open(path) as fh:
            src = _Lines(fh)
            _read_frames(src, path, state, Path(scratch_dir) if scratch_dir else None)
    except BaseException:
        if state["sink"] is not None:
            state["sink"].discard()
        raise
    if src.stream_error is not None:
        _warn(state, stream_error_warning(path.name, src.stream_error, len(state["steps"]), _last(state)))
    if state["sink"] is None or not state["steps"]:
        raise ValueError(f"{path}: no complete frame in dump")
    return _finish(state)


def _read_frames(src: _Lines, path: Path, state: dict, scratch_dir: Path | None) -> None:
    while True:
        try:
            header = _read_header(src)
            if header is None:
                return
            if state["plan"] is None:
                state["plan"] = _column_plan(header["columns"])
                state["unwrap"] = Unwrapper(state["plan"]["kind"], state["plan"]["scaled"])
                state["sink"] = FrameSink(header["n_atoms"], scratch_dir)
            elif header["columns"] != state["plan"]["columns"]:
                raise ValueError(f"columns change at step {header['step']}: {header['columns']} "
                                 f"vs {state['plan']['columns']}")
            data, lines = _read_block(src, header["n_atoms"], state["plan"], header["step"])
        except _Damaged as exc:
            at_end = not src.resync(exc.lines)
            where = f"step {exc.step}" if exc.step is not None else f"after step {_last(state)}"
            if at_end:
                _warn(state, f"{path.name}: incomplete last frame ({where}) dropped: {exc}")
                return
            _warn(state, f"{path.name}: damaged frame at {where} skipped ({exc}); reading resumes at the next "
                         "ITEM: TIMESTEP")
            continue
        _accept_frame(state, header, data, lines)


def _last(state: dict) -> str:
    return str(state["steps"][-1]) if state["steps"] else "none (start of file)"


def _warn(state: dict, message: str) -> None:
    log.warning(message)
    state["warnings"].append(message)


def _sorted_frame(data: np.ndarray, ref_ids: np.ndarray | None, step: int) -> tuple[np.ndarray, np.ndarray]:
    ids = data[:, 0].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    if ref_ids is not None and not np.array_equal(ids[order], ref_ids):
        raise ValueError(f"atom ids at step {step} differ from the first frame (missing or duplicate ids)")
    if np.any(np.diff(ids[order]) == 0):
        raise ValueError(f"duplicate atom ids at step {step}")
    return data[order], order


def _accept_frame(state: dict, header: dict, data: np.ndarray, lines: list[bytes]) -> None:
    plan, step, sink, unwrap = state["plan"], header["step"], state["sink"], state["unwrap"]
    data, order = _sorted_frame(data, state["ref_ids"], step)
    if state["ref_ids"] is None:
        state["ref_ids"] = data[:, 0].astype(np.int64)
        state["types"], state["elements"] = _labels(lines, plan, order)
        state["mol"] = data[:, plan["mol"]].astype(np.int64) if plan["mol"] is not None else None
    steps = state["steps"]
    if steps and step <= steps[-1]:
        keep = int(np.searchsorted(np.array(steps), step))
        _warn(state, f"timestep {step} follows {steps[-1]} (restart?): {len(steps) - keep} earlier frame(s) "
                     "from that step on replaced by the new ones")
        del steps[keep:]
        del state["cells"][keep:]
        del state["origins"][keep:]
        state["nonfinite"] = [bad for bad in state["nonfinite"] if bad.frame < keep]
        sink.rewind(keep)
        if plan["kind"] == "min_image":  # continue from the last kept frame
            last = sink.read_back(keep - 1) if keep > 0 else None
            unwrap.restart_from(last, state["cells"][-1] if keep else None, state["origins"][-1] if keep else None)
    images = data[:, plan["images"]] if plan["images"] is not None else None
    finite = np.isfinite(data[:, plan["pos"]]).all(axis=1)
    if images is not None:
        finite &= np.isfinite(images).all(axis=1)
    if not finite.all() or not np.isfinite(header["cell"]).all():
        if not state["nonfinite"]:
            ids = tuple(int(i) for i in data[~finite, 0])
            state["nonfinite"].append(NonFinite(len(steps), step, ids))
    with np.errstate(invalid="ignore"):
        sink.append(unwrap(data[:, plan["pos"]], images, header["cell"], header["origin"]))
    steps.append(step)
    state["cells"].append(header["cell"])
    state["origins"].append(header["origin"])


def _finish(state: dict) -> Trajectory:
    plan, unwrap = state["plan"], state["unwrap"]
    if plan["kind"] == "min_image":
        _warn(state, "dump has wrapped coordinates without image flags: unwrapped by minimum-image steps "
                     "between frames; the dump stride must be short enough that no atom moves half a cell "
                     f"between frames (largest step seen: {unwrap.max_jump_frac:.2f} of a cell)")
        if unwrap.max_jump_frac > LARGE_STEP_FRACTION:
            _warn(state, f"largest step {unwrap.max_jump_frac:.2f} of a cell exceeds {LARGE_STEP_FRACTION}: "
                         "unwrapping may be wrong; dump more often or dump xu yu zu")
    if state["nonfinite"]:
        _warn(state, state["nonfinite"][0].warning())
    if plan["mol"] is None:
        _warn(state, "dump has no 'mol' column: molecule ids must come from data.lmp or clustering")
    positions = state["sink"].finish(len(state["steps"]))
    return Trajectory(steps=np.array(state["steps"], dtype=np.int64), positions_A=positions,
                      cells_A=np.array(state["cells"]), ids=state["ref_ids"], types=state["types"],
                      mol_ids=state["mol"], coordinates=plan["kind"], warnings=state["warnings"],
                      elements=state["elements"], source_format="lammps-dump",
                      first_nonfinite=state["nonfinite"][0] if state["nonfinite"] else None)
