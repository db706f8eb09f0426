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

The term -T S_config is added to the phase's G in the hulls at temperature and in the reaction dG(T)
(``reaction.dG_config_eV_per_fu`` shows it separately); ``configurational`` is not part of the cache
key, so adding it re-uses the phonons. Per phase, ``thermo.json`` reports ``S_config_kB_per_atom``:
``{"ideal": value or null, "orderings": {"<T>K": value} or null, "used": "ideal" | "orderings" | null}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import ase.io
import numpy as np
import yaml
from ase.spacegroup.symmetrize import refine_symmetry

from pydriver.structures.search import relax_structure, space_group
from pydriver.structures.search.onbh import ordering_energies
from pydriver.thermo.configurational import (
    configurational_free_energy_eV,
    ideal_mixing_entropy_kB,
    ordering_entropy_kB,
    site_families,
)
from pydriver.thermo.gas import ideal_gas_free_energy
from pydriver.thermo.hull import energies_above_hull, plot_hull, reaction_free_energy, sign_change_temperature
from pydriver.thermo.phonons import phonon_free_energy

log = logging.getLogger(__name__)

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
    base = path.parent
    spec["model"] = str((base / spec["model"]).resolve()) if not Path(spec["model"]).is_absolute() else spec["model"]
    for phase in spec["phases"]:
        if "name" not in phase or "file" not in phase:
            raise ValueError(f"thermo spec {path}: every phase needs name and file, got {phase}")
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
    return spec


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

    if Path(model).is_dir():
        return M3GNetCalculator.from_checkpoint(model, dtype=dtype)
    if not Path(model).is_file():
        raise FileNotFoundError(f"model {model} is neither an exported file nor a checkpoint directory")
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


def run_phase(phase: dict, calc, temperatures_K: np.ndarray, min_width_A: float, relax_opts: dict) -> dict:
    """Relax one phase and compute its free energies on ``temperatures_K``; a JSON-ready record."""

    atoms = ase.io.read(phase["file"])
    record: dict = {"name": phase["name"], "file": phase["file"], "formula": atoms.get_chemical_formula(),
                    "n_atoms": len(atoms)}
    t0 = time.time()
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
        for attempt in range(int(phase.get("follow_soft_modes", 0)) + 1):
            if phase.get("relax", True):  # true, false or a dict overriding the spec's relax options
                opts = {**relax_opts, **(phase["relax"] if isinstance(phase.get("relax"), dict) else {})}
                atoms, info = relax_cell(atoms, calc, **opts)
                record["relaxation"] = {**info, **opts}
            record["space_group"] = space_group(atoms, 1e-3)
            res = phonon_free_energy(atoms, calc, temperatures_K, min_width_A=min_width_A,
                                     supercell=phase.get("supercell"), is_plusminus=phase.get("is_plusminus", "auto"))
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
            ase.io.write(phase["write_relaxed"], atoms, format="extxyz")
        a, b, c, al, be, ga = atoms.cell.cellpar()
        record.update(kind="crystal, harmonic phonons (phonopy)", static_energy_eV=static, phonons=res.as_dict(),
                      lattice={"a_A": a, "b_A": b, "c_A": c, "alpha_deg": al, "beta_deg": be, "gamma_deg": ga,
                               "volume_A3": atoms.get_volume()},
                      free_energy_eV=(static + np.asarray(res.free_energy_eV)).tolist())
        if res.n_imaginary_mesh:
            record["note"] = res.notes[0]
    record.update(formula_unit=fu, n_formula_units=n_fu, static_energy_per_atom_eV=record["static_energy_eV"] / len(atoms),
                  wall_s=round(time.time() - t0, 1))
    log.info("%s: E = %.5f eV/atom (%.0f s)", phase["name"], record["static_energy_per_atom_eV"], record["wall_s"])
    return record


def relax_cell(atoms, calc, fmax_eV_A: float, pressure_tol_GPa: float, max_steps: int, symprec: float = 1e-3):
    """Tight relaxation before phonons: cell and positions keeping the space group (FIRE to 0.02 eV/A,
    then BFGS to ``fmax_eV_A``, at most ``max_steps`` each; |stress| < ``pressure_tol_GPa``) with
    :func:`pydriver.structures.search.relax_structure`. Returns (atoms, info)."""
    return relax_structure(atoms, calc, fmax_eV_A=fmax_eV_A, pressure_tol_GPa=pressure_tol_GPa, max_steps=max_steps,
                           keep_symmetry=True, symprec=symprec, optimizer="FIRE+BFGS")


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
    records = {}
    for phase in spec["phases"]:
        key = _cache_key(phase, spec, relax_opts)
        cached = out_dir / "phases" / f"{phase['name']}.json"
        if cached.is_file() and json.loads(cached.read_text()).get("cache_key") == key:
            log.info("%s: reusing %s (same structure file, model and settings)", phase["name"], cached)
            records[phase["name"]] = json.loads(cached.read_text())
        else:
            records[phase["name"]] = run_phase(phase, calc, temps, float(spec.get("min_width_A", 10.0)), relax_opts)
            records[phase["name"]]["cache_key"] = key
            cached.parent.mkdir(exist_ok=True)
            cached.write_text(json.dumps(records[phase["name"]], indent=2, default=float) + "\n")
        _write(out_dir, spec, records, None)
    results = analyse(records, spec, temps)
    _write(out_dir, spec, records, results)
    if plots:
        _plots(out_dir, records, results, spec, temps)
    return {"phases": records, **results}


def _cache_key(phase: dict, spec: dict, relax_opts: dict) -> str:
    """SHA-256 over the structure file's bytes, the model, dtype, temperatures and all phase settings
    except ``configurational`` (applied after the phonons, in :func:`analyse`)."""
    h = hashlib.sha256(Path(phase["file"]).read_bytes())
    phase = {k: v for k, v in phase.items() if k != "configurational"}
    h.update(json.dumps([phase, spec["model"], spec.get("dtype", "float64"), spec.get("min_width_A", 10.0),
                         spec.get("temperatures_K"), relax_opts], sort_keys=True, default=str).encode())
    return h.hexdigest()


def _write(out_dir: Path, spec: dict, records: dict, results: dict | None) -> None:
    payload = {"spec": spec, "phases": records, **(results or {}), "complete": results is not None,
               "units": "energies eV (per cell unless named per_fu / per atom), temperatures K, frequencies THz"}
    (out_dir / "thermo.json").write_text(json.dumps(payload, indent=2, default=float) + "\n")


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
