"""Thermodynamics from the potential: harmonic phonon free energies (phonopy), ideal-gas free
energies (ASE), configurational entropy of partial occupancy, and convex hulls / reaction free
energies (pymatgen).

Modules: :mod:`~pydriver.thermo.phonons`, :mod:`~pydriver.thermo.configurational`,
:mod:`~pydriver.thermo.gas`, :mod:`~pydriver.thermo.hull`, :mod:`~pydriver.thermo.workflow` (the
``python -m pydriver thermo`` pipeline). Energies in eV, temperatures in K, frequencies in THz;
constants from :mod:`pydriver.units`.
"""

from pydriver.thermo.configurational import (
    SiteFamily,
    configurational_free_energy_eV,
    ideal_mixing_entropy_kB,
    ordering_entropy_kB,
)
from pydriver.thermo.gas import GasResult, ideal_gas_free_energy
from pydriver.thermo.hull import energies_above_hull, reaction_free_energy, sign_change_temperature
from pydriver.thermo.phonons import PhononResult, harmonic_free_energy, phonon_free_energy

__all__ = [
    "GasResult", "PhononResult", "SiteFamily", "configurational_free_energy_eV", "energies_above_hull",
    "harmonic_free_energy", "ideal_gas_free_energy", "ideal_mixing_entropy_kB", "ordering_entropy_kB",
    "phonon_free_energy", "reaction_free_energy", "sign_change_temperature",
]
