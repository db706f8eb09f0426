"""Relaxation and output helpers shared by ``build_onbh.py`` and ``search_na2b12h12.py``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ase import Atoms

log = logging.getLogger(__name__)
EV_A3_TO_GPA = 160.21766208


def relax_free(atoms: Atoms, calc, max_steps: int, fmax_eV_A: float, pressure_tol_GPa: float | None,
               keep_symmetry: bool = False, symprec: float = 1e-3) -> tuple[Atoms, dict]:
    """Relax cell and positions (FrechetCellFilter + FIRE), optionally keeping the space group.

    ``pressure_tol_GPa`` sets the filter's ``exp_cell_factor`` so that the cell criterion
    (virial / exp_cell_factor < fmax) means |stress| < ``pressure_tol_GPa``.
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = atoms.copy()
    atoms.calc = calc
    if keep_symmetry:
        atoms.set_constraint(FixSymmetry(atoms, symprec=symprec))
    cell_factor = None
    if pressure_tol_GPa is not None:
        cell_factor = pressure_tol_GPa / EV_A3_TO_GPA * atoms.get_volume() / fmax_eV_A
    opt = FIRE(FrechetCellFilter(atoms, exp_cell_factor=cell_factor), logfile=None)
    t0 = time.time()
    converged = bool(opt.run(fmax=fmax_eV_A, steps=max_steps)) if max_steps > 0 else False
    info = {"steps": int(opt.nsteps), "converged": converged, "fmax_eV_A": fmax_eV_A,
            "pressure_tol_GPa": pressure_tol_GPa, "max_steps": max_steps, "keep_symmetry": keep_symmetry,
            "wall_s": round(time.time() - t0, 1)}
    atoms.set_constraint()
    atoms.calc = None
    return atoms, info


def describe(atoms: Atoms) -> dict:
    """Lattice parameters (A, deg), volume (A^3), density (g/cm^3) and space group (spglib, 0.01 A)."""
    import spglib

    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    density = atoms.get_masses().sum() / atoms.get_volume() * 1.66053906660  # amu/A^3 -> g/cm^3
    return {"a_A": a, "b_A": b, "c_A": c, "alpha_deg": alpha, "beta_deg": beta, "gamma_deg": gamma,
            "volume_A3": atoms.get_volume(), "density_g_cm3": density,
            "space_group": spglib.get_spacegroup(cell, symprec=1e-2)}


def final_energy(atoms: Atoms, calc) -> dict:
    """Energy (eV, eV/atom), pressure (GPa) and largest force (eV/A) of a structure."""
    atoms = atoms.copy()
    atoms.calc = calc
    energy_eV = atoms.get_potential_energy()
    pressure_GPa = -atoms.get_stress()[:3].mean() * EV_A3_TO_GPA
    fmax = float((atoms.get_forces() ** 2).sum(axis=1).max() ** 0.5)
    return {"energy_eV": energy_eV, "energy_per_atom_eV": energy_eV / len(atoms), "pressure_GPa": pressure_GPa,
            "max_force_eV_A": fmax}


def software(model_dir: Path, script: str) -> dict:
    """Model and package versions recorded in every provenance file."""
    from importlib import metadata

    versions = {}
    for package in ("pyxtal", "ase", "pymatgen", "spglib", "torch", "numpy", "phonopy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"model": Path(model_dir).name, "relaxation_dtype": "float32", "energy_dtype": "float64",
            "calculator": "pydriver.m3gnet.calculator.M3GNetCalculator", "script": script, "versions": versions}


def write_outputs(name: str, atoms: Atoms, provenance: dict, out_dir: Path, software_info: dict) -> None:
    """``name``.extxyz, ``name``.cif and ``name``.json (provenance), from the same atoms."""
    import ase.io

    provenance = {**provenance, "software": software_info}
    clean = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions(), cell=atoms.cell, pbc=True)
    clean.info["comment"] = f"{name}: {provenance['status']}"
    ase.io.write(out_dir / f"{name}.extxyz", clean, format="extxyz")
    ase.io.write(out_dir / f"{name}.cif", clean, format="cif")
    (out_dir / f"{name}.json").write_text(json.dumps(provenance, indent=2, default=float) + "\n")
    log.info("wrote %s.{extxyz,cif,json}", out_dir / name)
