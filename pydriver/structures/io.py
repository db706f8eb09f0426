"""Read structures (CIF, POSCAR/CONTCAR, extxyz, ...) into :class:`ase.Atoms`."""

from __future__ import annotations

import logging
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

log = logging.getLogger(__name__)

#: file suffixes mapped to the ASE format used to read them (others: ASE guesses)
FORMAT_BY_SUFFIX = {".cif": "cif", ".extxyz": "extxyz", ".xyz": "extxyz", ".vasp": "vasp", ".poscar": "vasp"}


def _read_cif(path: Path) -> Atoms:
    """Read a CIF with pymatgen (ordered structures only) and convert it to ASE."""
    from pymatgen.core import Structure  # noqa: PLC0415  (heavy import)
    from pymatgen.io.ase import AseAtomsAdaptor  # noqa: PLC0415

    structure = Structure.from_file(str(path))
    if not structure.is_ordered:
        raise ValueError(
            f"{path}: the structure has partial occupancies; choose an ordered model first "
            "(e.g. pymatgen's OrderDisorderedStructureTransformation)"
        )
    return AseAtomsAdaptor.get_atoms(structure)


def read_structure(path: str | Path) -> Atoms:
    """Read one periodic structure.

    Parameters
    ----------
    path : CIF, POSCAR/CONTCAR (any name containing POSCAR or CONTCAR), extxyz, or anything
        else :func:`ase.io.read` understands. For multi-frame files the last frame is used.

    Returns
    -------
    ase.Atoms
        Periodic in all three directions, positions in A.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the structure is not periodic in 3D, is empty or has partial occupancies.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"structure file {path} does not exist")
    suffix = path.suffix.lower()
    name = path.name.upper()
    if suffix == ".cif":
        atoms = _read_cif(path)
    elif "POSCAR" in name or "CONTCAR" in name:
        atoms = ase.io.read(path, format="vasp")
    else:
        atoms = ase.io.read(path, index=-1, format=FORMAT_BY_SUFFIX.get(suffix))
    if len(atoms) == 0:
        raise ValueError(f"{path}: no atoms")
    if not np.all(atoms.pbc) or abs(atoms.cell.volume) < 1e-6:
        raise ValueError(f"{path}: need a 3D periodic cell, got pbc={atoms.pbc.tolist()}")
    log.info("read %s: %s, %d atoms", path, atoms.get_chemical_formula(), len(atoms))
    return atoms
