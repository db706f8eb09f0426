"""Plugin forces and stress against central finite differences of the plugin's own energy.

Triclinic, rattled NaBH4 cell (24 atoms), float64 model. Every energy is a LAMMPS ``run 0``.
"""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.lammps.single_point import lammps_single_point
from tests.golden import NABH, golden_frames

pytestmark = pytest.mark.lammps
ELEMENTS = ["Na", "B", "H"]
STEP_A = 1e-4
STRAIN = 1e-5


def _triclinic_frame():
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_triclinic")
    assert abs(atoms.cell.angles() - 90).max() > 5, "test needs a genuinely triclinic cell"
    return atoms


def test_forces_match_finite_differences(exported):
    model = exported(NABH, "float64")
    atoms = _triclinic_frame()
    forces = lammps_single_point(atoms, model, ELEMENTS).forces_eV_A
    worst = 0.0
    for i in (0, 1, 2, 7, 13, 23):  # Na, B, H of different anions
        for axis in range(3):
            e = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.positions[i, axis] += sign * STEP_A
                e.append(lammps_single_point(moved, model, ELEMENTS).energy_eV)
            fd = -(e[0] - e[1]) / (2 * STEP_A)
            worst = max(worst, abs(fd - forces[i, axis]))
            assert fd == pytest.approx(forces[i, axis], abs=2e-5), f"atom {i} axis {axis}"
    print(f"max |F - F_fd| = {worst:.1e} eV/A")


def test_stress_matches_finite_strain(exported):
    model = exported(NABH, "float64")
    atoms = _triclinic_frame()
    stress = lammps_single_point(atoms, model, ELEMENTS).stress_eV_A3
    volume = atoms.get_volume()
    for a, b in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]:
        e = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[a, b] += sign * STRAIN
            if a != b:
                eps[b, a] += sign * STRAIN
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            e.append(lammps_single_point(strained, model, ELEMENTS).energy_eV)
        factor = 1 if a == b else 2  # a symmetric shear strain moves both (a,b) and (b,a)
        fd = (e[0] - e[1]) / (2 * STRAIN * volume * factor)
        assert fd == pytest.approx(stress[a, b], abs=2e-6), f"stress component {a}{b}"
