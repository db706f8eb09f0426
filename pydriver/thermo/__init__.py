"""Thermodynamics from the potential: harmonic phonon free energies (phonopy), ideal-gas free
energies (ASE), configurational entropy of partial occupancy, and convex hulls / reaction free
energies (pymatgen).

Modules: :mod:`~pydriver.thermo.phonons` (with treatments of imaginary modes),
:mod:`~pydriver.thermo.qha`, :mod:`~pydriver.thermo.anharmonic` (Gibbs-Helmholtz from MD enthalpies),
:mod:`~pydriver.thermo.configurational`, :mod:`~pydriver.thermo.gas`, :mod:`~pydriver.thermo.hull`,
:mod:`~pydriver.thermo.band` (the uncertainty band over treatments), :mod:`~pydriver.thermo.npt_lattice`,
:mod:`~pydriver.thermo.workflow` (the ``python -m pydriver thermo`` pipeline). Energies in eV, temperatures in K, frequencies in THz;
constants from :mod:`pydriver.units`.
"""

from pydriver.thermo.anharmonic import anharmonic_correction, gibbs_helmholtz, md_enthalpy
from pydriver.thermo.band import PhaseCurves, sign_change_bracket, stability_band
from pydriver.thermo.configurational import (
    SiteFamily,
    configurational_free_energy_eV,
    ideal_mixing_entropy_kB,
    ordering_entropy_kB,
)
from pydriver.thermo.gas import GasResult, ideal_gas_free_energy
from pydriver.thermo.hull import energies_above_hull, reaction_free_energy, sign_change_temperature
from pydriver.thermo.phonons import PhononResult, free_energy_treatments, harmonic_free_energy, phonon_free_energy
from pydriver.thermo.qha import qha_gibbs

__all__ = [
    "GasResult", "PhaseCurves", "PhononResult", "SiteFamily", "anharmonic_correction", "configurational_free_energy_eV",
    "energies_above_hull", "free_energy_treatments", "gibbs_helmholtz", "harmonic_free_energy", "ideal_gas_free_energy",
    "ideal_mixing_entropy_kB", "md_enthalpy", "ordering_entropy_kB", "phonon_free_energy", "qha_gibbs",
    "reaction_free_energy", "sign_change_bracket", "sign_change_temperature", "stability_band",
]
