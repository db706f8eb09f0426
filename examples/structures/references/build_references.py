#!/usr/bin/env python
"""Reference phases of the Na-B-H hull (unrelaxed starting structures; ``python -m pydriver thermo``
relaxes them with the potential before the phonons).

- Na: bcc, a = 4.23 A (room temperature; 1-atom primitive cell).
- alpha-B: rhombohedral R-3m, 12 atoms; hexagonal a = 4.908, c = 12.567 A, B1 18h (x, -x, z)
  x = 0.11886, z = 0.89133, B2 18h x = 0.19686, z = 0.02432 (B. Will, B. Kiefer, Z. Anorg. Allg.
  Chem. 627, 2100 (2001); B. F. Decker, J. S. Kasper, Acta Cryst. 12, 503 (1959)).
- NaH: rock salt, a = 4.88 A (2-atom primitive cell).
- H2: molecule, d(H-H) = 0.74 A.
Writes ``<name>.extxyz`` next to this script.
"""

from __future__ import annotations

from pathlib import Path

import ase.io
from ase import Atoms
from ase.build import bulk

HERE = Path(__file__).resolve().parent


def alpha_boron() -> Atoms:
    """alpha-B, 12-atom rhombohedral primitive cell from the hexagonal R-3m description."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    hexagonal = Structure.from_spacegroup("R-3m", Lattice.hexagonal(4.908, 12.567), ["B", "B"],
                                          [[0.11886, -0.11886, 0.89133], [0.19686, -0.19686, 0.02432]])
    prim = SpacegroupAnalyzer(hexagonal, symprec=1e-3).get_primitive_standard_structure()
    return AseAtomsAdaptor.get_atoms(prim)


def main() -> None:
    """Write the four reference structures."""
    phases = {"Na_bcc": bulk("Na", "bcc", a=4.23), "alpha_B": alpha_boron(), "NaH": bulk("NaH", "rocksalt", a=4.88),
              "H2": Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[15.0] * 3, pbc=True)}
    for name, atoms in phases.items():
        ase.io.write(HERE / f"{name}.extxyz", atoms, format="extxyz")


if __name__ == "__main__":
    main()
