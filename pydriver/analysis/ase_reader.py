"""Trajectories from other codes through ASE's readers: VASP XDATCAR, extended XYZ, ASE .traj, ...

Frames are streamed (``ase.io.iread``) into the same :class:`~pydriver.analysis.trajectory.Trajectory`
as LAMMPS dumps. These formats carry no step numbers and usually wrapped positions: steps are
``frame index * dump_every`` and positions are unwrapped by minimum-image steps between frames in
fractional coordinates (exact for NPT cells as long as no atom moves half a cell between frames;
for positions that are already unwrapped this changes nothing).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from ase.io import iread
from ase.io.formats import UnknownFileTypeError

from pydriver.analysis.trajectory import FrameSink, Trajectory, Unwrapper

log = logging.getLogger(__name__)

#: ASE format names by file-name pattern (anything else: ASE's own detection)
ASE_FORMATS = {"XDATCAR": "vasp-xdatcar", ".extxyz": "extxyz", ".xyz": "extxyz", ".traj": "traj"}


def guess_ase_format(path: Path) -> str | None:
    """ASE format of ``path`` from its name (``XDATCAR*`` -> vasp-xdatcar, ``*.xyz`` -> extxyz), or None."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.upper().startswith("XDATCAR"):
        return ASE_FORMATS["XDATCAR"]
    for suffix, fmt in ASE_FORMATS.items():
        if suffix.startswith(".") and name.endswith(suffix):
            return fmt
    return None


def read_ase_trajectory(path: str | os.PathLike, fmt: str | None = None, dump_every: int = 1,
                        scratch_dir: str | os.PathLike | None = None) -> Trajectory:
    """Read any periodic trajectory ASE can read into an unwrapped :class:`Trajectory`.

    Parameters
    ----------
    path : trajectory file (XDATCAR, extxyz, .traj, ...).
    fmt : ASE format name; default from the file name (:func:`guess_ase_format`), else ASE's guess.
    dump_every : MD steps between frames (steps are ``frame index * dump_every``).
    scratch_dir : folder for the float32 scratch file.

    Returns
    -------
    Trajectory
        ``types`` numbered 1, 2, ... by sorted element; ``elements`` the symbols; ``ids`` 1..n.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ASE cannot read it, a frame is not periodic in 3-D, or the atoms change between frames.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trajectory file not found: {path}")
    if dump_every < 1:
        raise ValueError(f"dump_every={dump_every}; must be >= 1")
    fmt = fmt or guess_ase_format(path)
    sink, symbols, cells = None, None, []
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
            cell = atoms.cell.array.copy()
            sink.append(unwrap(atoms.get_positions(), None, cell, np.zeros(3)))
            cells.append(cell)
    except (UnknownFileTypeError, StopIteration, OSError, KeyError, IndexError, ValueError) as exc:
        if sink is not None:
            sink.discard()
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise  # our own message
        raise ValueError(f"{path}: not a LAMMPS text dump, and ASE cannot read it as {fmt or 'a trajectory'} "
                         f"({type(exc).__name__}: {exc}); convert it to extended XYZ or a LAMMPS dump") from exc
    if sink is None:
        raise ValueError(f"{path}: no frame read (format {fmt})")
    numbering = {e: k + 1 for k, e in enumerate(sorted(set(symbols.tolist())))}
    message = (f"{path.name}: {len(cells)} frames read with ASE ({fmt or 'auto'}); unwrapped by minimum-image "
               f"steps between frames (largest step {unwrap.max_jump_frac:.2f} of a cell)")
    log.info(message)
    return Trajectory(steps=np.arange(len(cells), dtype=np.int64) * int(dump_every),
                      positions_A=sink.finish(len(cells)), cells_A=np.array(cells),
                      ids=np.arange(1, len(symbols) + 1, dtype=np.int64),
                      types=np.array([numbering[e] for e in symbols], dtype=np.int64), mol_ids=None,
                      coordinates="min_image", warnings=[message], elements=symbols,
                      source_format=f"ase:{fmt or 'auto'}")
