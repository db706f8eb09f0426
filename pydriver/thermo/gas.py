"""Ideal-gas Gibbs free energy of a molecule (ASE ``IdealGasThermo``: translation, rotation,
vibration; rigid rotor, harmonic oscillator; e.g. C. J. Cramer, *Essentials of Computational
Chemistry*, Wiley 2004, ch. 10). Vibrational frequencies from ASE finite differences with the
same calculator as the crystals.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms
from ase.optimize import BFGS
from ase.thermochemistry import IdealGasThermo
from ase.vibrations import Vibrations

from pydriver.units import BAR_TO_PA

log = logging.getLogger(__name__)


@dataclass
class GasResult:
    """Ideal-gas free energy of one molecule.

    Attributes
    ----------
    temperatures_K : (n_T,) temperatures, in K.
    gibbs_energy_eV : (n_T,) G(T, p) per molecule, electronic energy included, in eV (at 0 K:
        electronic energy + zero-point energy).
    energy_eV : electronic (potential) energy of the relaxed molecule, in eV.
    zero_point_energy_eV : in eV.
    vib_energies_eV : vibrational quanta used (3N-5 linear / 3N-6 nonlinear), in eV.
    pressure_bar : partial pressure, in bar.
    """

    temperatures_K: np.ndarray
    gibbs_energy_eV: np.ndarray
    energy_eV: float
    zero_point_energy_eV: float
    vib_energies_eV: list[float]
    pressure_bar: float
    bond_length_A: float | None
    wall_s: float

    def gibbs_energy_at(self, temperature_K: float) -> float:
        """G per molecule (eV) at ``temperature_K`` (linear interpolation on the grid)."""
        return float(np.interp(temperature_K, self.temperatures_K, self.gibbs_energy_eV))

    def as_dict(self) -> dict:
        """JSON-ready dict."""
        out = asdict(self)
        out["temperatures_K"] = np.asarray(self.temperatures_K).tolist()
        out["gibbs_energy_eV"] = np.asarray(self.gibbs_energy_eV).tolist()
        return out


def relax_molecule(molecule: Atoms, calc, fmax_eV_A: float = 1e-3, box_A: float = 15.0) -> Atoms:
    """Relax ``molecule`` (positions only, BFGS) centred in a cubic periodic box of edge ``box_A`` (A)."""
    mol = molecule.copy()
    mol.set_cell([box_A] * 3)
    mol.pbc = True
    mol.center()
    mol.calc = calc
    BFGS(mol, logfile=None).run(fmax=fmax_eV_A, steps=200)
    return mol


def ideal_gas_free_energy(molecule: Atoms, calc, temperatures_K, geometry: str, symmetry_number: int,
                          spin: float = 0.0, pressure_bar: float = 1.0, box_A: float = 15.0,
                          displacement_A: float = 0.01) -> GasResult:
    """Gibbs free energy per molecule of an ideal gas at ``pressure_bar``.

    Parameters
    ----------
    molecule : starting geometry (relaxed here in a periodic box of edge ``box_A``, A).
    calc : ASE calculator (eV, eV/A).
    temperatures_K : temperatures, in K.
    geometry : "monatomic", "linear" or "nonlinear" (ASE ``IdealGasThermo``).
    symmetry_number : rotational symmetry number (2 for H2).
    spin : total electronic spin (0 for H2).
    pressure_bar : partial pressure, in bar.
    displacement_A : finite-difference step of the vibrational analysis, in A.
    """
    if geometry not in ("monatomic", "linear", "nonlinear"):
        raise ValueError(f"geometry {geometry!r} not in ('monatomic', 'linear', 'nonlinear')")
    t0 = time.time()
    mol = relax_molecule(molecule, calc, box_A=box_A)
    energy_eV = float(mol.get_potential_energy())
    with tempfile.TemporaryDirectory(prefix="vib-") as tmp:
        vib = Vibrations(mol, delta=displacement_A, name=f"{tmp}/vib")
        vib.run()
        vib_energies = np.real(vib.get_energies())
    n_keep = {"monatomic": 0, "linear": 3 * len(mol) - 5, "nonlinear": 3 * len(mol) - 6}[geometry]
    vib_energies = np.sort(vib_energies)[len(vib_energies) - n_keep:] if n_keep else np.array([])
    free_mol = Atoms(mol.get_chemical_symbols(), positions=mol.get_positions())  # IdealGasThermo wants pbc off
    thermo = IdealGasThermo(vib_energies=vib_energies, potentialenergy=energy_eV, atoms=free_mol, geometry=geometry,
                            symmetrynumber=symmetry_number, spin=spin, ignore_imag_modes=True)
    zpe = float(0.5 * vib_energies.sum())
    gibbs = []
    for t in np.asarray(temperatures_K, dtype=float):
        gibbs.append(energy_eV + zpe if t <= 0 else
                     thermo.get_gibbs_energy(temperature=t, pressure=pressure_bar * BAR_TO_PA, verbose=False))
    bond = float(mol.get_distance(0, 1)) if len(mol) == 2 else None
    log.info("%s gas: E = %.4f eV, vib %s eV, G(%g K) = %.4f eV", mol.get_chemical_formula(), energy_eV,
             np.round(vib_energies, 4).tolist(), temperatures_K[-1], gibbs[-1])
    return GasResult(np.asarray(temperatures_K, dtype=float), np.array(gibbs), energy_eV, zpe,
                     vib_energies.tolist(), pressure_bar, bond, round(time.time() - t0, 1))
