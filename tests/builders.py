"""Small test structures built from :mod:`pydriver.structures.builders` (used only by tests)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from pydriver.structures.builders import b12h12_unit, bh4_unit, nabh4_cubic


def nabh4_primitive(left_handed: bool = False) -> Atoms:
    """6-atom fcc primitive cell of :func:`nabh4_cubic` (a triclinic cell with 60 deg angles).

    Parameters
    ----------
    left_handed : swap the first two lattice vectors (a left-handed cell, for testing).
    """
    cubic = nabh4_cubic()
    a_A = cubic.cell[0, 0]
    cell = 0.5 * a_A * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    if left_handed:
        cell = cell[[1, 0, 2]]
    keep = [0, 4, 5, 6, 7, 8]  # Na at the origin and the BH4 at (a/2, 0, 0)
    prim = Atoms(cubic.get_chemical_symbols(), positions=cubic.get_positions(), cell=cell, pbc=True)[keep]
    prim.wrap()
    return prim


def mixed_anion_box(box_A: float = 20.0) -> Atoms:
    """Toy Na3(BH4)(B12H12) in a cubic box: 3 Na, then one BH4 across the periodic boundary, then one B12H12.

    For tests of anion detection and typing (not a physical structure).
    """
    atoms = Atoms(cell=[box_A] * 3, pbc=True)
    cage = b12h12_unit()
    cage.translate([box_A / 2] * 3)
    tet = bh4_unit()
    tet.translate([0.5, 0.5, 0.5])  # H atoms wrap to the far faces
    atoms += Atoms("Na3", positions=[[5, 5, 5], [15, 5, 5], [5, 15, 5]])
    atoms += tet
    atoms += cage
    atoms.wrap()
    return atoms
