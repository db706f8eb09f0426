"""What the structure searches record about a structure: lattice, space group, energy, files, versions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from ase import Atoms

from pydriver.units import AMU_A3_TO_G_CM3, EV_A3_TO_GPA

log = logging.getLogger(__name__)

#: packages whose versions go into every provenance file
VERSIONED_PACKAGES = ("pyxtal", "ase", "pymatgen", "spglib", "torch", "numpy", "phonopy")


def space_group(atoms: Atoms, symprec: float = 0.1) -> str:
    """International symbol and number found by spglib at ``symprec`` (A), e.g. ``"Cmc2_1 (36)"``."""
    import spglib

    ds = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers), symprec=symprec)
    return f"{ds.international} ({ds.number})"


def describe(atoms: Atoms) -> dict:
    """Lattice parameters (A, deg), volume (A^3), density (g/cm^3) and space group (spglib, 0.01 A)."""
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    volume = atoms.get_volume()
    return {"a_A": a, "b_A": b, "c_A": c, "alpha_deg": alpha, "beta_deg": beta, "gamma_deg": gamma,
            "volume_A3": volume, "density_g_cm3": atoms.get_masses().sum() / volume * AMU_A3_TO_G_CM3,
            "space_group": space_group(atoms, 1e-2)}


def energy_report(atoms: Atoms, calc) -> dict:
    """Energy (eV, eV/atom), pressure (GPa, -trace(stress) / 3) and largest force (eV/A) with ``calc``."""
    atoms = atoms.copy()
    atoms.calc = calc
    energy_eV = float(atoms.get_potential_energy())
    return {"energy_eV": energy_eV, "energy_per_atom_eV": energy_eV / len(atoms),
            "pressure_GPa": float(-atoms.get_stress()[:3].mean() * EV_A3_TO_GPA),
            "max_force_eV_A": float(np.linalg.norm(atoms.get_forces(), axis=1).max())}


def software_versions(model: str | Path, script: str) -> dict:
    """Model folder name, dtypes, calculator, the script and package versions (``None``: not installed)."""
    from importlib import metadata

    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"model": Path(model).name, "relaxation_dtype": "float32", "energy_dtype": "float64",
            "calculator": "pydriver.m3gnet.calculator.M3GNetCalculator", "script": script, "versions": versions}


def write_model_files(name: str, atoms: Atoms, provenance: dict, out_dir: str | Path, software: dict) -> None:
    """``name``.extxyz, ``name``.cif and ``name``.json (``provenance`` + ``software``), from the same atoms.

    ``provenance`` needs a ``status`` line (it becomes the extxyz comment).
    """
    import ase.io

    out_dir = Path(out_dir)
    provenance = {**provenance, "software": software}
    clean = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions(), cell=atoms.cell, pbc=True)
    clean.info["comment"] = f"{name}: {provenance['status']}"
    ase.io.write(out_dir / f"{name}.extxyz", clean, format="extxyz")
    ase.io.write(out_dir / f"{name}.cif", clean, format="cif")
    (out_dir / f"{name}.json").write_text(json.dumps(provenance, indent=2, default=float) + "\n")
    log.info("wrote %s.{extxyz,cif,json}", out_dir / name)
