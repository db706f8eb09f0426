"""Type-to-element mapping, permutation and rotation invariance of the plugin."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pydriver.lammps.single_point import lammps_single_point
from tests.golden import NABH, golden_frames

pytestmark = pytest.mark.lammps


def _frame(name: str):
    return next(a for a, _ in golden_frames(NABH) if a.info["name"] == name)


def test_many_types_to_one_element_give_identical_results(exported):
    """Na, B_BH4, H_BH4 and two more types mapped to B and H (the mass-scaling layout)."""
    model = exported(NABH, "float64")
    atoms = _frame("na3_bh4_b12h12_mixed")
    plain = lammps_single_point(atoms, model, ["Na", "B", "H"])
    symbols = np.array(atoms.get_chemical_symbols())
    # B12H12 atoms are the first 24; give them their own B and H types
    types = np.select([symbols == "Na", symbols == "B", symbols == "H"], [1, 2, 3])
    types[:24] = np.where(symbols[:24] == "B", 4, 5)
    split = lammps_single_point(atoms, model, ["Na", "B", "H", "B", "H"], atom_types=types)
    assert split.energy_eV == pytest.approx(plain.energy_eV, abs=1e-10)
    np.testing.assert_allclose(split.forces_eV_A, plain.forces_eV_A, atol=1e-12)
    np.testing.assert_allclose(split.stress_eV_A3, plain.stress_eV_A3, atol=1e-14)
    np.testing.assert_allclose(split.energies_eV, plain.energies_eV, atol=1e-12)


def test_permutation_and_rotation_change_nothing(exported):
    model = exported(NABH, "float64")
    atoms = _frame("nabh4_rattled")
    ref = lammps_single_point(atoms, model, ["Na", "B", "H"])
    perm = np.random.default_rng(0).permutation(len(atoms))
    rot = Rotation.from_euler("zyx", [33.0, -17.0, 71.0], degrees=True).as_matrix()
    moved = atoms[perm]
    moved.set_cell(moved.cell.array @ rot.T, scale_atoms=False)
    moved.positions = moved.positions @ rot.T
    res = lammps_single_point(moved, model, ["Na", "B", "H"])
    assert res.energy_eV == pytest.approx(ref.energy_eV, abs=1e-10)
    np.testing.assert_allclose(res.forces_eV_A, ref.forces_eV_A[perm] @ rot.T, atol=1e-9)
    np.testing.assert_allclose(res.stress_eV_A3, rot @ ref.stress_eV_A3 @ rot.T, atol=1e-12)
    np.testing.assert_allclose(res.energies_eV, ref.energies_eV[perm], atol=1e-10)
