#!/usr/bin/env python
"""Predict ordered model structures of Na2B12H12 and o-NBH with the M3GNet NaBH potential.

A small symmetry-constrained search (not part of CI; see README.md for the run and its numbers):
1. pyxtal builds molecular crystals of rigid BH4-, B12H12(2-) and Na+ in the space group and Z
   of each phase (Na2B12H12: P2_1/c, Z = 2, 52 atoms; o-NBH: Cmc2_1, Z = 4, 128 atoms), rescaled
   rigidly to a few trial volumes; candidates with too-short inter-ion contacts are dropped.
2. Single-point pre-screen (float32), StructureMatcher de-duplication, short pre-relaxations.
3. The best few are relaxed (cell + positions, FixSymmetry + FrechetCellFilter + FIRE, capped);
   final energies in float64. Ordered cubic NaBH4 (a = 6.10 A) is relaxed the same way.
Budget: ~40 min of one core (torch.set_num_threads(1)). Writes ``<name>.extxyz``, ``.cif``,
``.json`` (provenance) and ``search_summary.json``. ``--generate-only`` needs no model.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
from ase import Atoms

from pydriver.structures import find_anions
from pydriver.structures.builders import b12h12_unit, bh4_unit, nabh4_cubic

log = logging.getLogger("search_structures")
HERE = Path(__file__).resolve().parent
MODEL_DIR = Path("/work/shared/models/M3GNet-r2SCAN-NaBH")

#: phase -> space group, ions per cell, target volume per cell (A^3) from the known
#: Na2B12H12 density (~393 A^3/f.u.) and V(o-NBH) ~ V(Na2B12H12) + V(NaBH4) per f.u.
PHASES = {
    "Na2B12H12": {"space_group": 14, "counts": {"B12H12": 2, "BH4": 0, "Na": 4}, "target_volume_A3": 786.0},
    "oNBH": {"space_group": 36, "counts": {"B12H12": 4, "BH4": 4, "Na": 12}, "target_volume_A3": 1800.0},
}
VOLUME_SCALES = (0.92, 1.0, 1.08)
#: minimum inter-ion contacts (A) for a candidate to be kept
MIN_CONTACT_A = {("H", "H"): 1.7, ("H", "Na"): 1.9, ("B", "Na"): 2.3, ("Na", "Na"): 2.6, ("B", "H"): 1.9}


def _molecule(atoms: Atoms):
    from pymatgen.core import Molecule

    return Molecule(atoms.get_chemical_symbols(), atoms.get_positions())


def generate_one(phase: str, rng: np.random.Generator) -> Atoms | None:
    """One random pyxtal molecular crystal of ``phase`` (rigid ions), or ``None`` on failure."""
    from pymatgen.core import Molecule
    from pyxtal import pyxtal

    spec = PHASES[phase]
    units = {"B12H12": _molecule(b12h12_unit()), "BH4": _molecule(bh4_unit()), "Na": Molecule(["Na"], [[0, 0, 0]])}
    kinds = [k for k, n in spec["counts"].items() if n]
    crystal = pyxtal(molecular=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            crystal.from_random(3, spec["space_group"], [units[k] for k in kinds],
                                [spec["counts"][k] for k in kinds], factor=1.0, seed=int(rng.integers(2**31)))
    except Exception as exc:  # pyxtal raises various errors for impossible draws
        log.debug("pyxtal failed: %s", exc)
        return None
    if not crystal.valid:
        return None
    atoms = crystal.to_ase(resort=False)
    atoms.info["wyckoff"] = [f"{s.wp.multiplicity}{s.wp.letter}" for s in crystal.mol_sites]
    return atoms


def rigid_rescale(atoms: Atoms, volume_A3: float) -> Atoms:
    """Scale the cell to ``volume_A3`` moving anion centres affinely, keeping anion shapes."""
    anion_map = find_anions(atoms)
    scale = (volume_A3 / atoms.get_volume()) ** (1 / 3)
    out = atoms.copy()
    out.set_cell(atoms.cell.array * scale, scale_atoms=False)
    new = atoms.get_positions() * scale  # cations (and a first guess for all)
    for anion in anion_map.anions:
        idx = anion.atom_indices
        whole = anion_map.unwrapped_positions_A[idx]
        centre = whole.mean(axis=0)
        new[idx] = whole - centre + centre * scale
    out.set_positions(new)
    out.wrap()
    return out


def contacts_ok(atoms: Atoms, mol: np.ndarray) -> bool:
    """True if no contact between different ions (``mol``: molecule ID per atom, 0 = cation)
    is shorter than :data:`MIN_CONTACT_A`."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, max(MIN_CONTACT_A.values()))
    symbols = np.array(atoms.get_chemical_symbols())
    for a, b, dist in zip(i, j, d):
        if mol[a] and mol[a] == mol[b]:
            continue
        limit = MIN_CONTACT_A.get(tuple(sorted((symbols[a], symbols[b]))))
        if limit is not None and dist < limit:
            return False
    return True


def _same_anions(atoms: Atoms, counts: dict[str, int]) -> bool:
    """True if the anion detector finds exactly ``counts`` in ``atoms``."""
    try:
        return find_anions(atoms).counts == counts
    except ValueError:
        return False


def generate_candidates(phase: str, n: int, seed: int, max_tries: int = 400) -> list[Atoms]:
    """``n`` valid rigid-ion candidates of ``phase``, each at the trial volumes that pass contacts.

    Returns a flat list; ``atoms.info`` holds ``candidate``, ``volume_scale`` and ``wyckoff``.
    """
    rng = np.random.default_rng(seed)
    spec = PHASES[phase]
    out: list[Atoms] = []
    made = 0
    for _ in range(max_tries):
        if made == n:
            break
        atoms = generate_one(phase, rng)
        if atoms is None:
            continue
        try:
            found = find_anions(atoms)
        except ValueError as exc:  # ions generated too close together
            log.debug("rejected: %s", exc)
            continue
        mol = found.molecule_ids
        variants = []
        for scale in VOLUME_SCALES:
            trial = rigid_rescale(atoms, spec["target_volume_A3"] * scale)
            # contacts_ok skips pairs inside one ion, including an ion and its own periodic image, so a
            # compressed trial can still fuse with its image: the anion detector has the last word
            if contacts_ok(trial, mol) and _same_anions(trial, found.counts):
                trial.info.update(candidate=made, volume_scale=scale, wyckoff=atoms.info["wyckoff"])
                variants.append(trial)
        if variants:
            out += variants
            made += 1
    log.info("%s: %d candidates (%d trial volumes)", phase, made, len(out))
    return out


def single_points(candidates: list[Atoms], calc) -> list[float]:
    """Energy per atom (eV) of each candidate."""
    energies = []
    for atoms in candidates:
        atoms.calc = calc
        energies.append(atoms.get_potential_energy() / len(atoms))
        atoms.calc = None
    return energies


def best_distinct(candidates: list[Atoms], energies: list[float], n_keep: int) -> list[tuple[Atoms, float]]:
    """Best volume per candidate, then the ``n_keep`` lowest that StructureMatcher finds distinct."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    best: dict[int, tuple[Atoms, float]] = {}
    for atoms, e in zip(candidates, energies):
        k = atoms.info["candidate"]
        if k not in best or e < best[k][1]:
            best[k] = (atoms, e)
    ranked = sorted(best.values(), key=lambda p: p[1])
    matcher = StructureMatcher()
    kept: list[tuple[Atoms, float]] = []
    for atoms, e in ranked:
        s = AseAtomsAdaptor.get_structure(atoms)
        if any(matcher.fit(s, AseAtomsAdaptor.get_structure(k)) for k, _ in kept):
            log.info("duplicate candidate %d dropped", atoms.info["candidate"])
            continue
        kept.append((atoms, e))
        if len(kept) == n_keep:
            break
    return kept


def relax(atoms: Atoms, calc, max_steps: int, fmax_eV_A: float, pressure_tol_GPa: float | None = None) -> tuple[Atoms, dict]:
    """Relax cell and positions keeping the space group (FixSymmetry + FrechetCellFilter + FIRE).

    ``pressure_tol_GPa`` sets the filter's ``exp_cell_factor`` so that the force criterion on the cell
    degrees of freedom (virial / exp_cell_factor < fmax) means |stress| < ``pressure_tol_GPa``; ``None``
    keeps ASE's default (exp_cell_factor = number of atoms: about 0.3 GPa for these hydrides).
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = atoms.copy()
    atoms.calc = calc
    atoms.set_constraint(FixSymmetry(atoms, symprec=1e-3))
    cell_factor = None
    if pressure_tol_GPa is not None:
        cell_factor = pressure_tol_GPa / EV_A3_TO_GPA * atoms.get_volume() / fmax_eV_A
    opt = FIRE(FrechetCellFilter(atoms, exp_cell_factor=cell_factor), logfile=None)
    t0 = time.time()
    converged = bool(opt.run(fmax=fmax_eV_A, steps=max_steps))
    info = {"steps": int(opt.nsteps), "converged": converged, "fmax_eV_A": fmax_eV_A,
            "pressure_tol_GPa": pressure_tol_GPa, "max_steps": max_steps, "wall_s": round(time.time() - t0, 1)}
    atoms.set_constraint()
    atoms.calc = None
    return atoms, info


def describe(atoms: Atoms) -> dict:
    """Lattice parameters (A, deg), volume (A^3), space group of a structure."""
    import spglib

    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    return {"a_A": a, "b_A": b, "c_A": c, "alpha_deg": alpha, "beta_deg": beta, "gamma_deg": gamma,
            "volume_A3": atoms.get_volume(), "space_group": spglib.get_spacegroup(cell, symprec=1e-2)}


def final_energy(atoms: Atoms, calc64) -> dict:
    """Float64 energy per atom (eV) and pressure (GPa) of a structure."""
    atoms = atoms.copy()
    atoms.calc = calc64
    energy_eV = atoms.get_potential_energy()
    pressure_GPa = -atoms.get_stress()[:3].mean() * EV_A3_TO_GPA
    return {"energy_eV": energy_eV, "energy_per_atom_eV": energy_eV / len(atoms), "pressure_GPa": pressure_GPa}


EV_A3_TO_GPA = 160.21766208


def software() -> dict:
    """Model and package versions recorded in every provenance file."""
    from importlib import metadata

    versions = {}
    for package in ("pyxtal", "ase", "pymatgen", "spglib", "torch", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"model": MODEL_DIR.name, "relaxation_dtype": "float32", "energy_dtype": "float64",
            "calculator": "pydriver.m3gnet.calculator.M3GNetCalculator", "script": "examples/structures/search_structures.py",
            "versions": versions}


def write_outputs(name: str, atoms: Atoms, provenance: dict, out_dir: Path) -> None:
    """``name``.extxyz, ``name``.cif and ``name``.json (provenance)."""
    import ase.io

    provenance = {**provenance, "software": software()}

    clean = Atoms(atoms.get_chemical_symbols(), positions=atoms.get_positions(), cell=atoms.cell, pbc=True)
    clean.info["comment"] = f"{name}: {provenance['status']}"
    ase.io.write(out_dir / f"{name}.extxyz", clean, format="extxyz")
    ase.io.write(out_dir / f"{name}.cif", clean, format="cif")
    (out_dir / f"{name}.json").write_text(json.dumps(provenance, indent=2, default=float) + "\n")
    log.info("wrote %s.{extxyz,cif,json}", out_dir / name)


def _write_unrelaxed(phase: str, candidates: list[Atoms], args) -> dict:
    atoms = candidates[0]
    prov = {"status": "UNRELAXED rigid-ion candidate (no potential used)", "phase": phase, "generator": "pyxtal",
            "seed": args.seed, "candidate": atoms.info["candidate"], "volume_scale": atoms.info["volume_scale"],
            "lattice": describe(atoms)}
    write_outputs(f"{phase}_unrelaxed", atoms, prov, args.out_dir)
    return prov


def _relax_stage(phase: str, kept: list[tuple[Atoms, float]], calc, steps: int, fmax: float,
                 pressure_tol: float | None) -> list[dict]:
    """Relax each kept candidate (continuing earlier stages); records sorted by energy."""
    records = []
    for atoms, e_prev in kept:
        relaxed, info = relax(atoms, calc, steps, fmax, pressure_tol)
        relaxed.info["total_steps"] = atoms.info.get("total_steps", 0) + info["steps"]
        relaxed.info["wall_s"] = atoms.info.get("wall_s", 0.0) + info["wall_s"]
        relaxed.calc = calc
        e = relaxed.get_potential_energy() / len(relaxed)
        relaxed.calc = None
        log.info("%s candidate %d: %.4f -> %.4f eV/atom (%d steps)", phase, atoms.info["candidate"], e_prev, e,
                 info["steps"])
        records.append({"atoms": relaxed, "energy": e, "converged": info["converged"]})
    return sorted(records, key=lambda r: r["energy"])


def search_phase(phase: str, args, calc32, calc64) -> dict:
    """Generate, pre-screen, pre-relax, deduplicate and fully relax one phase; write the best."""
    candidates = generate_candidates(phase, args.n_candidates[phase], args.seed)
    if args.generate_only:
        return _write_unrelaxed(phase, candidates, args)
    t0 = time.time()
    energies = single_points(candidates, calc32)
    kept = best_distinct(candidates, energies, args.n_prerelax)  # best trial volume of each
    originals = {atoms.info["candidate"]: atoms for atoms, _ in kept}
    pre = _relax_stage(phase, kept, calc32, args.prerelax_steps, args.fmax, args.pressure_tol)
    final_kept = best_distinct([r["atoms"] for r in pre], [r["energy"] for r in pre], args.n_relax)
    full = _relax_stage(phase, final_kept, calc32, args.max_steps - args.prerelax_steps, args.fmax, args.pressure_tol)
    results = []
    for r in full:
        atoms = r["atoms"]
        results.append({"candidate": atoms.info["candidate"], "before": describe(originals[atoms.info["candidate"]]),
                        "after": describe(atoms), "relaxation": {"steps": atoms.info["total_steps"],
                        "converged": r["converged"], "fmax_eV_A": args.fmax, "wall_s": atoms.info["wall_s"]},
                        **final_energy(atoms, calc64)})
    log.info("%s: search %.0f s", phase, time.time() - t0)
    best = min(results, key=lambda r: r["energy_per_atom_eV"])
    prov = {"status": "PREDICTED model, relaxed with the M3GNet-r2SCAN-NaBH potential (not experimental)",
            "phase": phase, "space_group_requested": PHASES[phase]["space_group"], "generator": "pyxtal",
            "seed": args.seed, "n_candidates": args.n_candidates[phase], "n_trial_structures": len(candidates),
            "volume_scales": VOLUME_SCALES, "target_volume_A3": PHASES[phase]["target_volume_A3"],
            "screen_energies_per_atom_eV": sorted(energies)[:10],
            "prerelaxed": [{"candidate": r["atoms"].info["candidate"], "energy_per_atom_eV": r["energy"]} for r in pre],
            "relaxed": results, "selected": best["candidate"], **best}
    write_outputs(phase, full[[r["candidate"] for r in results].index(best["candidate"])]["atoms"], prov, args.out_dir)
    return prov


def relax_nabh4(args, calc32, calc64) -> dict:
    """Relax the ordered cubic NaBH4 model (built at a = 6.10 A) and write it."""
    atoms = nabh4_cubic()
    relaxed, info = relax(atoms, calc32, args.max_steps, args.fmax, args.pressure_tol)
    prov = {"status": "ordered cubic model (F-43m), built at a = 6.10 A, B-H 1.21 A; relaxed with the potential",
            "phase": "NaBH4", "before": describe(atoms), "after": describe(relaxed), "relaxation": info,
            "unrelaxed": final_energy(atoms, calc64), **final_energy(relaxed, calc64)}
    write_outputs("NaBH4_relaxed", relaxed, prov, args.out_dir)
    return prov


def refine(name: str, args, calc32, calc64) -> dict:
    """Continue relaxing ``name``.extxyz with the stress criterion ``--pressure-tol``; update its files."""
    import ase.io

    atoms = ase.io.read(args.out_dir / f"{name}.extxyz")
    prov = json.loads((args.out_dir / f"{name}.json").read_text())
    relaxed, info = relax(atoms, calc32, args.max_steps, args.fmax, args.pressure_tol)
    log.info("%s refined: %d steps, converged %s", name, info["steps"], info["converged"])
    prov["refinement"] = {**info, "before": describe(atoms), "energy_before": final_energy(atoms, calc64)}
    prov.update({"after": describe(relaxed), **final_energy(relaxed, calc64)})
    write_outputs(name, relaxed, prov, args.out_dir)
    return prov


def _summary(out_dir: Path) -> dict:
    """Energies per formula unit and the o-NBH energy relative to NaBH4 + Na2B12H12 (eV)."""
    files = {"NaBH4": ("NaBH4_relaxed", 4), "Na2B12H12": ("Na2B12H12", 2), "oNBH": ("oNBH", 4)}
    records = {phase: json.loads((out_dir / f"{name}.json").read_text()) for phase, (name, _) in files.items()}
    e_fu = {phase: records[phase]["energy_eV"] / n_fu for phase, (_, n_fu) in files.items()}
    return {"energy_per_atom_eV": {p: r["energy_per_atom_eV"] for p, r in records.items()},
            "pressure_GPa": {p: r["pressure_GPa"] for p, r in records.items()},
            "energy_per_formula_unit_eV": e_fu,
            "oNBH_relative_energy_per_fu_eV": e_fu["oNBH"] - e_fu["NaBH4"] - e_fu["Na2B12H12"],
            "oNBH_relative_energy_per_atom_eV": (e_fu["oNBH"] - e_fu["NaBH4"] - e_fu["Na2B12H12"]) / 32}


def main(argv: list[str] | None = None) -> int:
    """Run the search (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--out-dir", type=Path, default=HERE)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--n-na2b12h12", type=int, default=16)
    parser.add_argument("--n-onbh", type=int, default=24)
    parser.add_argument("--n-prerelax", type=int, default=6, help="short pre-relaxations per phase")
    parser.add_argument("--prerelax-steps", type=int, default=60)
    parser.add_argument("--n-relax", type=int, default=2, help="full relaxations per phase")
    parser.add_argument("--max-steps", type=int, default=1000, help="total FIRE steps of a full relaxation")
    parser.add_argument("--fmax", type=float, default=0.02, help="eV/A")
    parser.add_argument("--phases", nargs="+", default=["NaBH4", *PHASES])
    parser.add_argument("--pressure-tol", type=float, default=None, metavar="GPA",
                        help="stress criterion of the relaxations (default: ASE's, ~0.3 GPa here)")
    parser.add_argument("--refine", action="store_true",
                        help="continue relaxing the written structures (use with --pressure-tol)")
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args(argv)
    args.n_candidates = {"Na2B12H12": args.n_na2b12h12, "oNBH": args.n_onbh}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    calc32 = calc64 = None
    if not args.generate_only:
        import torch

        from pydriver.m3gnet.calculator import M3GNetCalculator

        torch.set_num_threads(1)
        calc32 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float32")
        calc64 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float64")
    for phase in args.phases:
        if args.refine:
            refine("NaBH4_relaxed" if phase == "NaBH4" else phase, args, calc32, calc64)
        elif phase == "NaBH4":
            if not args.generate_only:
                relax_nabh4(args, calc32, calc64)
        else:
            search_phase(phase, args, calc32, calc64)
    if args.generate_only:
        return 0
    summary = _summary(args.out_dir)
    (args.out_dir / "search_summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
