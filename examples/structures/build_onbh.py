#!/usr/bin/env python
"""o-NBH, Na3(BH4)(B12H12), in the published Cmc2_1 cell with an ordered Na arrangement.

Steps (README.md has the run and its numbers):
1. Anion framework in the published cell (``onbh_framework.best_framework``: CrB type, every anion
   on the 4a mirror, positions/rotations by a grid search maximising the shortest H-H contact).
2. Candidate Na sites (``pydriver.structures.na_sites``): tetrahedral voids of the anion centres
   and all pockets of the H framework, kept if Na-H >= ``--min-na-h`` and Na-B >= ``--min-na-b``
   A and (by default) in the BH4-containing slabs; completed to whole orbits and grouped into
   Cmc2_1 site families.
3. Orderings of 12 Na over the candidate sites ranked by the Ewald energy of point charges
   (B12H12 -2 and BH4 -1 on the anion centres, Na +1), Na-Na >= ``--min-na-na`` A, fixed seed.
4. The ``--n-relax`` lowest orderings are relaxed with the potential (float32, cell and positions
   free, no symmetry constraint, ``--prerelax-steps`` FIRE steps); the ``--n-final`` best are
   relaxed to convergence (fmax, |stress| < ``--pressure-tol``); energies in float64.
Writes ``oNBH.{extxyz,cif,json}`` and ``onbh_orderings.json`` into ``--out-dir``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from ase import Atoms

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from onbh_framework import GRID_BEST, PUBLISHED_CELL_A, FrameworkParams, anion_centres_frac, best_framework, framework, min_hh_between_anions_A  # noqa: E402
from relax_tools import describe, final_energy, relax_free, software, write_outputs  # noqa: E402

from pydriver.structures import find_anions  # noqa: E402
from pydriver.structures.na_sites import (  # noqa: E402
    centre_sites,
    close_under_symmetry,
    ewald_matrix,
    merge_sites,
    periodic_distances_A,
    rank_orderings,
    site_orbits,
    tetrahedral_voids,
    void_minima,
)

log = logging.getLogger("build_onbh")
MODEL_DIR = Path("/work/shared/models/M3GNet-r2SCAN-NaBH")
SOURCE = ("Y. Sadikin, M. Brighi, P. Schouwink, R. Cerny, Adv. Energy Mater. 5, 1501016 (2015), "
          "doi:10.1002/aenm.201501016: Cmc2_1, a = 8.0083(4), b = 21.881(1), c = 7.7672(4) A at 523 K")


def candidate_sites(params: FrameworkParams, anions: Atoms, min_na_h_A: float, min_na_b_A: float,
                    bh4_slabs_only: bool) -> dict:
    """Candidate Na sites of the framework, their families and distances (see the module docstring).

    Sites: circumcentres of the Delaunay tetrahedra of the anion centres (moved to the middle of
    their void) plus every local minimum of the soft H repulsion (``void_minima``), kept if
    Na-H >= ``min_na_h_A`` and Na-B >= ``min_na_b_A`` (this removes circumcentres that lie inside
    the H shell of a B12H12), completed to whole Cmc2_1 orbits. ``bh4_slabs_only``: keep sites whose
    y is closer to a BH4 layer than to a B12H12 layer (the published Na-free B12H12 slabs).
    """
    import spglib

    cell = anions.cell.array
    centres, charges = anion_centres_frac(params)
    symbols = np.array(anions.get_chemical_symbols())
    h_frac = anions.get_scaled_positions()[symbols == "H"]
    b_frac = anions.get_scaled_positions()[symbols == "B"]
    voids = tetrahedral_voids(cell, centres)
    frac = np.vstack([centre_sites(cell, voids.frac_coords, h_frac), void_minima(cell, h_frac)])
    ok = (periodic_distances_A(cell, frac, h_frac).min(axis=1) >= min_na_h_A) & (
        periodic_distances_A(cell, frac, b_frac).min(axis=1) >= min_na_b_A)
    frac = frac[ok]
    if bh4_slabs_only:
        frac = frac[in_bh4_slabs(frac, centres)]
    sym = spglib.get_symmetry((cell, anions.get_scaled_positions(), anions.numbers), symprec=0.01)
    frac = close_under_symmetry(cell, frac, sym["rotations"], sym["translations"], tol_A=0.8)
    orbits = site_orbits(cell, frac, sym["rotations"], sym["translations"], tol_A=0.3)
    log.info("%d Delaunay voids; %d candidate Na sites in %d families of sizes %s", len(voids.frac_coords), len(frac),
             len(orbits.sizes), orbits.sizes)
    return {"frac": frac, "orbits": orbits, "centres": centres, "charges": charges,
            "na_h_A": periodic_distances_A(cell, frac, h_frac).min(axis=1),
            "na_b_A": periodic_distances_A(cell, frac, b_frac).min(axis=1), "n_voids": len(voids.frac_coords)}


def in_bh4_slabs(frac: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """True for sites whose y is closer to a BH4 centre's y than to any B12H12 centre's y."""
    dy = np.abs(frac[:, 1][:, None] - centres[:, 1][None])
    dy = np.minimum(dy, 1 - dy)
    return dy[:, 4:].min(axis=1) < dy[:, :4].min(axis=1)


def with_na(anions: Atoms, sites_frac: np.ndarray) -> Atoms:
    """Framework plus Na on the given sites (Na first, then the anions)."""
    na = Atoms(["Na"] * len(sites_frac), scaled_positions=sites_frac, cell=anions.cell, pbc=True)
    return na + anions


def spacegroup(atoms: Atoms, symprec: float = 0.1) -> str:
    """International symbol and number (spglib) at ``symprec`` (A)."""
    import spglib

    ds = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers), symprec=symprec)
    return f"{ds.international} ({ds.number})"


def rank_site_set(params: FrameworkParams, anions: Atoms, site_set: str, args) -> tuple[dict, list[dict]]:
    """Candidate sites of one site set and its Ewald-ranked orderings (JSON-ready)."""
    sites = candidate_sites(params, anions, args.min_na_h, args.min_na_b, site_set == "bh4_slabs")
    cell = anions.cell.array
    n_anions = len(sites["centres"])
    matrix = ewald_matrix(cell, np.vstack([sites["centres"], sites["frac"]]),
                          np.concatenate([sites["charges"], np.ones(len(sites["frac"]))]))
    distances = periodic_distances_A(cell, sites["frac"], sites["frac"])
    orderings = rank_orderings(matrix, n_anions, 12, distances, args.min_na_na, n_keep=args.n_orderings,
                               seed=args.seed, permutations=sites["orbits"].permutations)
    records = []
    for rank, o in enumerate(orderings):
        na_frac = sites["frac"][list(o.sites)]
        records.append({"site_set": site_set, "rank": rank, "sites": list(o.sites), "ewald_energy_eV": o.energy_eV,
                        "multiplicity": o.multiplicity, "families": np.bincount(sites["orbits"].labels[list(o.sites)],
                        minlength=len(sites["orbits"].sizes)).tolist(),
                        "space_group_unrelaxed": spacegroup(with_na(anions, na_frac)),
                        "na_in_bh4_slabs": int(in_bh4_slabs(na_frac, sites["centres"]).sum()), "na_frac": na_frac.tolist()})
        log.info("%s ordering %d: Ewald %.4f eV, families %s, %s", site_set, rank, o.energy_eV,
                 records[-1]["families"], records[-1]["space_group_unrelaxed"])
    block = {"n_voids": sites["n_voids"], "candidate_sites_frac": sites["frac"].round(5).tolist(),
             "candidate_min_na_h_A": sites["na_h_A"].round(3).tolist(),
             "candidate_min_na_b_A": sites["na_b_A"].round(3).tolist(),
             "site_families": sites["orbits"].labels.tolist(), "family_sizes": sites["orbits"].sizes,
             "orderings": records}
    return block, records


def _previous_prerelax(path: Path) -> dict:
    """(site set, sites) -> pre-relaxation record of an earlier run's onbh_orderings.json."""
    old = json.loads(Path(path).read_text())
    return {(r["site_set"], tuple(r["sites"])): r["prerelax"] for block in old["site_sets"].values()
            for r in block["orderings"] if r.get("prerelax")}


def main(argv: list[str] | None = None) -> int:
    """Build, order, relax and write o-NBH (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--out-dir", type=Path, default=HERE)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--min-na-h", type=float, default=2.0, help="A")
    parser.add_argument("--min-na-na", type=float, default=3.0, help="A")
    parser.add_argument("--min-na-b", type=float, default=2.6, help="A")
    parser.add_argument("--site-sets", nargs="+", default=["bh4_slabs", "all_slabs"], choices=["bh4_slabs", "all_slabs"],
                        help="candidate sites only in the BH4 slabs (published) and/or in all slabs")
    parser.add_argument("--n-orderings", type=int, default=20, help="orderings listed")
    parser.add_argument("--n-relax", type=int, default=5, help="orderings pre-relaxed per site set")
    parser.add_argument("--prerelax-steps", type=int, default=200)
    parser.add_argument("--n-final", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=1500)
    parser.add_argument("--fmax", type=float, default=0.02, help="eV/A")
    parser.add_argument("--pressure-tol", type=float, default=0.05, help="GPa")
    parser.add_argument("--search-framework", action="store_true",
                        help="redo the framework grid search (~5 min) instead of using its stored result")
    parser.add_argument("--resume", type=Path, metavar="ORDERINGS_JSON",
                        help="take the pre-relaxation energies from an interrupted run's onbh_orderings.json "
                             "(orderings it did not reach are skipped) and go on with the final relaxations")
    parser.add_argument("--order-only", action="store_true", help="stop after the Ewald ranking (no model)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    wall: dict[str, float] = {}

    t0 = time.time()
    if args.search_framework:
        params, min_hh = best_framework()
    else:
        params = GRID_BEST
    anions = framework(params)
    min_hh = min_hh_between_anions_A(anions)
    if find_anions(anions).counts != {"B12H12": 4, "BH4": 4}:
        raise RuntimeError(f"framework anions: {find_anions(anions).counts}")
    log.info("framework %s, shortest inter-anion H-H %.2f A, %s", params, min_hh, spacegroup(anions, 0.01))
    wall["framework_s"] = time.time() - t0

    t0 = time.time()
    summary = {"source": SOURCE, "framework": params.__dict__, "framework_min_hh_A": min_hh,
               "min_na_na_A": args.min_na_na, "min_na_h_A": args.min_na_h, "min_na_b_A": args.min_na_b,
               "seed": args.seed, "site_sets": {}, "wall_s": wall}
    records = []
    for site_set in args.site_sets:
        block, recs = rank_site_set(params, anions, site_set, args)
        summary["site_sets"][site_set] = block
        records += recs[: args.n_relax]
    wall["ordering_s"] = time.time() - t0
    out = args.out_dir / "onbh_orderings.json"
    if args.order_only:
        out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
        return 0

    import torch

    from pydriver.m3gnet.calculator import M3GNetCalculator

    torch.set_num_threads(1)
    calc32 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float32")
    calc64 = M3GNetCalculator.from_checkpoint(args.model_dir, dtype="float64")
    t0 = time.time()
    pre = []
    previous = _previous_prerelax(args.resume) if args.resume else {}
    for rec in records:
        key = (rec["site_set"], tuple(rec["sites"]))
        if args.resume:  # energies of an interrupted run; the structure is rebuilt for the final stage
            if key in previous:
                rec["prerelax"] = {**previous[key], "resumed_from": str(args.resume)}
                pre.append((rec, None))
            continue
        atoms = with_na(anions, np.array(rec["na_frac"]))
        relaxed, info = relax_free(atoms, calc32, args.prerelax_steps, args.fmax, args.pressure_tol)
        rec["prerelax"] = {**info, **final_energy(relaxed, calc32)}
        log.info("%s ordering %d pre-relaxed: %.5f eV/atom (%d steps)", rec["site_set"], rec["rank"], rec["prerelax"]["energy_per_atom_eV"],
                 info["steps"])
        pre.append((rec, relaxed))
        out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    wall["prerelax_s"] = time.time() - t0
    t0 = time.time()
    pre.sort(key=lambda p: p[0]["prerelax"]["energy_per_atom_eV"])
    finals = []
    for rec, atoms in pre[: args.n_final]:
        if atoms is None:  # resumed: relax from the unrelaxed ordering with the full step budget
            start = "unrelaxed ordering"
            relaxed, info = relax_free(with_na(anions, np.array(rec["na_frac"])), calc32, args.max_steps, args.fmax,
                                       args.pressure_tol)
        else:
            start = "pre-relaxed structure"
            relaxed, info = relax_free(atoms, calc32, args.max_steps - args.prerelax_steps, args.fmax, args.pressure_tol)
        rec["final"] = {"started_from": start, "relaxation": info, "after": describe(relaxed), "space_group_0.1": spacegroup(relaxed, 0.1),
                        "space_group_0.01": spacegroup(relaxed, 0.01), **final_energy(relaxed, calc64)}
        rec["final"]["anions"] = find_anions(relaxed).counts
        log.info("%s ordering %d final: %.5f eV/atom, %s", rec["site_set"], rec["rank"], rec["final"]["energy_per_atom_eV"],
                 rec["final"]["space_group_0.1"])
        finals.append((rec, relaxed))
        out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    wall["final_relax_s"] = time.time() - t0
    best_rec, best = min(finals, key=lambda p: p[0]["final"]["energy_per_atom_eV"])
    energies = sorted(r["final"]["energy_per_atom_eV"] for r, _ in finals)
    pre_e = sorted(r["prerelax"]["energy_per_atom_eV"] for r, _ in pre)
    summary["final_spread_meV_atom"] = 1e3 * (energies[-1] - energies[0])
    summary["prerelax_spread_meV_atom"] = 1e3 * (pre_e[-1] - pre_e[0])
    summary["selected"] = {"site_set": best_rec["site_set"], "rank": best_rec["rank"]}
    out.write_text(json.dumps(summary, indent=2, default=float) + "\n")
    prov = {"status": "framework placed in the PUBLISHED cell; Na ordering chosen by Ewald ranking + potential; relaxed",
            "phase": "oNBH", "source": SOURCE, "published_cell_A": PUBLISHED_CELL_A,
            "method": "build_onbh.py (see onbh_orderings.json for every ordering)", "seed": args.seed,
            "selected_ordering": best_rec, "before": describe(with_na(anions, np.array(best_rec["na_frac"]))),
            "after": best_rec["final"]["after"], "relaxation": best_rec["final"]["relaxation"],
            "space_group_framework": "Cmc2_1 (36)", "space_group_symprec_0.1": best_rec["final"]["space_group_0.1"],
            "energy_spread_top_orderings_meV_atom": summary["final_spread_meV_atom"], "wall_s": wall,
            **{k: best_rec["final"][k] for k in ("energy_eV", "energy_per_atom_eV", "pressure_GPa")}}
    write_outputs("oNBH", best, prov, args.out_dir, software(args.model_dir, "examples/structures/build_onbh.py"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
