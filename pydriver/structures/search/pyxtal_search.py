"""Rigid-ion crystal structure search with pyxtal and a potential.

1. :func:`generate_candidates`: pyxtal builds molecular crystals of rigid BH4-, B12H12(2-) and Na+ in a
   space group with a given number of each ion (:class:`PhaseSpec`), rescaled rigidly (anion shapes
   kept) to trial volumes; candidates with too-short contacts between ions
   (:data:`MIN_CONTACT_A`) or whose anions the detector does not recover are dropped.
2. :func:`single_points` and :func:`best_distinct`: single-point screen, best trial volume per
   candidate, StructureMatcher de-duplication.
3. :func:`relax_stage`: relaxations with :func:`~pydriver.structures.search.relax.relax_structure`.

:func:`search_phase` chains them for one phase (the pipeline of ``examples/structures/search_structures.py``).
pyxtal: S. Fredericks et al., Comput. Phys. Commun. 261, 107810 (2021).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from pydriver.structures.anions import find_anions
from pydriver.structures.builders import b12h12_unit, bh4_unit
from pydriver.structures.search.records import describe, energy_report, write_model_files
from pydriver.structures.search.relax import relax_structure

log = logging.getLogger(__name__)

#: minimum contacts between different ions (A) for a candidate to be kept
MIN_CONTACT_A = {("H", "H"): 1.7, ("H", "Na"): 1.9, ("B", "Na"): 2.3, ("Na", "Na"): 2.6, ("B", "H"): 1.9}


@dataclass(frozen=True)
class PhaseSpec:
    """What to generate: space group number, ions per cell (keys ``B12H12``, ``BH4``, ``Na``) and the
    target volume per cell, in A^3."""

    space_group: int
    counts: dict[str, int]
    target_volume_A3: float


@dataclass
class SearchSettings:
    """Sizes and criteria of :func:`search_phase` (steps are FIRE steps; forces in eV/A, stress in GPa)."""

    seed: int = 2025
    n_candidates: int = 16
    volume_scales: tuple[float, ...] = (0.92, 1.0, 1.08)
    n_prerelax: int = 6
    prerelax_steps: int = 60
    n_relax: int = 2
    max_steps: int = 1000
    fmax_eV_A: float = 0.02
    pressure_tol_GPa: float | None = None
    keep_symmetry: bool = True


def _molecule(atoms: Atoms):
    from pymatgen.core import Molecule  # heavy: pymatgen

    return Molecule(atoms.get_chemical_symbols(), atoms.get_positions())


def generate_one(spec: PhaseSpec, rng: np.random.Generator) -> Atoms | None:
    """One random pyxtal molecular crystal of ``spec`` (rigid ions), or ``None`` when pyxtal fails."""
    from pymatgen.core import Molecule  # heavy: pymatgen
    from pyxtal import pyxtal  # optional: only the searches need pyxtal

    units = {"B12H12": _molecule(b12h12_unit()), "BH4": _molecule(bh4_unit()), "Na": Molecule(["Na"], [[0, 0, 0]])}
    kinds = [k for k, n in spec.counts.items() if n]
    crystal = pyxtal(molecular=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            crystal.from_random(3, spec.space_group, [units[k] for k in kinds], [spec.counts[k] for k in kinds],
                                factor=1.0, seed=int(rng.integers(2**31)))
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
    """True if no contact between different ions (``mol``: molecule ID per atom, 0 = cation) is
    shorter than :data:`MIN_CONTACT_A`."""
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


def generate_candidates(spec: PhaseSpec, n: int, seed: int, volume_scales: tuple[float, ...] = (0.92, 1.0, 1.08),
                        max_tries: int = 400) -> list[Atoms]:
    """``n`` valid rigid-ion candidates of ``spec``, each at the trial volumes
    (``volume_scales`` x ``spec.target_volume_A3``) that pass the contact check.

    Returns a flat list; ``atoms.info`` holds ``candidate``, ``volume_scale`` and ``wyckoff``.
    Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    out: list[Atoms] = []
    made = 0
    for _ in range(max_tries):
        if made == n:
            break
        atoms = generate_one(spec, rng)
        if atoms is None:
            continue
        try:
            found = find_anions(atoms)
        except ValueError as exc:  # ions generated too close together
            log.debug("rejected: %s", exc)
            continue
        variants = []
        for scale in volume_scales:
            trial = rigid_rescale(atoms, spec.target_volume_A3 * scale)
            # contacts_ok skips pairs inside one ion, including an ion and its own periodic image, so a
            # compressed trial can still fuse with its image: the anion detector has the last word
            if contacts_ok(trial, found.molecule_ids) and _same_anions(trial, found.counts):
                trial.info.update(candidate=made, volume_scale=scale, wyckoff=atoms.info["wyckoff"])
                variants.append(trial)
        if variants:
            out += variants
            made += 1
    log.info("space group %d: %d candidates (%d trial volumes)", spec.space_group, made, len(out))
    return out


def single_points(candidates: list[Atoms], calc) -> list[float]:
    """Energy per atom (eV) of each candidate."""
    energies = []
    for atoms in candidates:
        atoms.calc = calc
        energies.append(float(atoms.get_potential_energy()) / len(atoms))
        atoms.calc = None
    return energies


def best_distinct(candidates: list[Atoms], energies: list[float], n_keep: int) -> list[tuple[Atoms, float]]:
    """Best volume per candidate (``atoms.info["candidate"]``), then the ``n_keep`` lowest that
    pymatgen's StructureMatcher finds distinct, as (atoms, energy per atom) pairs."""
    from pymatgen.analysis.structure_matcher import StructureMatcher  # heavy: pymatgen
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


def relax_stage(kept: list[tuple[Atoms, float]], calc, steps: int, settings: SearchSettings) -> list[dict]:
    """Relax each kept candidate (continuing earlier stages: step counts and wall times add up in
    ``atoms.info``); records ``{atoms, energy (eV/atom), converged}`` sorted by energy."""
    records = []
    for atoms, e_prev in kept:
        relaxed, info = relax_structure(atoms, calc, fmax_eV_A=settings.fmax_eV_A, max_steps=steps,
                                        pressure_tol_GPa=settings.pressure_tol_GPa, keep_symmetry=settings.keep_symmetry)
        relaxed.info.update(candidate=atoms.info["candidate"], total_steps=atoms.info.get("total_steps", 0) + info["steps"],
                            wall_s=atoms.info.get("wall_s", 0.0) + info["wall_s"])
        relaxed.calc = calc
        e = float(relaxed.get_potential_energy()) / len(relaxed)
        relaxed.calc = None
        log.info("candidate %d: %.4f -> %.4f eV/atom (%d steps)", atoms.info["candidate"], e_prev, e, info["steps"])
        records.append({"atoms": relaxed, "energy": e, "converged": info["converged"]})
    return sorted(records, key=lambda r: r["energy"])


def search_phase(name: str, spec: PhaseSpec, settings: SearchSettings, calc32, calc64, out_dir: str | Path,
                 software: dict) -> dict:
    """Generate, screen, pre-relax, de-duplicate and relax one phase; write the lowest as
    ``name``.{extxyz,cif,json} into ``out_dir``; returns its provenance record.

    ``calc32`` (screening and relaxations) and ``calc64`` (final energies) are ASE calculators.
    """
    candidates = generate_candidates(spec, settings.n_candidates, settings.seed, settings.volume_scales)
    t0 = time.time()
    energies = single_points(candidates, calc32)
    kept = best_distinct(candidates, energies, settings.n_prerelax)  # best trial volume of each
    originals = {atoms.info["candidate"]: atoms for atoms, _ in kept}
    pre = relax_stage(kept, calc32, settings.prerelax_steps, settings)
    final_kept = best_distinct([r["atoms"] for r in pre], [r["energy"] for r in pre], settings.n_relax)
    full = relax_stage(final_kept, calc32, settings.max_steps - settings.prerelax_steps, settings)
    results = []
    for r in full:
        atoms = r["atoms"]
        results.append({"candidate": atoms.info["candidate"], "before": describe(originals[atoms.info["candidate"]]),
                        "after": describe(atoms), "relaxation": {"steps": atoms.info["total_steps"],
                        "converged": r["converged"], "fmax_eV_A": settings.fmax_eV_A, "wall_s": atoms.info["wall_s"]},
                        **energy_report(atoms, calc64)})
    log.info("%s: search %.0f s", name, time.time() - t0)
    best = min(results, key=lambda r: r["energy_per_atom_eV"])
    prov = {"status": "PREDICTED model, relaxed with the potential (not experimental)", "phase": name,
            "space_group_requested": spec.space_group, "generator": "pyxtal", "seed": settings.seed,
            "n_candidates": settings.n_candidates, "n_trial_structures": len(candidates),
            "volume_scales": list(settings.volume_scales), "target_volume_A3": spec.target_volume_A3,
            "screen_energies_per_atom_eV": sorted(energies)[:10],
            "prerelaxed": [{"candidate": r["atoms"].info["candidate"], "energy_per_atom_eV": r["energy"]} for r in pre],
            "relaxed": results, "selected": best["candidate"], **best}
    chosen = next(r["atoms"] for r in full if r["atoms"].info["candidate"] == best["candidate"])
    write_model_files(name, chosen, prov, out_dir, software)
    return prov


def relax_model(name: str, atoms: Atoms, status: str, settings: SearchSettings, calc32, calc64, out_dir: str | Path,
                software: dict) -> dict:
    """Relax a hand-built model (e.g. :func:`~pydriver.structures.builders.nabh4_cubic`) with the
    search's criteria and write ``name``.{extxyz,cif,json}; returns the provenance record."""
    relaxed, info = relax_structure(atoms, calc32, fmax_eV_A=settings.fmax_eV_A, max_steps=settings.max_steps,
                                    pressure_tol_GPa=settings.pressure_tol_GPa, keep_symmetry=settings.keep_symmetry)
    prov = {"status": status, "phase": name, "before": describe(atoms), "after": describe(relaxed), "relaxation": info,
            "unrelaxed": energy_report(atoms, calc64), **energy_report(relaxed, calc64)}
    write_model_files(name, relaxed, prov, out_dir, software)
    return prov


def refine_model(name: str, settings: SearchSettings, calc32, calc64, out_dir: str | Path, software: dict) -> dict:
    """Continue relaxing ``out_dir/name.extxyz`` with the search's criteria (e.g. a tighter
    ``pressure_tol_GPa``); rewrites its three files, the earlier state under ``refinement``.

    Raises
    ------
    FileNotFoundError if ``name``.extxyz or ``name``.json is not in ``out_dir``.
    """
    import ase.io

    out_dir = Path(out_dir)
    for suffix in ("extxyz", "json"):
        if not (out_dir / f"{name}.{suffix}").is_file():
            raise FileNotFoundError(f"{out_dir / f'{name}.{suffix}'} not found: run the search before refining")
    atoms = ase.io.read(out_dir / f"{name}.extxyz")
    prov = json.loads((out_dir / f"{name}.json").read_text())
    relaxed, info = relax_structure(atoms, calc32, fmax_eV_A=settings.fmax_eV_A, max_steps=settings.max_steps,
                                    pressure_tol_GPa=settings.pressure_tol_GPa, keep_symmetry=settings.keep_symmetry)
    log.info("%s refined: %d steps, converged %s", name, info["steps"], info["converged"])
    prov["refinement"] = {**info, "before": describe(atoms), "energy_before": energy_report(atoms, calc64)}
    prov.update({"after": describe(relaxed), **energy_report(relaxed, calc64)})
    prov.pop("software", None)
    write_model_files(name, relaxed, prov, out_dir, software)
    return prov
