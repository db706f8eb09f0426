"""o-NBH anion framework in the published Cmc2_1 cell (CrB type) and its candidate Na sites.

Published cell (Sadikin, Brighi, Schouwink, Cerny, Adv. Energy Mater. 5, 1501016 (2015), 523 K):
a = 8.0083, b = 21.881, c = 7.7672 A, Z = 4. CrB-type anion packing: B12H12 centres on 4a
(0, y, z) of Cmc2_1, BH4 centres on a second 4a; every anion lies on the mirror plane x = 0
(x = 1/2 for the C-centred copies). The anion positions (y, z) and the rotation of each anion
about the a axis (the only rotation that keeps the mirror) are not published as numbers here: they
are chosen by :func:`best_framework`, a grid search that maximises the shortest H-H contact
between anions, starting from the CrB positions (Cr 4c y = 0.146 -> B12H12, B 4c y = 0.440 -> BH4).

Used by ``build_onbh.py``; importable without the potential.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from pydriver.structures.builders import b12h12_unit, bh4_unit

#: published o-NBH cell at 523 K (A), Sadikin et al. 2015
PUBLISHED_CELL_A = (8.0083, 21.881, 7.7672)
#: Cmc2_1 4a orbit of (0, y, z): (0, y, z), (0, -y, z + 1/2) and the C-centred copies; the second
#: member is the image under the glide (x, -y, z + 1/2), i.e. mirrored in y
#: (translation, sign of y): x' = (0, sign * y, z) + translation; sign -1 also mirrors the anion in y
ORBIT_4A = [((0.0, 0.0, 0.0), 1), ((0.0, 0.0, 0.5), -1), ((0.5, 0.5, 0.0), 1), ((0.5, 0.5, 0.5), -1)]


def _rot_x(angle_deg: float) -> np.ndarray:
    t = np.radians(angle_deg)
    return np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])


def bh4_on_mirror() -> np.ndarray:
    """(5, 3) BH4 (B first) with mirror planes x = 0 and y = 0: the cubic-setting tetrahedron
    rotated by 45 deg about z, H at (0, +-sqrt(2), 1)/sqrt(3) and (+-sqrt(2), 0, -1)/sqrt(3) * d(B-H)."""
    pos = bh4_unit().get_positions()
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    return pos @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T


@dataclass(frozen=True)
class FrameworkParams:
    """Free parameters of the framework: centres (fractional y, z) and rotations about a (deg)."""

    y_b12: float = 0.146
    z_b12: float = 0.25
    rot_b12_deg: float = 0.0
    y_bh4: float = 0.440
    z_bh4: float = 0.25
    rot_bh4_deg: float = 0.0


def framework(params: FrameworkParams, cell_A: tuple[float, float, float] = PUBLISHED_CELL_A) -> Atoms:
    """Anions only (4 B12H12 then 4 BH4; B then H within each), Cmc2_1, orthorhombic ``cell_A``."""
    cell = np.diag(cell_A)
    units = [(b12h12_unit().get_positions(), "B12H12", params.y_b12, params.z_b12, params.rot_b12_deg),
             (bh4_on_mirror(), "BH4", params.y_bh4, params.z_bh4, params.rot_bh4_deg)]
    symbols: list[str] = []
    positions = []
    for local, formula, y, z, rot in units:
        local = local @ _rot_x(rot).T
        n_b = len(local) // 2 if formula == "B12H12" else 1
        for shift, sign in ORBIT_4A:
            centre = (np.array([0.0, sign * y, z]) + shift) @ cell
            positions.append(local * np.array([1, sign, 1]) + centre)
            symbols += ["B"] * n_b + ["H"] * (len(local) - n_b)
    atoms = Atoms(symbols, positions=np.vstack(positions), cell=cell, pbc=True)
    atoms.wrap()
    return atoms


#: result of :func:`best_framework` (302 s on the shared machine; shortest inter-anion H-H 2.67 A)
GRID_BEST = FrameworkParams(y_b12=0.165, z_b12=0.25, rot_b12_deg=0.0, y_bh4=0.44, z_bh4=0.25, rot_bh4_deg=210.0)


def anion_centres_frac(params: FrameworkParams) -> tuple[np.ndarray, np.ndarray]:
    """(8, 3) fractional anion centres (4 B12H12, 4 BH4) and their charges (-2, -1) in e."""
    centres = []
    for y, z in ((params.y_b12, params.z_b12), (params.y_bh4, params.z_bh4)):
        centres += [np.array([0.0, sign * y, z]) + shift for shift, sign in ORBIT_4A]
    return np.array(centres) % 1.0, np.array([-2.0] * 4 + [-1.0] * 4)


def min_hh_between_anions_A(atoms: Atoms) -> float:
    """Shortest H-H distance between different anions (periodic), in A (atoms in ``framework`` order)."""
    n_per = [24] * 4 + [5] * 4
    mol = np.repeat(np.arange(8), n_per)
    h = np.array(atoms.get_chemical_symbols()) == "H"
    frac = atoms.get_scaled_positions()[h]
    mol = mol[h]
    diff = frac[:, None] - frac[None]
    diff -= np.round(diff)
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    d = np.linalg.norm((diff[:, :, None] + shifts) @ atoms.cell.array, axis=-1).min(-1)
    d[mol[:, None] == mol[None]] = np.inf
    return float(d.min())


def best_framework(cell_A: tuple[float, float, float] = PUBLISHED_CELL_A) -> tuple[FrameworkParams, float]:
    """Grid search over the framework parameters maximising the shortest inter-anion H-H contact.

    The B12H12 z is fixed at 1/4 (Cmc2_1 is polar along c: the origin in z is free). Grid (14400
    points, ~100 s): y(B12H12) 0.12..0.18 (step 0.015), y(BH4) 0.40..0.48 (step 0.02), z(BH4) in
    steps of 1/8, rotations about a in steps of 30 deg (B12H12: 0..150, the icosahedron is
    symmetric under 180 deg; BH4: 0..330). Deterministic.
    """
    best = (None, -1.0)
    for y1, y2 in itertools.product(np.linspace(0.12, 0.18, 5), np.linspace(0.40, 0.48, 5)):
        for z2, r1, r2 in itertools.product(np.arange(0, 1, 1 / 8), range(0, 180, 30), range(0, 360, 30)):
            p = FrameworkParams(float(y1), 0.25, float(r1), float(y2), float(z2), float(r2))
            d = min_hh_between_anions_A(framework(p, cell_A))
            if d > best[1]:
                best = (p, d)
    return best
