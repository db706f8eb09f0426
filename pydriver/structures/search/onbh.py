"""o-NBH, Na3(BH4)(B12H12): the anion framework in the published Cmc2_1 cell, candidate Na sites and
ordered Na arrangements ranked by electrostatics and relaxed with a potential.

Published cell (Y. Sadikin, M. Brighi, P. Schouwink, R. Cerny, Adv. Energy Mater. 5, 1501016 (2015),
523 K): a = 8.0083, b = 21.881, c = 7.7672 A, Z = 4. CrB-type anion packing: B12H12 centres on 4a
(0, y, z) of Cmc2_1, BH4 centres on a second 4a; every anion lies on the mirror plane x = 0
(x = 1/2 for the C-centred copies). The anion positions (y, z) and the rotation of each anion about
the a axis (the only rotation that keeps the mirror) are not published as numbers here: they are
chosen by :func:`best_framework`, a grid search that maximises the shortest H-H contact between
anions, starting from the CrB positions (Cr 4c y = 0.146 -> B12H12, B 4c y = 0.440 -> BH4).

Steps of :func:`build_onbh` (``examples/structures/README.md`` has the run and its numbers):

1. Framework (:data:`GRID_BEST`, or :func:`best_framework` again).
2. Candidate Na sites (:func:`candidate_sites`, with :mod:`pydriver.structures.na_sites`).
3. Orderings of 12 Na ranked by the Ewald energy of point charges (B12H12 -2 and BH4 -1 on the anion
   centres, Na +1), Na-Na >= ``min_na_na_A`` (:func:`rank_site_set`; no potential needed).
4. The ``n_relax`` lowest orderings per site set pre-relaxed with the potential (cell and positions
   free, no symmetry constraint), the ``n_final`` best relaxed to convergence; energies in float64.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from pydriver.structures.anions import find_anions
from pydriver.structures.builders import b12h12_unit, bh4_unit
from pydriver.structures.na_sites import (
    SiteOrbits,
    centre_sites,
    close_under_symmetry,
    ewald_matrix,
    periodic_distances_A,
    rank_orderings,
    site_orbits,
    tetrahedral_voids,
    void_minima,
)
from pydriver.structures.search.records import describe, energy_report, space_group, write_model_files
from pydriver.structures.search.relax import relax_structure

log = logging.getLogger(__name__)

#: published o-NBH cell at 523 K (A), Sadikin et al. 2015
PUBLISHED_CELL_A = (8.0083, 21.881, 7.7672)
SOURCE = ("Y. Sadikin, M. Brighi, P. Schouwink, R. Cerny, Adv. Energy Mater. 5, 1501016 (2015), "
          "doi:10.1002/aenm.201501016: Cmc2_1, a = 8.0083(4), b = 21.881(1), c = 7.7672(4) A at 523 K")
#: Na per cell (Z = 4 formula units of Na3(BH4)(B12H12))
N_NA = 12
SITE_SETS = ("bh4_slabs", "all_slabs")
#: Cmc2_1 4a orbit of (0, y, z) as (translation, sign of y): x' = (0, sign * y, z) + translation; the
#: second member is the image under the glide (x, -y, z + 1/2); sign -1 also mirrors the anion in y
ORBIT_4A = [((0.0, 0.0, 0.0), 1), ((0.0, 0.0, 0.5), -1), ((0.5, 0.5, 0.0), 1), ((0.5, 0.5, 0.5), -1)]


def _rot_x(angle_deg: float) -> np.ndarray:
    t = np.radians(angle_deg)
    return np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])


def bh4_on_mirror() -> np.ndarray:
    """(5, 3) BH4 (B first) with mirror planes x = 0 and y = 0: the cubic-setting tetrahedron
    rotated by 45 deg about z, H at (0, +-sqrt(2), 1)/sqrt(3) and (+-sqrt(2), 0, -1)/sqrt(3) * d(B-H)."""
    pos = bh4_unit().get_positions()
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    return pos @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T


@dataclass(frozen=True)
class FrameworkParams:
    """Free parameters of the framework: centres (fractional y, z) and rotations about a (deg)."""

    y_b12: float = 0.146
    z_b12: float = 0.25
    rot_b12_deg: float = 0.0
    y_bh4: float = 0.440
    z_bh4: float = 0.25
    rot_bh4_deg: float = 0.0


#: result of :func:`best_framework` (302 s on the shared machine; shortest inter-anion H-H 2.67 A)
GRID_BEST = FrameworkParams(y_b12=0.165, z_b12=0.25, rot_b12_deg=0.0, y_bh4=0.44, z_bh4=0.25, rot_bh4_deg=210.0)


def framework(params: FrameworkParams, cell_A: tuple[float, float, float] = PUBLISHED_CELL_A) -> Atoms:
    """Anions only (4 B12H12 then 4 BH4; B then H within each), Cmc2_1, orthorhombic ``cell_A`` (A)."""
    cell = np.diag(cell_A)
    units = [(b12h12_unit().get_positions(), "B12H12", params.y_b12, params.z_b12, params.rot_b12_deg),
             (bh4_on_mirror(), "BH4", params.y_bh4, params.z_bh4, params.rot_bh4_deg)]
    symbols: list[str] = []
    positions = []
    for local, formula, y, z, rot in units:
        local = local @ _rot_x(rot).T
        n_b = len(local) // 2 if formula == "B12H12" else 1
        for shift, sign in ORBIT_4A:
            centre = (np.array([0.0, sign * y, z]) + shift) @ cell
            positions.append(local * np.array([1, sign, 1]) + centre)
            symbols += ["B"] * n_b + ["H"] * (len(local) - n_b)
    atoms = Atoms(symbols, positions=np.vstack(positions), cell=cell, pbc=True)
    atoms.wrap()
    return atoms


def anion_centres_frac(params: FrameworkParams) -> tuple[np.ndarray, np.ndarray]:
    """(8, 3) fractional anion centres (4 B12H12, 4 BH4) and their charges (-2, -1) in e."""
    centres = []
    for y, z in ((params.y_b12, params.z_b12), (params.y_bh4, params.z_bh4)):
        centres += [np.array([0.0, sign * y, z]) + shift for shift, sign in ORBIT_4A]
    return np.array(centres) % 1.0, np.array([-2.0] * 4 + [-1.0] * 4)


def min_hh_between_anions_A(atoms: Atoms) -> float:
    """Shortest H-H distance between different anions (periodic), in A (atoms in :func:`framework` order)."""
    mol = np.repeat(np.arange(8), [24] * 4 + [5] * 4)
    h = np.array(atoms.get_chemical_symbols()) == "H"
    frac = atoms.get_scaled_positions()[h]
    mol = mol[h]
    diff = frac[:, None] - frac[None]
    diff -= np.round(diff)
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)))
    d = np.linalg.norm((diff[:, :, None] + shifts) @ atoms.cell.array, axis=-1).min(-1)
    d[mol[:, None] == mol[None]] = np.inf
    return float(d.min())


def best_framework(cell_A: tuple[float, float, float] = PUBLISHED_CELL_A) -> tuple[FrameworkParams, float]:
    """Grid search over the framework parameters maximising the shortest inter-anion H-H contact (A).

    The B12H12 z is fixed at 1/4 (Cmc2_1 is polar along c: the origin in z is free). Grid (14400
    points, ~100-300 s): y(B12H12) 0.12..0.18 (5 values), y(BH4) 0.40..0.48 (5 values), z(BH4) in
    steps of 1/8, rotations about a in steps of 30 deg (B12H12: 0..150, the icosahedron is
    symmetric under 180 deg; BH4: 0..330). Deterministic.
    """
    best = (FrameworkParams(), -1.0)
    for y1, y2 in itertools.product(np.linspace(0.12, 0.18, 5), np.linspace(0.40, 0.48, 5)):
        for z2, r1, r2 in itertools.product(np.arange(0, 1, 1 / 8), range(0, 180, 30), range(0, 360, 30)):
            p = FrameworkParams(float(y1), 0.25, float(r1), float(y2), float(z2), float(r2))
            d = min_hh_between_anions_A(framework(p, cell_A))
            if d > best[1]:
                best = (p, d)
    return best


def in_bh4_slabs(frac: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n,) True for sites whose y is closer to a BH4 centre's y than to any B12H12 centre's y
    (``centres``: 4 B12H12 then 4 BH4, fractional)."""
    dy = np.abs(frac[:, 1][:, None] - centres[:, 1][None])
    dy = np.minimum(dy, 1 - dy)
    return dy[:, 4:].min(axis=1) < dy[:, :4].min(axis=1)


@dataclass
class CandidateSites:
    """Candidate Na sites of a framework.

    Attributes
    ----------
    frac : (n_sites, 3) fractional coordinates.
    orbits : symmetry families of the sites (:class:`~pydriver.structures.na_sites.SiteOrbits`).
    centres, charges : (8, 3) fractional anion centres and their charges (e).
    na_h_A, na_b_A : (n_sites,) shortest site-H and site-B distances, in A.
    n_voids : number of Delaunay voids of the anion centres.
    """

    frac: np.ndarray
    orbits: SiteOrbits
    centres: np.ndarray
    charges: np.ndarray
    na_h_A: np.ndarray
    na_b_A: np.ndarray
    n_voids: int


def candidate_sites(params: FrameworkParams, anions: Atoms, min_na_h_A: float, min_na_b_A: float,
                    bh4_slabs_only: bool) -> CandidateSites:
    """Candidate Na sites of the framework ``anions`` built from ``params``.

    Sites: circumcentres of the Delaunay tetrahedra of the anion centres (moved to the middle of
    their void) plus every local minimum of a soft H repulsion (``void_minima``), kept if
    Na-H >= ``min_na_h_A`` and Na-B >= ``min_na_b_A`` (A; this removes circumcentres inside the H
    shell of a B12H12), completed to whole Cmc2_1 orbits. ``bh4_slabs_only``: keep sites whose y is
    closer to a BH4 layer than to a B12H12 layer (the published Na-free B12H12 slabs).
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
    return CandidateSites(frac, orbits, centres, charges, periodic_distances_A(cell, frac, h_frac).min(axis=1),
                          periodic_distances_A(cell, frac, b_frac).min(axis=1), len(voids.frac_coords))


def with_na(anions: Atoms, sites_frac: np.ndarray) -> Atoms:
    """Framework plus Na on the given fractional sites (Na first, then the anions)."""
    na = Atoms(["Na"] * len(sites_frac), scaled_positions=sites_frac, cell=anions.cell, pbc=True)
    return na + anions


@dataclass
class OnbhSettings:
    """Settings of :func:`build_onbh` (distances in A, forces in eV/A, stress in GPa, FIRE steps)."""

    seed: int = 2026
    min_na_h_A: float = 2.0
    min_na_na_A: float = 3.0
    min_na_b_A: float = 2.6
    site_sets: tuple[str, ...] = SITE_SETS
    n_orderings: int = 20
    n_restarts: int = 200
    n_relax: int = 5
    prerelax_steps: int = 200
    n_final: int = 3
    max_steps: int = 1500
    fmax_eV_A: float = 0.02
    pressure_tol_GPa: float = 0.05
    search_framework: bool = False
    resume: str | None = None
    order_only: bool = False


def rank_site_set(params: FrameworkParams, anions: Atoms, site_set: str, settings: OnbhSettings) -> dict:
    """Candidate sites of one site set (``"bh4_slabs"`` or ``"all_slabs"``) and its Ewald-ranked
    orderings of :data:`N_NA` Na, JSON-ready (``orderings``: rank, sites, Ewald energy (eV per cell),
    multiplicity, occupied sites per family, unrelaxed space group, Na fractional coordinates)."""
    if site_set not in SITE_SETS:
        raise ValueError(f"site set {site_set!r} not in {SITE_SETS}")
    sites = candidate_sites(params, anions, settings.min_na_h_A, settings.min_na_b_A, site_set == "bh4_slabs")
    cell = anions.cell.array
    matrix = ewald_matrix(cell, np.vstack([sites.centres, sites.frac]),
                          np.concatenate([sites.charges, np.ones(len(sites.frac))]))
    distances = periodic_distances_A(cell, sites.frac, sites.frac)
    orderings = rank_orderings(matrix, len(sites.centres), N_NA, distances, settings.min_na_na_A,
                               n_keep=settings.n_orderings, n_restarts=settings.n_restarts, seed=settings.seed,
                               permutations=sites.orbits.permutations)
    records = []
    for rank, o in enumerate(orderings):
        na_frac = sites.frac[list(o.sites)]
        records.append({"site_set": site_set, "rank": rank, "sites": list(o.sites), "ewald_energy_eV": o.energy_eV,
                        "multiplicity": o.multiplicity,
                        "families": np.bincount(sites.orbits.labels[list(o.sites)], minlength=len(sites.orbits.sizes)).tolist(),
                        "space_group_unrelaxed": space_group(with_na(anions, na_frac)),
                        "na_in_bh4_slabs": int(in_bh4_slabs(na_frac, sites.centres).sum()), "na_frac": na_frac.tolist()})
        log.info("%s ordering %d: Ewald %.4f eV, families %s, %s", site_set, rank, o.energy_eV,
                 records[-1]["families"], records[-1]["space_group_unrelaxed"])
    return {"n_voids": sites.n_voids, "candidate_sites_frac": sites.frac.round(5).tolist(),
            "candidate_min_na_h_A": sites.na_h_A.round(3).tolist(), "candidate_min_na_b_A": sites.na_b_A.round(3).tolist(),
            "site_families": sites.orbits.labels.tolist(), "family_sizes": sites.orbits.sizes, "orderings": records}


def previous_prerelax(path: str | Path) -> dict:
    """(site set, sites) -> pre-relaxation record of an earlier run's ``onbh_orderings.json``."""
    old = json.loads(Path(path).read_text())
    return {(r["site_set"], tuple(r["sites"])): r["prerelax"] for block in old["site_sets"].values()
            for r in block["orderings"] if r.get("prerelax")}


def build_onbh(settings: OnbhSettings, out_dir: str | Path, calc32=None, calc64=None, software: dict | None = None) -> dict:
    """Framework, sites, orderings and (unless ``settings.order_only``) relaxations of o-NBH.

    Writes ``onbh_orderings.json`` (every ordering; rewritten after each relaxation, so an
    interrupted run can go on with ``settings.resume``) and ``oNBH.{extxyz,cif,json}`` into
    ``out_dir``. ``calc32`` relaxes, ``calc64`` gives the final energies (ASE calculators; not
    needed with ``order_only``). Returns the summary written to ``onbh_orderings.json``.

    Raises
    ------
    ValueError if the framework's anions are not 4 BH4 + 4 B12H12, or calculators are missing.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wall: dict[str, float] = {}
    t0 = time.time()
    params = best_framework()[0] if settings.search_framework else GRID_BEST
    anions = framework(params)
    min_hh = min_hh_between_anions_A(anions)
    if find_anions(anions).counts != {"B12H12": 4, "BH4": 4}:
        raise ValueError(f"framework anions: {find_anions(anions).counts}; expected 4 B12H12 + 4 BH4")
    log.info("framework %s, shortest inter-anion H-H %.2f A, %s", params, min_hh, space_group(anions, 0.01))
    wall["framework_s"] = time.time() - t0

    t0 = time.time()
    summary = {"source": SOURCE, "framework": asdict(params), "framework_min_hh_A": min_hh,
               "min_na_na_A": settings.min_na_na_A, "min_na_h_A": settings.min_na_h_A,
               "min_na_b_A": settings.min_na_b_A, "seed": settings.seed, "site_sets": {}, "wall_s": wall}
    records = []
    for site_set in settings.site_sets:
        block = rank_site_set(params, anions, site_set, settings)
        summary["site_sets"][site_set] = block
        records += block["orderings"][: settings.n_relax]
    wall["ordering_s"] = time.time() - t0
    out = out_dir / "onbh_orderings.json"

    def save() -> None:
        out.write_text(json.dumps(summary, indent=2, default=float) + "\n")

    if settings.order_only:
        save()
        return summary
    if calc32 is None or calc64 is None:
        raise ValueError("build_onbh needs calc32 and calc64 (ASE calculators) unless order_only is set")
    relax = {"fmax_eV_A": settings.fmax_eV_A, "pressure_tol_GPa": settings.pressure_tol_GPa}
    t0 = time.time()
    pre = []
    previous = previous_prerelax(settings.resume) if settings.resume else {}
    for rec in records:
        if settings.resume:  # energies of an interrupted run; the structure is rebuilt for the final stage
            key = (rec["site_set"], tuple(rec["sites"]))
            if key in previous:
                rec["prerelax"] = {**previous[key], "resumed_from": str(settings.resume)}
                pre.append((rec, None))
            continue
        relaxed, info = relax_structure(with_na(anions, np.array(rec["na_frac"])), calc32,
                                        max_steps=settings.prerelax_steps, **relax)
        rec["prerelax"] = {**info, **energy_report(relaxed, calc32)}
        log.info("%s ordering %d pre-relaxed: %.5f eV/atom (%d steps)", rec["site_set"], rec["rank"],
                 rec["prerelax"]["energy_per_atom_eV"], info["steps"])
        pre.append((rec, relaxed))
        save()
    wall["prerelax_s"] = time.time() - t0
    t0 = time.time()
    pre.sort(key=lambda p: p[0]["prerelax"]["energy_per_atom_eV"])
    finals = []
    for rec, atoms in pre[: settings.n_final]:
        if atoms is None:  # resumed: relax from the unrelaxed ordering with the full step budget
            start = "unrelaxed ordering"
            relaxed, info = relax_structure(with_na(anions, np.array(rec["na_frac"])), calc32,
                                            max_steps=settings.max_steps, **relax)
        else:
            start = "pre-relaxed structure"
            relaxed, info = relax_structure(atoms, calc32, max_steps=settings.max_steps - settings.prerelax_steps, **relax)
        rec["final"] = {"started_from": start, "relaxation": info, "after": describe(relaxed),
                        "space_group_0.1": space_group(relaxed, 0.1), "space_group_0.01": space_group(relaxed, 0.01),
                        **energy_report(relaxed, calc64), "anions": find_anions(relaxed).counts}
        log.info("%s ordering %d final: %.5f eV/atom, %s", rec["site_set"], rec["rank"],
                 rec["final"]["energy_per_atom_eV"], rec["final"]["space_group_0.1"])
        finals.append((rec, relaxed))
        save()
    wall["final_relax_s"] = time.time() - t0
    best_rec, best = min(finals, key=lambda p: p[0]["final"]["energy_per_atom_eV"])
    energies = sorted(r["final"]["energy_per_atom_eV"] for r, _ in finals)
    pre_e = sorted(r["prerelax"]["energy_per_atom_eV"] for r, _ in pre)
    summary["final_spread_meV_atom"] = 1e3 * (energies[-1] - energies[0])
    summary["prerelax_spread_meV_atom"] = 1e3 * (pre_e[-1] - pre_e[0])
    summary["selected"] = {"site_set": best_rec["site_set"], "rank": best_rec["rank"]}
    save()
    prov = {"status": "framework placed in the PUBLISHED cell; Na ordering chosen by Ewald ranking + potential; relaxed",
            "phase": "oNBH", "source": SOURCE, "published_cell_A": PUBLISHED_CELL_A,
            "method": "pydriver.structures.search.onbh.build_onbh (see onbh_orderings.json for every ordering)",
            "seed": settings.seed, "selected_ordering": best_rec,
            "before": describe(with_na(anions, np.array(best_rec["na_frac"]))),
            "after": best_rec["final"]["after"], "relaxation": best_rec["final"]["relaxation"],
            "space_group_framework": "Cmc2_1 (36)", "space_group_symprec_0.1": best_rec["final"]["space_group_0.1"],
            "energy_spread_top_orderings_meV_atom": summary["final_spread_meV_atom"], "wall_s": wall,
            **{k: best_rec["final"][k] for k in ("energy_eV", "energy_per_atom_eV", "pressure_GPa")}}
    write_model_files("oNBH", best, prov, out_dir, software or {})
    return summary


def ordering_energies(summary: dict, stage: str = "final") -> list[dict]:
    """Energies of the relaxed orderings in an ``onbh_orderings.json`` summary, for the
    configurational entropy (:func:`pydriver.thermo.configurational.ordering_entropy_kB`).

    Parameters
    ----------
    summary : the JSON written by :func:`build_onbh`.
    stage : ``"final"`` (float64 energies after the full relaxation) or ``"prerelax"`` (float32, after
        ``prerelax_steps``); orderings that did not reach the stage are left out.

    Returns
    -------
    list of ``{energy_eV (per cell), multiplicity, site_set, rank}``.

    Raises
    ------
    ValueError for another stage or when no ordering reached it.
    """
    if stage not in ("final", "prerelax"):
        raise ValueError(f"stage {stage!r} not in ('final', 'prerelax')")
    out = [{"energy_eV": float(r[stage]["energy_eV"]), "multiplicity": int(r["multiplicity"]), "site_set": name,
            "rank": int(r["rank"])}
           for name, block in summary.get("site_sets", {}).items() for r in block["orderings"] if r.get(stage)]
    if not out:
        raise ValueError(f"no ordering in the summary reached the {stage!r} stage; use orderings_stage: prerelax "
                         "or relax more orderings")
    return out


def ordering_structure(summary: dict, site_set: str, rank: int) -> Atoms:
    """The unrelaxed o-NBH cell of one recorded Na ordering: the record's framework plus Na on its sites.

    Parameters
    ----------
    summary : the ``onbh_orderings.json`` record written by :func:`build_onbh`.
    site_set : ``"bh4_slabs"`` or ``"all_slabs"``; rank : the ordering's Ewald rank in that set.

    Raises
    ------
    KeyError naming the site set or rank when the record has no such ordering.
    """
    block = summary["site_sets"].get(site_set)
    if block is None:
        raise KeyError(f"site set {site_set!r} not in the record (has {sorted(summary['site_sets'])})")
    match = [o for o in block["orderings"] if int(o["rank"]) == int(rank)]
    if not match:
        raise KeyError(f"no ordering of rank {rank} in site set {site_set!r} (ranks "
                       f"{sorted(int(o['rank']) for o in block['orderings'])})")
    return with_na(framework(FrameworkParams(**summary["framework"])), np.array(match[0]["na_frac"]))
