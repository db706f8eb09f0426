"""Harmonic free energies (pydriver.thermo.phonons) against independent routes, on rocksalt NaCl
with the universal M3GNet-MP model (cheap: 2 atoms per primitive cell)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from pydriver.thermo.phonons import harmonic_free_energy, phonon_free_energy
from pydriver.units import BOLTZMANN_EV_K, THZ_TO_EV
from tests.conftest import MODELS_DIR

pytest.importorskip("phonopy")
MP = "M3GNet-MP-2021.2.8-PES"
MESH = (6, 6, 6)


def test_harmonic_free_energy_single_oscillator():
    """One 10 THz mode: ZPE h f / 2 at 0 K, and the textbook formula at 300 K."""
    e = 10.0 * THZ_TO_EV
    assert harmonic_free_energy(np.array([[10.0]]), 0.0) == pytest.approx(e / 2)
    kt = BOLTZMANN_EV_K * 300.0
    assert harmonic_free_energy(np.array([[10.0]]), 300.0) == pytest.approx(e / 2 + kt * np.log(1 - np.exp(-e / kt)))
    # imaginary (negative) and zero modes are left out
    assert harmonic_free_energy(np.array([[-2.0, 0.0, 10.0]]), 0.0) == pytest.approx(e / 2)


@pytest.fixture(scope="module")
def nacl_and_calc(exported):
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    from pydriver.m3gnet.calculator import M3GNetCalculator

    if not (MODELS_DIR / MP).is_dir():
        pytest.fail(f"model {MODELS_DIR / MP} missing")
    calc = M3GNetCalculator(exported(MP, "float64"))
    atoms = bulk("NaCl", "rocksalt", a=5.69)
    atoms.calc = calc
    atoms.set_constraint(FixSymmetry(atoms))
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-4, steps=100)
    atoms.set_constraint()
    return atoms.copy(), calc


def test_phonopy_matches_ase_phonons(nacl_and_calc, tmp_path):
    """F(300 K) from the phonopy pipeline and from ASE's own finite differences (ase.phonons, every
    atom displaced +-, no symmetry) on the same 3x3x3 supercell and q-mesh agree within 2 meV/atom."""
    from ase.phonons import Phonons

    atoms, calc = nacl_and_calc
    temps = [0.0, 300.0]
    res = phonon_free_energy(atoms, calc, temps, supercell=(3, 3, 3), mesh=MESH)
    assert res.n_imaginary_gamma == 0
    assert res.supercell == (3, 3, 3) and res.n_displacements <= 4  # symmetry-reduced (Na, Cl)

    ph = Phonons(atoms, calc, supercell=(3, 3, 3), delta=0.01, name=str(tmp_path / "ph"))
    ph.run()
    ph.read(acoustic=True)
    qpts = _gamma_mesh(MESH)
    freqs_THz = ph.band_structure(qpts) / THZ_TO_EV  # eV -> THz
    ase_f = [harmonic_free_energy(freqs_THz, t) for t in temps]

    ours = res.free_energy_eV
    per_atom = len(atoms)
    assert abs(ours[1] - ase_f[1]) / per_atom < 2e-3
    assert abs(ours[0] - ase_f[0]) / per_atom < 2e-3
    assert res.zero_point_energy_eV == pytest.approx(ours[0], rel=1e-3)
    # F decreases with T; the ZPE of NaCl is a few tens of meV per formula unit
    assert ours[1] < ours[0] and 0.01 < ours[0] < 0.1


def _gamma_mesh(mesh) -> np.ndarray:
    """Scaled q-points of a Gamma-centred grid (every point, no symmetry reduction)."""
    return np.array(np.meshgrid(*[np.arange(n) / n for n in mesh], indexing="ij")).reshape(3, -1).T


def test_free_energy_is_per_given_cell(nacl_and_calc):
    """The conventional rock-salt cell (8 atoms) has 4x the free energy of the primitive cell (2 atoms):
    F is per the cell passed in, not per phonopy's primitive cell."""
    from ase.build import make_supercell

    atoms, calc = nacl_and_calc
    conventional = make_supercell(atoms, np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]]))
    assert len(conventional) == 8
    temps = [300.0]
    prim = phonon_free_energy(atoms, calc, temps, supercell=(4, 4, 4), mesh=(8, 8, 8))
    conv = phonon_free_energy(conventional, calc, temps, supercell=(2, 2, 2), mesh=(4, 4, 4))
    assert conv.n_atoms == 8
    # the two supercells differ (128 vs 64 atoms), hence a few meV/atom; per-primitive-cell output
    # would give a ratio of 1 instead of 4 (a difference of ~1 eV here)
    assert conv.free_energy_eV[0] == pytest.approx(4 * prim.free_energy_eV[0], abs=8 * 3e-3)
