"""The one relaxation helper (pydriver.structures.search.relax_structure), with ASE's EMT potential
(cheap, analytic stress): the relaxed cell is the minimum of an independent equation-of-state fit,
the criteria hold, symmetry and volume constraints are kept; the thermo pipeline relaxes through it."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState

from pydriver.structures.search import relax_structure, space_group
from pydriver.thermo.workflow import relax_cell
from pydriver.units import EV_A3_TO_GPA


@pytest.fixture(autouse=True)
def one_blas_thread():
    """FrechetCellFilter does many 3x3 matrix functions; a multi-threaded BLAS on a busy machine spends
    most of the time waiting for its threads (27 s instead of 2 s here)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def emt_a0_A() -> float:
    """EMT's Cu lattice constant from a Birch-Murnaghan fit of E(V) (independent of the optimizers)."""
    volumes, energies = [], []
    for a in np.linspace(3.50, 3.70, 9):
        atoms = bulk("Cu", "fcc", a=a, cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0, _, _ = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    return float((v0) ** (1 / 3))


@pytest.mark.parametrize("optimizer", ["FIRE", "FIRE+BFGS"])
def test_cell_relaxes_to_the_equation_of_state_minimum(emt_a0_A, optimizer):
    start = bulk("Cu", "fcc", a=3.75, cubic=True)
    relaxed, info = relax_structure(start, EMT(), fmax_eV_A=1e-3, max_steps=500, pressure_tol_GPa=0.01,
                                    keep_symmetry=True, optimizer=optimizer)
    assert info["converged"] and info["steps"] > 0
    assert abs(info["pressure_GPa"]) < 0.01 and info["max_force_eV_A"] < 1e-3
    assert relaxed.cell.lengths() == pytest.approx([emt_a0_A] * 3, abs=2e-3)
    assert space_group(relaxed, 1e-3) == "Fm-3m (225)"
    assert relaxed.calc is None and not relaxed.constraints
    assert start.cell.lengths()[0] == pytest.approx(3.75)  # the input is not modified
    # the reported pressure is -trace(stress)/3 of the returned structure
    relaxed.calc = EMT()
    assert -relaxed.get_stress()[:3].mean() * EV_A3_TO_GPA == pytest.approx(info["pressure_GPa"], abs=1e-9)


def test_symmetry_and_constant_volume_constraints():
    start = bulk("Cu", "fcc", a=3.62, cubic=True)
    start.set_cell(start.cell.array @ np.diag([1.04, 1.0, 0.97]), scale_atoms=True)  # tetragonal-ish strain
    start.rattle(0.02, seed=1)
    volume = start.get_volume()
    relaxed, info = relax_structure(start, EMT(), fmax_eV_A=5e-3, max_steps=300, constant_volume=True)
    assert info["constant_volume"] and relaxed.get_volume() == pytest.approx(volume, rel=1e-10)
    lengths = relaxed.cell.lengths()
    assert lengths.max() - lengths.min() < 0.01  # back to cubic at the same volume
    # keep_symmetry: a symmetric start stays exactly in its space group, atoms on their sites
    sym = bulk("Cu", "fcc", a=3.62, cubic=True)
    sym.set_cell(sym.cell.array @ np.diag([1.05, 1.0, 1.0]), scale_atoms=True)  # P4/mmm
    kept, _ = relax_structure(sym, EMT(), fmax_eV_A=5e-3, max_steps=300, keep_symmetry=True)
    assert space_group(kept, 1e-5) == space_group(sym, 1e-5)


def test_zero_steps_and_bad_options():
    start = bulk("Cu", "fcc", a=3.7, cubic=True)
    same, info = relax_structure(start, EMT(), fmax_eV_A=0.01, max_steps=0)
    assert info["steps"] == 0 and not info["converged"] and info["pressure_GPa"] < 0  # stretched: tension
    assert np.allclose(same.positions, start.positions)
    with pytest.raises(ValueError, match="optimizer"):
        relax_structure(start, EMT(), fmax_eV_A=0.01, max_steps=1, optimizer="LBFGS")
    with pytest.raises(ValueError, match="max_steps"):
        relax_structure(start, EMT(), fmax_eV_A=0.01, max_steps=-1)


def test_thermo_relaxes_through_the_helper(emt_a0_A):
    """The thermo pipeline's tight relaxation is relax_structure with symmetry kept, FIRE then BFGS."""
    relaxed, info = relax_cell(bulk("Cu", "fcc", a=3.7, cubic=True), EMT(), fmax_eV_A=2e-3, pressure_tol_GPa=0.02,
                               max_steps=500)
    assert info["optimizer"] == "FIRE+BFGS" and info["keep_symmetry"] and info["converged"]
    assert relaxed.cell.lengths()[0] == pytest.approx(emt_a0_A, abs=3e-3)


def test_long_relaxations_report_progress(monkeypatch, caplog):
    """A progress line every PROGRESS_EVERY_S seconds (here every step): step numbers rise across
    FIRE then BFGS, and the reported largest force ends below FIRE's hand-over threshold."""
    import logging

    from pydriver.structures.search import relax as relax_module

    monkeypatch.setattr(relax_module, "PROGRESS_EVERY_S", 0.0)
    start = bulk("Cu", "fcc", a=3.75, cubic=True)
    with caplog.at_level(logging.INFO, logger="pydriver.structures.search.relax"):
        _, info = relax_structure(start, EMT(), fmax_eV_A=1e-3, max_steps=500, pressure_tol_GPa=0.01,
                                  optimizer="FIRE+BFGS", fire_fmax_eV_A=0.02)
    lines = [r.getMessage() for r in caplog.records if r.name == "pydriver.structures.search.relax"]
    assert lines and all(line.startswith("relax Cu4: ") for line in lines)
    stages = [line.split()[2] for line in lines]
    steps = [int(line.split()[4].rstrip(",")) for line in lines]
    forces = [float(line.split("max force ")[1].split()[0]) for line in lines]
    assert stages[0] == "FIRE" and stages[-1] == "BFGS" and steps == sorted(steps) and steps[-1] <= info["steps"]
    assert forces[-1] < 0.02 and "(target 0.0010)" in lines[0]


class _KinkedFlat:
    """A calculator with a constant energy and forces of 0.01 eV/A whose sign flips every 1e-3 A: no
    optimizer reaches 1 meV/A, and the energy never drops (what a force jump at a cutoff looks like)."""

    implemented_properties = ["energy", "forces", "stress"]

    def __new__(cls):
        from ase.calculators.calculator import Calculator, all_changes

        class Kinked(Calculator):
            implemented_properties = cls.implemented_properties

            def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
                super().calculate(atoms, properties, system_changes)
                x = self.atoms.positions
                self.results = {"energy": 0.0, "forces": 0.01 * np.sign(np.cos(np.pi * x / 1e-3) + 1e-12),
                                "stress": np.zeros(6)}

        return Kinked()


def test_a_stalled_relaxation_stops_and_says_so(monkeypatch):
    """(FIRE: BFGS's Hessian update needs forces that follow an energy; the BFGS stage has the same watcher.)"""
    from pydriver.structures.search import relax as relax_module

    monkeypatch.setattr(relax_module, "STALL_STEPS", 25)
    start = bulk("Cu", "fcc", a=3.6, cubic=True)
    _, info = relax_structure(start, _KinkedFlat(), fmax_eV_A=1e-3, max_steps=500, optimizer="FIRE")
    # stops 25 steps after its start (the energy never drops), far below its 500-step budget
    assert info["stalled"] and not info["converged"] and info["steps"] == 25
    # a relaxation that converges is not 'stalled'
    _, ok = relax_structure(bulk("Cu", "fcc", a=3.62, cubic=True), EMT(), fmax_eV_A=5e-3, max_steps=300)
    assert ok["converged"] and not ok["stalled"]
