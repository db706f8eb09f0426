"""Trajectories from other codes through ASE's readers: VASP XDATCAR, extended XYZ, ASE .traj, ...

Frames are streamed (``ase.io.iread``) into the same :class:`~pydriver.analysis.trajectory.Trajectory`
as LAMMPS dumps. Positions, usually wrapped, are unwrapped by minimum-image steps between frames in
fractional coordinates (exact for NPT cells as long as no atom moves half a cell between frames;
for positions that are already unwrapped this changes nothing).

The MD step of each frame comes from the file where it carries one, in this order: an extxyz
comment key of :data:`STEP_KEYS` (LAMMPS ``dump extxyz`` writes ``Timestep=``); the MD description
of an ASE ``.traj`` (``interval`` steps between frames, ``timestep``); a time stamp of
:data:`TIME_FS_KEYS` in fs (GPUMD's ``dump_exyz`` writes ``Time=``), turned into steps once the MD
time step is known (:func:`pydriver.analysis.run_inputs.frame_steps`). Otherwise (XDATCAR, bare
extxyz) the frames are ``dump_every`` steps apart, and without ``dump_every`` the interval is
unknown (``step_source == "unknown"``) and the analysis refuses to guess it.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np
from ase import units
from ase.io import iread
from ase.io.formats import UnknownFileTypeError

from pydriver.analysis.dump_reader import GZIP_STREAM_ERRORS, stream_error_warning
from pydriver.analysis.trajectory import FrameSink, NonFinite, Trajectory, Unwrapper

log = logging.getLogger(__name__)

#: ASE format names by file-name pattern (anything else: ASE's own detection)
ASE_FORMATS = {"XDATCAR": "vasp-xdatcar", ".extxyz": "extxyz", ".xyz": "extxyz", ".traj": "traj"}
#: per-frame keys (extxyz comment line, ``atoms.info``) holding the frame's MD step, in order of preference
STEP_KEYS = ("Timestep", "timestep", "step", "Step")
#: per-frame keys holding the frame's simulation time, read in fs
TIME_FS_KEYS = ("Time", "time")
#: what a reader raises on a file it cannot read (at the first frame) or that ends mid-frame (later)
READ_ERRORS = (UnknownFileTypeError, StopIteration, OSError, KeyError, IndexError, ValueError, EOFError, zlib.error)


def guess_ase_format(path: Path) -> str | None:
    """ASE format of ``path`` from its name (``XDATCAR*`` -> vasp-xdatcar, ``*.xyz`` -> extxyz), or None."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.upper().startswith("XDATCAR"):
        return ASE_FORMATS["XDATCAR"]
    for suffix, fmt in ASE_FORMATS.items():
        if suffix.startswith(".") and name.endswith(suffix):
            return fmt
    return None


def _per_frame(infos: list[dict], keys: tuple[str, ...]) -> np.ndarray | None:
    """Values of the first key every frame carries, or None."""
    for key in keys:
        if infos and all(key in info for info in infos):
            return np.array([float(info[key]) for info in infos])
    return None


def _md_description(path: Path, fmt: str | None) -> dict:
    """The MD description of an ASE .traj (``interval``, ``timestep`` in ASE units), or {}."""
    if fmt != "traj":
        return {}
    from ase.io.trajectory import Trajectory as AseTrajectory

    try:
        with AseTrajectory(str(path)) as handle:
            description = dict(handle.description)
    except Exception:  # noqa: BLE001 - a .traj without a readable header simply has no description
        return {}
    return description if description.get("type") == "molecular-dynamics" else {}


def read_ase_trajectory(path: str | os.PathLike, fmt: str | None = None, dump_every: int | None = None,
                        scratch_dir: str | os.PathLike | None = None) -> Trajectory:
    """Read any periodic trajectory ASE can read into an unwrapped :class:`Trajectory`.

    Parameters
    ----------
    path : trajectory file (XDATCAR, extxyz, .traj, ...; ``.gz`` too).
    fmt : ASE format name; default from the file name (:func:`guess_ase_format`), else ASE's guess.
    dump_every : MD steps between frames for files that carry no step numbers or time stamps;
        None: the interval is left unknown (``step_source == "unknown"``).
    scratch_dir : folder for the float32 scratch file.

    Returns
    -------
    Trajectory
        ``types`` numbered 1, 2, ... by sorted element; ``elements`` the symbols; ``ids`` 1..n;
        ``step_source`` says where ``steps`` come from (module docstring); ``first_nonfinite``
        the first frame with a nan/inf position. A file that ends inside a frame (cut, or a cut
        gzip) keeps the frames before it, with a warning.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ASE cannot read its first frame, a frame is not periodic in 3-D, or the atoms change
        between frames.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trajectory file not found: {path}")
    if dump_every is not None and dump_every < 1:
        raise ValueError(f"--dump-every {dump_every}; must be >= 1")
    fmt = fmt or guess_ase_format(path)
    sink, symbols, cells, infos, warnings, nonfinite = None, None, [], [], [], None
    unwrap = Unwrapper("min_image")
    try:
        for index, atoms in enumerate(iread(str(path), index=":", format=fmt)):
            if not atoms.pbc.all() or atoms.cell.rank < 3:
                raise ValueError(f"{path}: frame {index} is not periodic in 3-D (pbc {atoms.pbc.tolist()})")
            if symbols is None:
                symbols = np.array(atoms.get_chemical_symbols())
                sink = FrameSink(len(atoms), Path(scratch_dir) if scratch_dir else None)
            elif atoms.get_chemical_symbols() != symbols.tolist():
                raise ValueError(f"{path}: atoms change at frame {index} ({len(atoms)} atoms vs {len(symbols)})")
            cell, positions = atoms.cell.array.copy(), atoms.get_positions()
            finite = np.isfinite(positions).all(axis=1)
            if nonfinite is None and (not finite.all() or not np.isfinite(cell).all()):
                nonfinite = NonFinite(index, index, tuple(int(i) + 1 for i in np.flatnonzero(~finite)))
            with np.errstate(invalid="ignore"):
                sink.append(unwrap(positions, None, cell, np.zeros(3)))
            cells.append(cell)
            infos.append(dict(atoms.info))
    except READ_ERRORS as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            if sink is not None:
                sink.discard()
            raise  # our own message
        if sink is None and isinstance(exc, GZIP_STREAM_ERRORS):
            return _read_cut_gzip(path, fmt, dump_every, scratch_dir, exc)
        if sink is None:
            raise ValueError(f"{path}: not a LAMMPS text dump, and ASE cannot read it as {fmt or 'a trajectory'} "
                             f"({type(exc).__name__}: {exc}); convert it to extended XYZ or a LAMMPS dump") from exc
        warnings.append(f"{path.name}: unreadable after frame {len(cells)} ({type(exc).__name__}: {exc}), e.g. a "
                        f"file cut while being written; the {len(cells)} complete frames before it are read")
        log.warning(warnings[-1])
    if sink is None:
        raise ValueError(f"{path}: no frame read (format {fmt})")
    n_frames = len(cells)
    index = np.arange(n_frames, dtype=np.int64)
    file_steps, times_fs, md = _per_frame(infos, STEP_KEYS), _per_frame(infos, TIME_FS_KEYS), _md_description(path, fmt)
    dt_ps_in_file = None
    if file_steps is not None:
        steps, step_source = np.rint(file_steps).astype(np.int64), "file"
    elif md.get("interval"):
        steps, step_source = index * int(md["interval"]), "file"
        dt_ps_in_file = float(md["timestep"]) / units.fs / 1000.0 if md.get("timestep") else None
    elif times_fs is not None:
        steps, step_source = index, "time"  # steps once the MD time step is known (run_inputs.frame_steps)
    elif dump_every is not None:
        steps, step_source = index * int(dump_every), "dump_every"
    else:
        steps, step_source = index, "unknown"
    if nonfinite is not None:
        nonfinite = NonFinite(nonfinite.frame, int(steps[nonfinite.frame]), nonfinite.atom_ids)
        warnings.append(nonfinite.warning())
    numbering = {e: k + 1 for k, e in enumerate(sorted(set(symbols.tolist())))}
    message = (f"{path.name}: {n_frames} frames read with ASE ({fmt or 'auto'}); unwrapped by minimum-image "
               f"steps between frames (largest step {unwrap.max_jump_frac:.2f} of a cell)")
    log.info(message)
    return Trajectory(steps=steps, positions_A=sink.finish(n_frames), cells_A=np.array(cells),
                      ids=np.arange(1, len(symbols) + 1, dtype=np.int64),
                      types=np.array([numbering[e] for e in symbols], dtype=np.int64), mol_ids=None,
                      coordinates="min_image", warnings=[message, *warnings], elements=symbols,
                      source_format=f"ase:{fmt or 'auto'}", first_nonfinite=nonfinite, step_source=step_source,
                      times_fs=times_fs if step_source == "time" else None, dt_ps_in_file=dt_ps_in_file)


def _read_cut_gzip(path: Path, fmt: str | None, dump_every: int | None, scratch_dir, exc: Exception) -> Trajectory:
    """Read a gzip file whose stream is cut or damaged (ASE indexes the whole file first): its readable part
    is decompressed into a scratch file, read, and the scratch file deleted."""
    with tempfile.NamedTemporaryFile(prefix="pydriver_cut_", suffix=f"_{path.name.removesuffix('.gz')}",
                                     dir=scratch_dir, delete=False) as out, gzip.open(path, "rb") as src:
        recovered = Path(out.name)
        try:
            while chunk := src.read1(1 << 16):  # read1: data decompressed before the cut is returned first
                out.write(chunk)
        except GZIP_STREAM_ERRORS:
            pass  # everything before the cut is in ``out``
    try:
        traj = read_ase_trajectory(recovered, fmt, dump_every, scratch_dir)
    finally:
        recovered.unlink(missing_ok=True)
    traj.warnings = [w.replace(recovered.name, path.name) for w in traj.warnings]
    traj.warnings.append(stream_error_warning(path.name, exc, traj.n_frames))
    log.warning(traj.warnings[-1])
    return traj
