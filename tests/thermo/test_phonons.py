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


def _mode_free_energy(f_THz: float, t: float) -> float:
    e = f_THz * THZ_TO_EV
    kt = BOLTZMANN_EV_K * t
    return e / 2 + (kt * np.log(1 - np.exp(-e / kt)) if t > 0 else 0.0)


def test_imaginary_mode_treatments_exact():
    """Two q-points (weights 1 and 3): Gamma with 3 acoustic modes (left out) and a -2 THz mode, and a
    q-point with 0.2, 5 THz and -0.01 THz (noise, left out): dropped / abs / floor by hand."""
    from pydriver.thermo.phonons import free_energy_treatments

    freqs = np.array([[-0.002, 0.0, 0.001, -2.0], [0.2, 5.0, -0.01, 10.0]])
    weights = np.array([1, 3])
    temps = [0.0, 300.0, 650.0]
    out = free_energy_treatments(freqs, weights, temps, floor_THz=0.5, gamma_index=0)
    for k, t in enumerate(temps):
        real = 3 * (_mode_free_energy(0.2, t) + _mode_free_energy(5.0, t) + _mode_free_energy(10.0, t))
        assert out["dropped"][k] == pytest.approx(real / 4, rel=1e-12)
        assert out["abs"][k] == pytest.approx((real + _mode_free_energy(2.0, t)) / 4, rel=1e-12)
        floor = 3 * (_mode_free_energy(0.5, t) + _mode_free_energy(5.0, t) + _mode_free_energy(10.0, t))
        assert out["floor"][k] == pytest.approx((floor + _mode_free_energy(0.5, t)) / 4, rel=1e-12)
    # a -2 THz mode at 650 K: the soft floor gives it more entropy than |f|: F(floor) < F(abs) < F(dropped) = 0
    one = free_energy_treatments(np.array([[-2.0]]), [1], [650.0], floor_THz=0.5)
    assert one["floor"][0] < one["abs"][0] < one["dropped"][0] == 0.0
    with pytest.raises(ValueError, match="soft_mode_floor_THz"):
        free_energy_treatments(freqs, weights, temps, floor_THz=0.0)
    with pytest.raises(ValueError, match="weights"):
        free_energy_treatments(freqs, [1, 2, 3], temps)


def test_treatments_mesh_ladder_and_checkpoint(nacl_and_calc, tmp_path):
    """NaCl has no imaginary mode: dropped and abs equal phonopy's F; the floor (0.5 THz) only lifts the
    acoustic modes near Gamma (F higher by < 1 meV/atom); the q-mesh ladder ends in the main mesh and
    converges; a forces checkpoint is reused (a calculator that fails shows no force call is made)."""
    atoms, calc = nacl_and_calc
    temps = [0.0, 300.0, 650.0]
    ckpt = tmp_path / "forces.npz"
    res = phonon_free_energy(atoms, calc, temps, supercell=(3, 3, 3), mesh=30.0, forces_checkpoint=ckpt)
    tr = res.free_energy_treatments_eV
    assert np.allclose(tr["dropped"], res.free_energy_eV, rtol=1e-5, atol=1e-9)  # phonopy's constants: 2e-6
    assert np.allclose(tr["abs"], tr["dropped"], atol=1e-12)
    assert np.all(tr["floor"] >= tr["dropped"]) and np.all(tr["floor"] - tr["dropped"] < 2e-3)
    assert res.zero_point_energy_eV == pytest.approx(tr["dropped"][0])
    meshes = res.mesh_convergence["meshes"]
    assert [m["mesh_length_A"] for m in meshes] == [20.0, 30.0] and meshes[-1]["mesh"] == res.mesh
    assert abs(res.mesh_convergence["last_change_meV_per_atom"]["dropped"]) < 1.0
    assert meshes[-1]["F_eV_per_atom"]["dropped"] == pytest.approx(float(np.interp(300, temps, tr["dropped"])) / 2)

    class NoForces:
        def get_forces(self, atoms):
            raise AssertionError("force call despite the checkpoint")

    again = phonon_free_energy(atoms, NoForces(), temps, supercell=(3, 3, 3), mesh=30.0, forces_checkpoint=ckpt)
    assert np.allclose(again.free_energy_eV, res.free_energy_eV)
