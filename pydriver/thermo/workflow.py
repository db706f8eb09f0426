"""The ``python -m pydriver thermo`` pipeline: relax, phonons / ideal gas, hull and reaction dG(T).

A run is described by a spec (YAML or JSON; :func:`load_spec`)::

    model: ../../shared/models/M3GNet-r2SCAN-NaBH   # matgl directory or exported .pt
    dtype: float64
    temperatures_K: [300, 650]        # hulls at these T, plus the static (no phonon) hull
    min_width_A: 10                   # phonon supercells: every perpendicular width above this
    phases:
      - {name: Na, file: Na_bcc.extxyz}
      - {name: H2, file: H2.extxyz, gas: {geometry: linear, symmetry_number: 2}}
      - {name: oNBH, file: oNBH.extxyz, formula_unit: Na3B13H16, supercell: [1, 1, 1]}
    target: oNBH
    reaction: {oNBH: 1, NaBH4: -1, Na2B12H12: -1}   # per formula unit; products > 0

Relative paths are relative to the spec file. Finished phases are kept in ``OUT/phases/<name>.json``
and reused when the structure file, model and settings are unchanged (resume / add a phase). Per phase: ``relax`` (default true: cell and
positions, symmetry kept; a dict overrides the spec's ``relax`` options, e.g. ``{max_steps: 100}``), ``refine_symprec`` (snap to the space group found at this tolerance, A,
before relaxing), ``supercell`` (overrides ``min_width_A``), ``is_plusminus``, ``follow_soft_modes``
(up to this many times: displace along an imaginary Gamma mode by ``soft_mode_amplitude_A``, default
0.1 A, relax again in the remaining subgroup, redo the phonons), ``write_relaxed`` (extxyz path),
``configurational`` (partial occupancy, :mod:`pydriver.thermo.configurational`)::

    configurational:
      site_families:                  # ideal lattice gas, per formula unit (published occupancies)
        - {name: Na, sites_per_fu: 9, occupancy: 0.3333}
      orderings:                      # or orderings_file: JSON list (or {"orderings": [...]}) of the same,
        - {energy_eV: -687.418, multiplicity: 1}    # or an onbh_orderings.json (orderings_stage: final
                                                    # or prerelax); energy of the phase's cell, eV
        - {energy_eV: -687.396, multiplicity: 2}
      use: ideal                      # which S enters G: ideal, orderings or none
                                      # (default: orderings if given, else ideal)

Treatments, QHA, anharmonic estimate and band (every key has a default; unknown keys are refused)::

    relax: {fmax_eV_A: 0.002, pressure_tol_GPa: 0.02, max_steps: 2000}   # cell and positions
    phonons: {mesh: 50, soft_mode_floor_THz: 0.5, displacement_A: 0.01}  # mesh: length (A) or [n1, n2, n3]
    qha: {volume_scales: [0.98, 1.0, 1.02, 1.04, 1.06], eos: vinet, phases: null}  # absent: no QHA;
                                      # phases null: every crystal; 3-4 volumes: a parabola per T
    band: {alternatives: {NaBH4: [NaBH4_cubic]},   # role -> phases that may stand for it
           hull_temperatures_K: null,  # default every 50 K up to max_temperature_K
           max_temperature_K: 900, line: null,   # line default: the reaction's two reactants
           line_temperatures_K: [0, 300, 600, 900]}
    phases:
      - name: oNBH
        anharmonic:                   # Gibbs-Helmholtz from NPT MD (pydriver.thermo.anharmonic)
          runs: [md/oNBH_T100, md/oNBH_T300, md/oNBH_T650]   # run directories (run.json + log.lammps)
          # or enthalpies: [{T_K: 100, H_eV_per_atom: ..., H_err_eV_per_atom: ...}], n_atoms_md: 128
          T0_K: 100                   # default: the lowest MD temperature
          align_at_T0: true           # E_ref from the MD at T0 (default) or the static energy

Per crystal, ``free_energy_treatments_eV`` gives E_static + F_vib under each treatment of imaginary
modes (``dropped``, ``abs``, ``floor``; :mod:`pydriver.thermo.phonons`), ``phonons.mesh_convergence``
the q-mesh ladder; with QHA, ``qha`` holds the volume points and G(T), V(T) per treatment; with an
anharmonic block, ``anharmonic`` the correction dG per atom (NaN / null outside the MD range). The
top-level ``band`` (:func:`pydriver.thermo.band.stability_band`) spans every combination of
vibrational model x treatment x configurational choice x alternative; ``reaction`` gains
``sign_change_bracket_K`` (null if the band never contains 0), ``sign_change_bracket_open_ends`` and
``contributions_eV_per_fu``; ``band.png`` is its figure. Relaxed structures and phonon forces are
kept in ``OUT/phases/<name>/`` as they are computed (resume mid-phase; a new mesh or floor re-uses
the forces).

The term -T S_config is added to the phase's G in the hulls at temperature and in the reaction dG(T)
(``reaction.dG_config_eV_per_fu`` shows it separately); ``configurational`` is not part of the cache
key, so adding it re-uses the phonons. Per phase, ``thermo.json`` reports ``S_config_kB_per_atom``:
``{"ideal": value or null, "orderings": {"<T>K": value} or null, "used": "ideal" | "orderings" | null}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

import ase.io
import numpy as np
import yaml
from ase.spacegroup.symmetrize import refine_symmetry

from pydriver.structures.search import relax_structure, space_group
from pydriver.structures.supercell import minimal_replication
from pydriver.structures.search.onbh import ordering_energies
from pydriver.thermo.configurational import (
    configurational_free_energy_eV,
    ideal_mixing_entropy_kB,
    ordering_entropy_kB,
    site_families,
)
from pydriver.thermo.gas import ideal_gas_free_energy
from pydriver.thermo.hull import energies_above_hull, plot_hull, reaction_free_energy, sign_change_temperature
from pydriver.thermo.anharmonic import anharmonic_correction, md_enthalpy
from pydriver.thermo.band import PhaseCurves, plot_band, stability_band
from pydriver.thermo.phonons import SOFT_MODE_FLOOR_THZ, phonon_free_energy
from pydriver.thermo.qha import VOLUME_SCALES, qha_gibbs, scaled_cell

log = logging.getLogger(__name__)

#: the final (relaxed, soft modes followed) structure of a crystal phase, in ``OUT/phases/<name>/``
PHASE_STRUCTURE_FILE = "structure.extxyz"
#: largest rise of F_vib(300 K) per cell from one QHA volume point to the next larger one that still
#: counts as "falling" (eV; numerical noise of the phonon free energy)
QHA_F_TOLERANCE_EV = 1e-3
#: temperature grid for dG(T) and the sign change, in K
DENSE_T_K = np.arange(0.0, 1001.0, 10.0)
RELAX_DEFAULTS = {"fmax_eV_A": 0.002, "pressure_tol_GPa": 0.02, "max_steps": 2000}


def load_spec(path: str | Path) -> dict:
    """Read a spec (YAML or JSON) and resolve relative file paths against its folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"thermo spec {path} not found")
    spec = yaml.safe_load(path.read_text())
    for key in ("phases", "model"):
        if key not in spec:
            raise ValueError(f"thermo spec {path}: missing key {key!r} (needs model, phases)")
    _check_keys(spec, SPEC_KEYS, f"thermo spec {path}")
    for block, allowed in (("phonons", PHONON_KEYS), ("qha", QHA_KEYS), ("band", BAND_KEYS)):
        if spec.get(block) is not None:
            _check_keys(spec[block], allowed, f"thermo spec {path}: {block}")
    base = path.parent
    spec["model"] = str((base / spec["model"]).resolve()) if not Path(spec["model"]).is_absolute() else spec["model"]
    for phase in spec["phases"]:
        if "name" not in phase or "file" not in phase:
            raise ValueError(f"thermo spec {path}: every phase needs name and file, got {phase}")
        _check_keys(phase, PHASE_KEYS, f"thermo spec {path}: phase {phase['name']}")
        if phase.get("anharmonic"):
            phase["anharmonic"] = _load_anharmonic(phase["anharmonic"], base, phase["name"])
        phase["file"] = str((base / phase["file"]).resolve())
        if phase.get("write_relaxed"):
            phase["write_relaxed"] = str((base / phase["write_relaxed"]).resolve())
        if phase.get("configurational"):
            phase["configurational"] = _load_configurational(phase["configurational"], base, phase["name"])
        if isinstance(phase.get("relax"), dict):
            _check_relax_keys(phase["relax"], f"phase {phase['name']}")
    _check_relax_keys(spec.get("relax", {}), "spec")
    names = [p["name"] for p in spec["phases"]]
    for key in ("target",):
        if spec.get(key) and spec[key] not in names:
            raise ValueError(f"{key} {spec[key]!r} is not a phase; phases: {names}")
    bad = sorted(set(spec.get("reaction", {})) - set(names))
    if bad:
        raise ValueError(f"reaction phases {bad} are not phases; phases: {names}")
    band = spec.get("band") or {}
    bad = sorted({n for role, alts in (band.get("alternatives") or {}).items() for n in [role, *alts]} - set(names))
    bad += sorted(set(band.get("line") or []) - set(names)) + sorted(set((spec.get("qha") or {}).get("phases") or [])
                                                                  - set(names))
    if bad:
        raise ValueError(f"band alternatives / line or qha phases {bad} are not phases; phases: {names}")
    return spec


#: top-level spec keys (anything else is refused)
SPEC_KEYS = ("model", "dtype", "temperatures_K", "min_width_A", "phases", "target", "reaction", "relax", "phonons",
             "qha", "band")
#: keys of one phase
PHASE_KEYS = ("name", "file", "formula_unit", "gas", "relax", "refine_symprec", "supercell", "is_plusminus",
              "follow_soft_modes", "soft_mode_amplitude_A", "write_relaxed", "configurational", "anharmonic")
#: ``phonons`` block: q-mesh (length in A or three integers), soft-mode floor (THz), finite displacement (A)
PHONON_DEFAULTS = {"mesh": 50.0, "soft_mode_floor_THz": SOFT_MODE_FLOOR_THZ, "displacement_A": 0.01}
PHONON_KEYS = tuple(PHONON_DEFAULTS)
#: ``qha`` block: volume points (x the relaxed volume), equation of state, phases (default: every crystal)
QHA_DEFAULTS = {"volume_scales": list(VOLUME_SCALES), "eos": "vinet", "phases": None}
QHA_KEYS = tuple(QHA_DEFAULTS)
#: ``band`` block: alternatives per role, hull temperatures, top of the band's range, compositional line
BAND_DEFAULTS = {"alternatives": {}, "hull_temperatures_K": None, "max_temperature_K": 900.0, "line": None,
                 "line_temperatures_K": [0.0, 300.0, 600.0, 900.0]}
BAND_KEYS = tuple(BAND_DEFAULTS)
ANHARMONIC_KEYS = ("runs", "enthalpies", "n_atoms_md", "T0_K", "align_at_T0")


def _check_keys(block: dict, allowed: tuple, where: str) -> None:
    if not isinstance(block, dict):
        raise ValueError(f"{where}: expected a mapping, got {block!r}")
    unknown = sorted(set(block) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; allowed: {list(allowed)}")


def _load_anharmonic(block: dict, base: Path, name: str) -> dict:
    """Check a phase's ``anharmonic`` block: ``runs`` (NPT run directories, relative to the spec) or
    ``enthalpies`` (list of {T_K, H_eV_per_atom, H_err_eV_per_atom}) with ``n_atoms_md``; ``T0_K``
    (default: the lowest MD temperature); ``align_at_T0`` (default true)."""
    _check_keys(block, ANHARMONIC_KEYS, f"phase {name}: anharmonic")
    block = dict(block)
    if bool(block.get("runs")) == bool(block.get("enthalpies")):
        raise ValueError(f"phase {name}: anharmonic needs either runs (NPT run directories) or enthalpies")
    if block.get("runs"):
        block["runs"] = [str(p if Path(p).is_absolute() else (base / p).resolve()) for p in block["runs"]]
    elif not block.get("n_atoms_md"):
        raise ValueError(f"phase {name}: anharmonic enthalpies need n_atoms_md (atoms in the MD cell)")
    return block


RELAX_KEYS = ("fmax_eV_A", "pressure_tol_GPa", "max_steps", "symprec")
CONFIG_USES = ("ideal", "orderings", "none")


def _check_relax_keys(opts: dict, where: str) -> None:
    unknown = sorted(set(opts) - set(RELAX_KEYS))
    if unknown:
        raise ValueError(f"thermo spec {where}: unknown relax keys {unknown}; allowed: {list(RELAX_KEYS)}")


def _load_configurational(block: dict, base: Path, name: str) -> dict:
    """Check a phase's ``configurational`` block; read ``orderings_file`` (relative to ``base``) into ``orderings``."""
    unknown = sorted(set(block) - {"site_families", "orderings", "orderings_file", "orderings_stage", "use"})
    if unknown:
        raise ValueError(f"phase {name}: unknown configurational keys {unknown} "
                         "(site_families, orderings, orderings_file, orderings_stage, use)")
    block = dict(block)
    if block.get("orderings_file"):
        path = Path(block.pop("orderings_file"))
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise FileNotFoundError(f"phase {name}: configurational orderings_file {path} not found")
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "site_sets" in data:  # an onbh_orderings.json of the o-NBH builder
            block["orderings"] = ordering_energies(data, block.pop("orderings_stage", "final"))
        else:
            block["orderings"] = data["orderings"] if isinstance(data, dict) else data
    for entry in block.get("orderings", []):
        if "energy_eV" not in entry:
            raise ValueError(f"phase {name}: every configurational ordering needs energy_eV (and multiplicity), got {entry}")
    site_families(block.get("site_families", []))  # raises on bad occupancies
    use = block.get("use", "orderings" if block.get("orderings") else "ideal")
    if use not in CONFIG_USES or (use == "orderings" and not block.get("orderings")) or (
            use == "ideal" and not block.get("site_families")):
        raise ValueError(f"phase {name}: configurational use {use!r} needs its data "
                         "(ideal: site_families; orderings: orderings or orderings_file; or none)")
    block["use"] = use
    return block


def configurational_terms(record: dict, block: dict | None, temperatures_K: np.ndarray,
                          reported_K: list[float]) -> tuple[dict, np.ndarray]:
    """Configurational entropy of one phase record from its spec block.

    Returns
    -------
    (report, S_used_kB_per_cell) where report holds ``S_config_kB_per_atom`` and ``configurational``
    (JSON-ready) and ``S_used_kB_per_cell`` is (n_T,) on ``temperatures_K`` (zeros without data).
    """
    n_atoms, n_fu = record["n_atoms"], record["n_formula_units"]
    used = np.zeros(len(temperatures_K))
    if not block:
        return {"S_config_kB_per_atom": {"ideal": None, "orderings": None, "used": None}}, used
    detail: dict = {"use": block["use"]}
    ideal_atom = orderings_atom = None
    if block.get("site_families"):
        families = site_families(block["site_families"])
        s_fu = ideal_mixing_entropy_kB(families)
        ideal_atom = s_fu * n_fu / n_atoms
        detail["ideal"] = {"site_families": [vars(f) for f in families], "S_kB_per_fu": s_fu, "S_kB_per_atom": ideal_atom}
        if block["use"] == "ideal":
            used = np.full(len(temperatures_K), s_fu * n_fu)
    if block.get("orderings"):
        energies = [float(o["energy_eV"]) for o in block["orderings"]]
        mult = [float(o.get("multiplicity", 1)) for o in block["orderings"]]
        curve = ordering_entropy_kB(energies, mult, temperatures_K)
        at = ordering_entropy_kB(energies, mult, reported_K)
        orderings_atom = {f"{t:g}K": float(v) / n_atoms for t, v in zip(reported_K, at)}
        detail["orderings"] = {"n_orderings": len(energies), "n_variants": float(sum(mult)),
                               "energy_spread_eV": max(energies) - min(energies),
                               "S_high_T_limit_kB_per_cell": float(np.log(sum(mult))),
                               "S_kB_per_atom": orderings_atom, "S_curve_kB_per_atom": (curve / n_atoms).tolist()}
        if block["use"] == "orderings":
            used = curve
    report = {"S_config_kB_per_atom": {"ideal": ideal_atom, "orderings": orderings_atom,
                                       "used": None if block["use"] == "none" else block["use"]},
              "configurational": detail}
    return report, used


def make_calculator(model: str, dtype: str = "float64"):
    """ASE calculator from an exported ``.pt`` file or a matgl checkpoint directory."""
    from pydriver.m3gnet.calculator import M3GNetCalculator  # heavy: torch
    from pydriver.model_file import model_source_kind

    if model_source_kind(model) == "checkpoint":
        return M3GNetCalculator.from_checkpoint(model, dtype=dtype)
    return M3GNetCalculator(model)


def _formula_unit_factor(atoms, formula_unit: str | None) -> tuple[str, float]:
    """(formula unit, number of formula units in ``atoms``)."""
    from pymatgen.core import Composition  # heavy: pymatgen

    comp = Composition(atoms.get_chemical_formula())
    if formula_unit is None:
        reduced, factor = comp.get_reduced_composition_and_factor()
        return reduced.formula.replace(" ", ""), float(factor)
    fu = Composition(formula_unit)
    factor = comp.num_atoms / fu.num_atoms
    if not comp.almost_equals(fu * factor):
        raise ValueError(f"formula unit {formula_unit} does not divide the cell {comp.formula}")
    return formula_unit, float(factor)


def _phonons(phase: dict, structure, tag: str, calc, temperatures_K: np.ndarray, min_width_A: float,
             phonon_opts: dict, checkpoint_dir: Path | None, model_id: str):
    """:func:`pydriver.thermo.phonons.phonon_free_energy` of ``structure`` with the phase's supercell
    settings, its forces kept in ``checkpoint_dir`` (keyed by structure, settings and model)."""
    ckpt = None
    if checkpoint_dir is not None:
        settings = {"displacement_A": phonon_opts["displacement_A"], "supercell": phase.get("supercell"),
                    "min_width_A": min_width_A}  # what the forces depend on (not the mesh or floor)
        ckpt = checkpoint_dir / f"forces-{tag}-{_structure_key(structure, model_id, settings)[:16]}.npz"
    return phonon_free_energy(structure, calc, temperatures_K, min_width_A=min_width_A,
                              supercell=phase.get("supercell"), is_plusminus=phase.get("is_plusminus", "auto"),
                              mesh=phonon_opts["mesh"], displacement_A=float(phonon_opts["displacement_A"]),
                              floor_THz=float(phonon_opts["soft_mode_floor_THz"]), forces_checkpoint=ckpt)


def _phase_relax_opts(phase: dict, relax_opts: dict) -> dict:
    """The spec's relax options with the phase's own (``relax: {...}``) over them."""
    return {**relax_opts, **(phase["relax"] if isinstance(phase.get("relax"), dict) else {})}


def run_phase(phase: dict, calc, temperatures_K: np.ndarray, min_width_A: float, relax_opts: dict,
              phonon_opts: dict | None = None, checkpoint_dir: Path | None = None, model_id: str = "") -> dict:
    """Relax one phase and compute its harmonic free energies on ``temperatures_K``; a JSON-ready record.

    ``phonon_opts``: :data:`PHONON_DEFAULTS` keys; ``checkpoint_dir``: relaxed structures and phonon
    forces kept as they are computed (keyed by input structure, settings and ``model_id``), so that an
    interrupted run resumes mid-phase and a change of the analysis settings (mesh, floor) makes no new
    force call; the final structure is written there as :data:`PHASE_STRUCTURE_FILE` (what
    :func:`run_qha` starts from). ``compute_s`` in the record: the wall time of every relaxation and
    force call the phase needed, also those done by earlier, interrupted runs (kept with their caches);
    ``wall_s``: this call's.
    """
    phonon_opts = {**PHONON_DEFAULTS, **(phonon_opts or {})}
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    atoms = ase.io.read(phase["file"])
    record: dict = {"name": phase["name"], "file": phase["file"], "formula": atoms.get_chemical_formula(),
                    "n_atoms": len(atoms)}
    t0 = time.time()
    compute_s = 0.0
    if "gas" in phase:
        gas = phase["gas"]
        res = ideal_gas_free_energy(atoms, calc, temperatures_K, gas.get("geometry", "linear"),
                                    int(gas.get("symmetry_number", 1)), float(gas.get("spin", 0.0)),
                                    float(gas.get("pressure_bar", 1.0)))
        fu, n_fu = _formula_unit_factor(atoms, phase.get("formula_unit"))
        record.update(kind="ideal gas (ASE IdealGasThermo)", static_energy_eV=res.energy_eV, gas=res.as_dict(),
                      free_energy_eV=np.asarray(res.gibbs_energy_eV).tolist())
    else:
        if phase.get("refine_symprec"):  # snap to the symmetry found at this tolerance (fewer displacements)
            refine_symmetry(atoms, symprec=float(phase["refine_symprec"]))
        record["soft_mode_steps"] = []
        opts = _phase_relax_opts(phase, relax_opts)
        for attempt in range(int(phase.get("follow_soft_modes", 0)) + 1):
            if phase.get("relax", True):  # true, false or a dict overriding the spec's relax options
                atoms, info = _relax_cached(atoms, calc, opts, checkpoint_dir, model_id)
                record["relaxation"] = {**info, **opts}
                compute_s += float(info.get("wall_s") or 0.0)
            record["space_group"] = space_group(atoms, 1e-3)
            res = _phonons(phase, atoms, "main", calc, temperatures_K, min_width_A, phonon_opts, checkpoint_dir,
                           model_id)
            compute_s += res.forces_s
            if res.soft_mode_displacement_A is None or attempt == int(phase.get("follow_soft_modes", 0)):
                break
            # imaginary mode at Gamma: not a minimum. Displace along it (the relaxation then keeps the
            # subgroup that the displacement leaves) and relax again
            atoms.calc = calc
            e_before = float(atoms.get_potential_energy())
            record["soft_mode_steps"].append({"space_group": record["space_group"], "gamma_lowest_THz": res.gamma_frequencies_THz[0],
                                              "n_imaginary_gamma": res.n_imaginary_gamma, "energy_eV": e_before})
            log.info("%s: imaginary Gamma mode %.2f THz in %s; following it", phase["name"], res.gamma_frequencies_THz[0],
                     record["space_group"])
            atoms.positions += float(phase.get("soft_mode_amplitude_A", 0.1)) * np.asarray(res.soft_mode_displacement_A)
        atoms.calc = calc
        static = float(atoms.get_potential_energy())
        fu, n_fu = _formula_unit_factor(atoms, phase.get("formula_unit"))
        if phase.get("write_relaxed"):  # the structure the free energy belongs to
            Path(phase["write_relaxed"]).parent.mkdir(parents=True, exist_ok=True)
            ase.io.write(phase["write_relaxed"], atoms, format="extxyz")
        if checkpoint_dir is not None:
            ase.io.write(checkpoint_dir / PHASE_STRUCTURE_FILE, atoms, format="extxyz")
        a, b, c, al, be, ga = atoms.cell.cellpar()
        record.update(kind="crystal, harmonic phonons (phonopy)", static_energy_eV=static, phonons=res.as_dict(),
                      lattice={"a_A": a, "b_A": b, "c_A": c, "alpha_deg": al, "beta_deg": be, "gamma_deg": ga,
                               "volume_A3": atoms.get_volume()},
                      free_energy_eV=(static + np.asarray(res.free_energy_eV)).tolist(),
                      free_energy_treatments_eV={k: (static + np.asarray(v)).tolist()
                                                 for k, v in res.free_energy_treatments_eV.items()})
        if res.n_imaginary_mesh:
            record["note"] = res.notes[0]
    record.update(formula_unit=fu, n_formula_units=n_fu, static_energy_per_atom_eV=record["static_energy_eV"] / len(atoms),
                  wall_s=round(time.time() - t0, 1), compute_s=round(compute_s, 1))
    log.info("%s: E = %.5f eV/atom (%.0f s)", phase["name"], record["static_energy_per_atom_eV"], record["wall_s"])
    return record


def _structure_key(atoms, model_id: str, settings: dict) -> str:
    """SHA-256 of a structure (numbers, cell, positions to 1e-8 A), the model and settings."""
    h = hashlib.sha256(np.asarray(atoms.numbers).tobytes())
    h.update(np.round(np.concatenate([atoms.cell.array.ravel(), atoms.positions.ravel()]), 8).tobytes())
    h.update(json.dumps([model_id, settings], sort_keys=True, default=str).encode())
    return h.hexdigest()


def _relax_cached(atoms, calc, opts: dict, checkpoint_dir: Path | None, model_id: str, constant_volume: bool = False):
    """:func:`relax_cell` (or its fixed-volume variant), reusing a relaxed structure kept in ``checkpoint_dir``."""
    path = None
    if checkpoint_dir is not None:
        key = _structure_key(atoms, model_id, {**opts, "constant_volume": constant_volume})
        path = checkpoint_dir / f"relaxed-{key[:16]}.extxyz"
        if path.is_file():
            relaxed = ase.io.read(path)
            log.info("reusing the relaxed structure %s", path)
            return relaxed, json.loads(relaxed.info.pop("relaxation"))
    relaxed, info = relax_cell(atoms, calc, constant_volume=constant_volume, **opts)
    if path is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        out = relaxed.copy()
        out.info["relaxation"] = json.dumps(info)
        ase.io.write(path, out, format="extxyz")
    return relaxed, info


def run_qha(record: dict, phase: dict, calc, temperatures_K: np.ndarray, min_width_A: float, relax_opts: dict,
            phonon_opts: dict, qha_opts: dict, checkpoint_dir: Path, model_id: str) -> dict:
    """The ``qha`` block of a phase whose harmonic ``record`` (:func:`run_phase`) is done.

    Volume points around the phase's final structure (``checkpoint_dir`` /
    :data:`PHASE_STRUCTURE_FILE`), each scaled isotropically and relaxed at fixed volume, their
    phonons, and G(T), V(T) per treatment of imaginary modes (:func:`pydriver.thermo.qha.qha_gibbs`).
    Scale 1 is the record's own phonons. Each point keeps F_vib(T) per treatment
    (``free_energy_vib_eV``), so a point already in ``record["qha"]`` is reused and adding volume
    points computes only the new ones. ``compute_s``: wall time of the points' relaxations and force
    calls (earlier, interrupted runs included).

    Raises
    ------
    FileNotFoundError if the phase's final structure was not kept (a record from before it was).
    """
    opts = _phase_relax_opts(phase, relax_opts)
    phonon_opts = {**PHONON_DEFAULTS, **(phonon_opts or {})}
    scales = [float(x) for x in qha_opts["volume_scales"]]
    static = float(record["static_energy_eV"])
    # the reference volume's q-mesh at every point (a mesh length in A gives other meshes as the cell
    # grows, and F would jump with them); forces do not depend on it
    mesh = [int(n) for n in record["phonons"]["mesh"]]
    # and its supercell: one that grows with the cell (min_width_A) would change the force-constant
    # range between points and make F jump
    reference = tuple(int(n) for n in record["phonons"]["supercell"])
    previous = {round(p["volume_scale"], 9): p for p in (record.get("qha") or {}).get("points", [])
                if p.get("free_energy_vib_eV") and p.get("mesh") == mesh}
    structure_file = checkpoint_dir / PHASE_STRUCTURE_FILE
    atoms = None
    points, compute_s = [], 0.0
    for scale in scales:
        point = previous.get(round(scale, 9))
        if point is None and abs(scale - 1.0) < 1e-12:
            ph = record["phonons"]
            point = {"volume_scale": scale, "volume_A3": record["lattice"]["volume_A3"], "static_energy_eV": static,
                     "n_imaginary_gamma": ph["n_imaginary_gamma"], "n_imaginary_mesh": ph["n_imaginary_mesh"],
                     "lowest_frequency_THz": ph["lowest_frequency_THz"], "relaxation": None, "mesh": mesh,
                     "free_energy_vib_eV": {k: (np.asarray(v) - static).tolist()
                                            for k, v in record["free_energy_treatments_eV"].items()}, "compute_s": 0.0}
        elif point is None:
            if atoms is None:
                if not structure_file.is_file():
                    raise FileNotFoundError(f"{phase['name']}: {structure_file} (the relaxed structure the QHA starts "
                                            "from) is missing; remove the phase's JSON to recompute the phase")
                atoms = ase.io.read(structure_file)
            log.info("%s: QHA volume point %g of %s", phase["name"], scale, scales)
            structure, info = _relax_cached(scaled_cell(atoms, scale), calc, opts, checkpoint_dir, model_id,
                                            constant_volume=True)
            structure.calc = calc
            e = float(structure.get_potential_energy())
            same = phase.get("supercell") is not None or tuple(
                minimal_replication(structure.cell.array, min_width_A)) == reference
            ph = _phonons(phase if same else {**phase, "supercell": list(reference)}, structure, f"v{scale:g}", calc,
                          temperatures_K, min_width_A, {**phonon_opts, "mesh": mesh}, checkpoint_dir, model_id)
            point = {"volume_scale": scale, "volume_A3": structure.get_volume(), "static_energy_eV": e,
                     "n_imaginary_gamma": ph.n_imaginary_gamma, "n_imaginary_mesh": ph.n_imaginary_mesh,
                     "lowest_frequency_THz": ph.lowest_frequency_THz, "mesh": mesh,
                     "relaxation": {k: info.get(k) for k in ("steps", "converged", "max_force_eV_A", "pressure_GPa",
                                                             "wall_s")},
                     "free_energy_vib_eV": {k: np.asarray(v).tolist() for k, v in ph.free_energy_treatments_eV.items()},
                     "compute_s": round(float(info.get("wall_s") or 0.0) + ph.forces_s, 1)}
        points.append(point)
        compute_s += float(point.get("compute_s") or 0.0)
    return {**qha_fit(points, temperatures_K, qha_opts["eos"]), "points": points, "compute_s": round(compute_s, 1)}


def qha_fit(points: list[dict], temperatures_K: np.ndarray, eos: str) -> dict:
    """``eos``, ``gibbs_eV`` and ``volume_A3`` per treatment from a QHA block's volume points (each with
    ``volume_A3``, ``static_energy_eV`` and ``free_energy_vib_eV``), and ``one_minimum`` with its
    ``check``; no force call, so a cached block is refitted on every run
    (:func:`pydriver.thermo.qha.qha_gibbs`).

    The QHA assumes every volume point is the same structure, strained: E_static(V) convex and
    F_vib(V) falling as the cell grows (positive Grueneisen parameters). Soft, rotor-rich cells
    relaxed at fixed volume can land in different local minima instead (E and F jump between
    points); then ``one_minimum`` is false and :func:`analyse` leaves the phase's QHA out of the
    band and the reaction, saying why. Checked on the static energies (second differences > 0)
    and on F_vib(300 K) with imaginary modes dropped (each step <= :data:`QHA_F_TOLERANCE_EV`).
    """
    order = np.argsort([p["volume_A3"] for p in points])
    points_sorted = [points[i] for i in order]
    volumes = [p["volume_A3"] for p in points_sorted]
    energies = np.array([p["static_energy_eV"] for p in points_sorted])
    gibbs, volume = {}, {}
    for k in points[0]["free_energy_vib_eV"]:
        rows = np.array([np.asarray(p["free_energy_vib_eV"][k], dtype=float) for p in points_sorted]).T
        g, v = qha_gibbs(volumes, energies, temperatures_K, rows, eos=eos)
        gibbs[k], volume[k] = g.tolist(), v.tolist()
    i300 = int(np.argmin(np.abs(np.asarray(temperatures_K, dtype=float) - 300.0)))
    f300 = np.array([p["free_energy_vib_eV"]["dropped"][i300] for p in points_sorted])
    convex = bool(np.all(np.diff(energies, 2) > 0))
    falling = bool(np.all(np.diff(f300) <= QHA_F_TOLERANCE_EV))
    check = {"static_energy_convex": convex, "F_vib_300K_falling": falling,
             "static_energy_eV": energies.tolist(), "F_vib_300K_eV": f300.tolist()}
    return {"eos": eos if len(points) >= 5 else "parabola", "gibbs_eV": gibbs, "volume_A3": volume,
            "one_minimum": convex and falling, "check": check}


def relax_cell(atoms, calc, fmax_eV_A: float, pressure_tol_GPa: float, max_steps: int, symprec: float = 1e-3,
               constant_volume: bool = False):
    """Tight relaxation before phonons: cell and positions keeping the space group (FIRE to 0.02 eV/A,
    then BFGS to ``fmax_eV_A``, at most ``max_steps`` each; |stress| < ``pressure_tol_GPa``; the cell
    shape only at ``constant_volume``) with :func:`pydriver.structures.search.relax_structure`.
    Returns (atoms, info)."""
    return relax_structure(atoms, calc, fmax_eV_A=fmax_eV_A, pressure_tol_GPa=pressure_tol_GPa, max_steps=max_steps,
                           keep_symmetry=True, symprec=symprec, optimizer="FIRE+BFGS", constant_volume=constant_volume)


def analyse(records: dict[str, dict], spec: dict, temperatures_K: np.ndarray) -> dict:
    """Hulls at the static energies and at each requested temperature; the reaction dG(T).

    Adds to every record ``S_config_kB_per_atom`` (and ``configurational`` where the spec gives data);
    G(T) = E_static + F_vib(T) (or the gas G) - T S_config(T) in the hulls and the reaction (the term per cell is the record's
    ``config_free_energy_eV`` on ``temperatures_K``).
    """
    comps = {n: r["formula"] for n, r in records.items()}
    requested = [float(t) for t in spec.get("temperatures_K", [300.0, 650.0])]
    blocks = {p["name"]: p.get("configurational") for p in spec["phases"]}
    config_eV = {}
    for n, r in records.items():
        report, s_cell = configurational_terms(r, blocks.get(n), temperatures_K, requested)
        for key in ("configurational", "config_free_energy_eV"):
            r.pop(key, None)
        r.update(report)
        config_eV[n] = configurational_free_energy_eV(s_cell, temperatures_K)
        if blocks.get(n):
            r["config_free_energy_eV"] = config_eV[n].tolist()
    anharmonic = {}
    for phase in spec["phases"]:
        if phase.get("anharmonic") and phase["name"] in records:
            anharmonic[phase["name"]] = _anharmonic(records[phase["name"]], phase["anharmonic"], temperatures_K)
            records[phase["name"]]["anharmonic"] = anharmonic[phase["name"]]
    g_curve = {n: np.asarray(r["free_energy_eV"]) + config_eV[n] for n, r in records.items()}
    hulls = {"static": energies_above_hull({n: r["static_energy_eV"] for n, r in records.items()}, comps)}
    for t in requested:
        hulls[f"{t:g}K"] = energies_above_hull({n: float(np.interp(t, temperatures_K, g)) for n, g in g_curve.items()},
                                               comps)
    out: dict = {"e_above_hull_eV_atom": hulls}
    if spec.get("reaction"):
        def per_fu(values: dict) -> dict:
            return {n: np.asarray(v) / records[n]["n_formula_units"] for n, v in values.items()}

        def at(curve: np.ndarray) -> dict:
            return {f"{t:g}K": float(np.interp(t, temperatures_K, curve)) for t in requested}

        static_fu = {n: r["static_energy_eV"] / r["n_formula_units"] for n, r in records.items()}
        dg = reaction_free_energy(per_fu(g_curve), spec["reaction"])
        dg_config = reaction_free_energy(per_fu(config_eV), spec["reaction"])
        out["reaction"] = {"coefficients": spec["reaction"],
                           "formula_units": {n: records[n]["formula_unit"] for n in spec["reaction"]},
                           "dE_static_eV_per_fu": float(reaction_free_energy(static_fu, spec["reaction"])),
                           "dG_eV_per_fu": at(dg), "dG_config_eV_per_fu": at(dg_config),
                           "dG_without_config_eV_per_fu": at(dg - dg_config),
                           "temperatures_K": temperatures_K.tolist(), "dG_curve_eV_per_fu": dg.tolist(),
                           "dG_config_curve_eV_per_fu": dg_config.tolist(),
                           "sign_change_K": sign_change_temperature(temperatures_K, dg)}
    band_opts = {**BAND_DEFAULTS, **(spec.get("band") or {})}
    in_range = temperatures_K <= float(band_opts["max_temperature_K"]) + 1e-9
    curves = {n: _phase_curves(r, blocks.get(n), anharmonic.get(n), temperatures_K) for n, r in records.items()}
    for c in curves.values():
        c.vib = {m: {k: np.asarray(v)[in_range] for k, v in by.items()} for m, by in c.vib.items()}
        c.config = {k: np.asarray(v)[in_range] for k, v in c.config.items()}
    band = stability_band(curves, temperatures_K[in_range], spec.get("reaction"), spec.get("target"),
                          band_opts["alternatives"], band_opts["hull_temperatures_K"], band_opts["line"],
                          band_opts["line_temperatures_K"])
    out["band"] = band
    if "reaction" in out and "reaction" in band:
        out["reaction"]["sign_change_bracket_K"] = band["reaction"]["sign_change_bracket_K"]
        out["reaction"]["sign_change_bracket_open_ends"] = band["reaction"]["sign_change_bracket_open_ends"]
        out["reaction"]["contributions_eV_per_fu"] = _contributions(records, curves, spec["reaction"], temperatures_K,
                                                                    in_range, requested)
    return out


def _anharmonic(record: dict, block: dict, temperatures_K: np.ndarray) -> dict:
    """Anharmonic correction of a phase from its MD enthalpies (``runs`` or ``enthalpies``), JSON-ready."""
    if block.get("runs"):
        samples = [md_enthalpy(run) for run in block["runs"]]
        n_md = samples[0]["n_atoms"]
    else:
        samples = [{"temperature_K": float(e["T_K"]), "H_eV_per_atom": float(e["H_eV_per_atom"]),
                    "H_err_eV_per_atom": float(e.get("H_err_eV_per_atom", 0.0))} for e in block["enthalpies"]]
        n_md = int(block["n_atoms_md"])
    t_md = [x["temperature_K"] for x in samples]
    out = anharmonic_correction(t_md, [x["H_eV_per_atom"] for x in samples], [x["H_err_eV_per_atom"] for x in samples],
                                n_md, float(block.get("T0_K", min(t_md))), temperatures_K,
                                record["static_energy_per_atom_eV"], bool(block.get("align_at_T0", True)))
    out["samples"] = samples
    return out


def _phase_curves(record: dict, config_block: dict | None, anharmonic: dict | None,
                  temperatures_K: np.ndarray) -> PhaseCurves:
    """The treatments of one phase record as :class:`pydriver.thermo.band.PhaseCurves` (per cell, eV)."""
    harmonic = record.get("free_energy_treatments_eV") or {"dropped": record["free_energy_eV"]}
    vib = {"harmonic": {k: np.asarray(v, dtype=float) for k, v in harmonic.items()}}
    if record.get("qha") and record["qha"].get("one_minimum", True):
        vib["qha"] = {k: np.asarray(v, dtype=float) for k, v in record["qha"]["gibbs_eV"].items()}
    if anharmonic:
        d_g = np.asarray(anharmonic["dG_eV_per_atom"], dtype=float) * record["n_atoms"]
        vib["anharmonic"] = {k: v + d_g for k, v in vib["harmonic"].items()}
    config = {}
    n_atoms, n_fu = record["n_atoms"], record["n_formula_units"]
    if config_block and config_block.get("site_families"):
        s_fu = ideal_mixing_entropy_kB(site_families(config_block["site_families"]))
        config["ideal"] = configurational_free_energy_eV(np.full(len(temperatures_K), s_fu * n_fu), temperatures_K)
    if config_block and config_block.get("orderings"):
        energies = [float(o["energy_eV"]) for o in config_block["orderings"]]
        mult = [float(o.get("multiplicity", 1)) for o in config_block["orderings"]]
        config["orderings"] = configurational_free_energy_eV(ordering_entropy_kB(energies, mult, temperatures_K),
                                                             temperatures_K)
    central = config_block["use"] if config_block else "none"
    return PhaseCurves(record["formula"], n_atoms, n_fu, vib, config, central)


def _contributions(records: dict, curves: dict, reaction: dict, temperatures_K: np.ndarray, in_range: np.ndarray,
                   requested: list[float]) -> dict:
    """Reaction dG split into its parts at the requested temperatures (eV per formula unit): static,
    harmonic vibrations (imaginary modes dropped), the spread over the imaginary-mode treatments
    (min, max of treatment minus dropped), configurational (as used), QHA minus harmonic and
    anharmonic minus harmonic (where every phase of the reaction with that model has it; others count 0)."""
    temps = temperatures_K[in_range]

    def dg(fn) -> np.ndarray:
        return sum(c * fn(n) / records[n]["n_formula_units"] for n, c in reaction.items())

    def at(curve) -> dict:
        return {f"{t:g}K": (float(np.interp(t, temps, curve)) if t <= temps[-1] else None) for t in requested}

    static = dg(lambda n: records[n]["static_energy_eV"])
    harmonic = dg(lambda n: curves[n].vib["harmonic"]["dropped"]) - static
    treatments = {k: dg(lambda n, k=k: curves[n].free_energy("harmonic", k, "none")) - static - harmonic
                  for k in ("abs", "floor")}
    out = {"static": float(static), "harmonic_vibrations": at(harmonic),
           "imaginary_treatments_minus_dropped": {k: at(v) for k, v in treatments.items()},
           "configurational": at(dg(lambda n: curves[n].config.get(curves[n].central_config, np.zeros(len(temps)))))}
    left_out = {n: "volume points in different local minima (qha.check)" for n in reaction
                if (records[n].get("qha") or {}).get("one_minimum") is False}
    if left_out:
        out["qha_left_out"] = left_out
    for model in ("qha", "anharmonic"):
        if any(model in curves[n].vib for n in reaction):
            out[f"{model}_minus_harmonic"] = at(dg(lambda n, m=model: curves[n].free_energy(m, "dropped", "none")
                                                   - curves[n].vib["harmonic"]["dropped"]))
    return out


def run(spec: dict, out_dir: str | Path, calc=None, plots: bool = True) -> dict:
    """Run the whole pipeline for ``spec`` (see the module docstring); writes ``thermo.json`` and plots."""
    import torch  # heavy

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    calc = calc or make_calculator(spec["model"], spec.get("dtype", "float64"))
    temps = np.union1d(DENSE_T_K, np.asarray(spec.get("temperatures_K", [300.0, 650.0]), dtype=float))
    relax_opts = {**RELAX_DEFAULTS, **spec.get("relax", {})}
    phonon_opts = {**PHONON_DEFAULTS, **(spec.get("phonons") or {})}
    qha_opts = {**QHA_DEFAULTS, **spec["qha"]} if spec.get("qha") is not None else None
    min_width_A = float(spec.get("min_width_A", 10.0))
    records = {}
    for phase in spec["phases"]:
        key = _cache_key(phase, spec, relax_opts)
        cached = out_dir / "phases" / f"{phase['name']}.json"
        model_id = f"{spec['model']} {spec.get('dtype', 'float64')}"
        checkpoint_dir = out_dir / "phases" / phase["name"]
        changed = False
        if cached.is_file() and json.loads(cached.read_text()).get("cache_key") == key:
            log.info("%s: reusing %s (same structure file, model and settings)", phase["name"], cached)
            records[phase["name"]] = json.loads(cached.read_text())
        else:
            records[phase["name"]] = run_phase(phase, calc, temps, min_width_A, relax_opts,
                                               phonon_opts, checkpoint_dir, model_id)
            records[phase["name"]]["cache_key"] = key
            changed = True
        record = records[phase["name"]]
        with_qha = qha_opts is not None and "gas" not in phase and (
            qha_opts["phases"] is None or phase["name"] in qha_opts["phases"])
        qha_key = _qha_key(key, qha_opts) if with_qha else None
        if record.get("qha_key") != qha_key:
            if not with_qha:
                record.pop("qha", None)
            else:  # reuses the volume points the record holds
                record["qha"] = run_qha(record, phase, calc, temps, min_width_A, relax_opts,
                                        phonon_opts, qha_opts, checkpoint_dir, model_id)
            record["qha_key"] = qha_key
            changed = True
        elif with_qha and all(p.get("free_energy_vib_eV") for p in record["qha"]["points"]):
            refit = qha_fit(record["qha"]["points"], temps, qha_opts["eos"])
            changed = changed or _json_safe(refit) != _json_safe({k: record["qha"].get(k) for k in refit})
            record["qha"].update(refit)
        # the structure file relative to the output folder: no absolute path of the machine that wrote it
        relative = _relative(phase["file"], out_dir)
        if changed or records[phase["name"]].get("file") != relative or not cached.is_file():
            records[phase["name"]]["file"] = relative
            cached.parent.mkdir(exist_ok=True)
            cached.write_text(json.dumps(_json_safe(records[phase["name"]]), indent=2, default=float) + "\n")
        _write(out_dir, spec, records, None)
    results = analyse(records, spec, temps)
    _write(out_dir, spec, records, results)
    if plots:
        _plots(out_dir, records, results, spec, temps)
    return {"phases": records, **results}


def _cache_key(phase: dict, spec: dict, relax_opts: dict) -> str:
    """SHA-256 over the structure file's bytes, the model, dtype, temperatures, the phonon settings
    and all phase settings except ``configurational`` and ``anharmonic`` (applied after the phonons,
    in :func:`analyse`): what the harmonic record depends on (the QHA block has :func:`_qha_key`)."""
    h = hashlib.sha256(Path(phase["file"]).read_bytes())
    # paths by content or by name, so the same spec in a moved checkout keeps its cache
    phase = {k: v for k, v in phase.items() if k not in ("configurational", "anharmonic", "file", "write_relaxed")}
    extra = [spec.get("phonons")] if spec.get("phonons") else []
    h.update(json.dumps([phase, Path(spec["model"]).name, spec.get("dtype", "float64"), spec.get("min_width_A", 10.0),
                         spec.get("temperatures_K"), relax_opts, *extra], sort_keys=True, default=str).encode())
    return h.hexdigest()


def _qha_key(harmonic_key: str, qha_opts: dict) -> str:
    """SHA-256 of the harmonic record's key and the QHA settings (volume points, equation of state)."""
    settings = {"volume_scales": [float(x) for x in qha_opts["volume_scales"]], "eos": qha_opts["eos"],
                "points": "the reference volume's supercell and q-mesh"}
    return hashlib.sha256(json.dumps([harmonic_key, settings], sort_keys=True).encode()).hexdigest()


def _relative(path: str, folder: Path) -> str:
    """``path`` relative to ``folder`` (thermo.json names no absolute path of the machine that wrote it)."""
    return os.path.relpath(Path(path).resolve(), Path(folder).resolve()) if Path(path).is_absolute() else path


def _spec_for_output(spec: dict, out_dir: Path) -> dict:
    """The spec with its files relative to the output folder."""
    out = {**spec, "model": _relative(spec["model"], out_dir)}
    phases = []
    for phase in spec.get("phases", []):
        phase = dict(phase)
        for key in ("file", "write_relaxed"):
            if phase.get(key):
                phase[key] = _relative(phase[key], out_dir)
        if isinstance(phase.get("anharmonic"), dict) and phase["anharmonic"].get("runs"):
            phase["anharmonic"] = {**phase["anharmonic"],
                                   "runs": [_relative(r, out_dir) for r in phase["anharmonic"]["runs"]]}
        phases.append(phase)
    out["phases"] = phases
    return out


def _write(out_dir: Path, spec: dict, records: dict, results: dict | None) -> None:
    payload = {"spec": _spec_for_output(spec, out_dir), "phases": records, **(results or {}),
               "complete": results is not None,
               "units": "energies eV (per cell unless named per_fu / per atom), temperatures K, frequencies THz"}
    (out_dir / "thermo.json").write_text(json.dumps(_json_safe(payload), indent=2, default=float) + "\n")


def _json_safe(value):
    """NaN (no value: outside an MD range, past phonopy's QHA range) as null, recursively."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def _plots(out_dir: Path, records: dict, results: dict, spec: dict, temps: np.ndarray) -> None:
    import matplotlib  # heavy: plotting only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comps = {n: r["formula"] for n, r in records.items()}
    plot_hull({n: r["static_energy_eV"] for n, r in records.items()}, comps, out_dir / "hull_static.png", "static (0 K)")
    for t in spec.get("temperatures_K", [300.0, 650.0]):
        g = {n: float(np.interp(t, temps, np.asarray(r["free_energy_eV"]) + r.get("config_free_energy_eV", 0.0)))
             for n, r in records.items()}
        extra = ", configurational entropy" if any("config_free_energy_eV" in r for r in records.values()) else ""
        plot_hull(g, comps, out_dir / f"hull_{float(t):g}K.png",
                  f"{float(t):g} K (harmonic phonons, ideal gas 1 bar{extra})")
    if results.get("band"):
        plot_band(results["band"], out_dir / "band.png",
                  f"{spec.get('target') or ''}: band over {results['band']['n_combinations']} combinations of treatments")
    if "reaction" in results:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        dg = 1e3 * np.asarray(results["reaction"]["dG_curve_eV_per_fu"])
        dg_config = 1e3 * np.asarray(results["reaction"]["dG_config_curve_eV_per_fu"])
        ax.plot(temps, dg, label="total")
        if np.any(dg_config != 0):
            ax.plot(temps, dg - dg_config, "--", label="without -T S_config")
            ax.legend(frameon=False)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("T (K)")
        ax.set_ylabel("dG (meV per formula unit)")
        ax.set_title(" ".join(f"{c:+g} {p}" for p, c in spec["reaction"].items()))
        fig.savefig(out_dir / "dG.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
