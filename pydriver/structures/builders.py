"""Rigid anion geometries and the ordered cubic NaBH4 model.

BH4-: a regular tetrahedron, B-H :data:`BH_BOND_A`. B12H12(2-): a regular icosahedron with
B-B edge :data:`BB_EDGE_A` and radial B-H :data:`BH_BOND_A` (typical of closo-dodecaborates).
"""

from __future__ import annotations

import itertools

import numpy as np
from ase import Atoms

BH_BOND_A = 1.21
BB_EDGE_A = 1.78
NABH4_LATTICE_A = 6.10
#: H directions of every BH4 in the ordered cubic model: (+++), (+--), (-+-), (--+)
TETRAHEDRON_SIGNS = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)


def bh4_unit(bh_A: float = BH_BOND_A) -> Atoms:
    """BH4 tetrahedron centred on B at the origin, H along (+++), (+--), (-+-), (--+)."""
    h_A = TETRAHEDRON_SIGNS / np.sqrt(3.0) * bh_A
    return Atoms("BH4", positions=np.vstack([[0, 0, 0], h_A]))


def icosahedron_vertices(edge_A: float) -> np.ndarray:
    """(12, 3) vertices of a regular icosahedron centred at the origin with the given edge, in A."""
    phi = (1 + np.sqrt(5.0)) / 2
    vertices = []
    for s1, s2 in itertools.product((-1, 1), repeat=2):
        vertices += [(0, s1, s2 * phi), (s1, s2 * phi, 0), (s2 * phi, 0, s1)]
    vertices = np.array(vertices, dtype=float)
    return vertices * edge_A / 2.0  # the edge of the (0, +-1, +-phi) icosahedron is 2


def b12h12_unit(bb_A: float = BB_EDGE_A, bh_A: float = BH_BOND_A) -> Atoms:
    """B12H12 icosahedron centred at the origin (B first, then H radially outside each B)."""
    boron_A = icosahedron_vertices(bb_A)
    radius_A = np.linalg.norm(boron_A[0])
    hydrogen_A = boron_A * (radius_A + bh_A) / radius_A
    return Atoms("B12H12", positions=np.vstack([boron_A, hydrogen_A]))


def nabh4_cubic(a_A: float = NABH4_LATTICE_A, bh_A: float = BH_BOND_A) -> Atoms:
    """Ordered cubic NaBH4, 4 formula units (24 atoms), rock-salt Na/B arrangement.

    Na at the fcc sites (0,0,0)..., B at the octahedral sites (1/2,0,0)...; every BH4 has its
    H along (+++), (+--), (-+-), (--+) from B (the ordered F-43m model).

    Parameters
    ----------
    a_A : cubic lattice parameter, in A.
    bh_A : B-H bond length, in A.
    """
    fcc = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    boron_frac = fcc + np.array([0.5, 0, 0])
    atoms = Atoms("Na4", scaled_positions=fcc, cell=[a_A] * 3, pbc=True)
    unit = bh4_unit(bh_A)
    for b_frac in boron_frac % 1.0:
        anion = unit.copy()
        anion.translate(b_frac * a_A)
        atoms += anion
    atoms.wrap()
    return atoms
