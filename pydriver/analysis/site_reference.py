"""Reference sites of the mobile ions (a published or modelled structure) laid on a run and matched to its sites.

* :func:`reference_from_structure` -- the ``element`` positions of a structure file, families of
  symmetry-equivalent sites from spglib, tiled onto the run's cell by whole numbers along a, b, c,
  with the structure's anion centres (:func:`pydriver.structures.anions.find_anions`).
* :func:`align_reference` -- the reference moved by the one translation that lays its anion centres
  on the run's mean anion centres (same kinds). Fractional coordinates of a run are not those of
  the file that started it: a barostat that scales the box about its centre moves the box origin
  (e.g. by 0.03 of b when o-NBH's b grows from 21.2 to 22.5 A), polar space groups have a free
  origin, and the framework may drift; the anions fix the frame.
* :func:`match_reference` -- each site's nearest reference site within a tolerance, and its family.
* :func:`family_table` -- ions per reference family, per reference site, with errors over ions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ase.io import read
from scipy import stats

from pydriver.analysis.sites import Sites, sites_from_structure
from pydriver.structures.anions import find_anions

log = logging.getLogger(__name__)

#: a site matches a reference site closer than this (A)
DEFAULT_MATCH_TOLERANCE_A = 1.0
#: anion overlays within this rms (A) of the best are equally good; the shortest translation is taken
ALIGNMENT_TIE_A = 0.15


@dataclass(frozen=True)
class Reference:
    """Reference sites in a run's cell, with the reference's anion centres.

    Attributes
    ----------
    sites : :class:`~pydriver.analysis.sites.Sites` (``source="structure"``, families from spglib),
        fractional positions as in the file, tiled, with the run's mean cell.
    centres_frac : (n_anions, 3) tiled fractional anion centres of the reference, or None (none found).
    kinds : anion kind per centre, or None.
    source : the file it came from.
    repeats : the file's cell repeated this many times along a, b, c makes the run's cell.
    """

    sites: Sites
    centres_frac: np.ndarray | None
    kinds: tuple[str, ...] | None
    source: str
    repeats: tuple[int, int, int] = (1, 1, 1)


def periodic_distances_A(frac_a: np.ndarray, frac_b: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) minimum-image distances (A) over the 27 neighbouring cells of ``cell_A``."""
    diff = np.atleast_2d(frac_a)[:, None, :] - np.atleast_2d(frac_b)[None, :, :]
    diff -= np.round(diff)
    shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    cart = (diff[:, :, None, :] + shifts[None, None]) @ np.asarray(cell_A, dtype=float)
    return np.linalg.norm(cart, axis=-1).min(axis=-1)


def reference_from_structure(path, element: str, cell_A: np.ndarray, symprec: float = 0.1) -> Reference:
    """The ``element`` sites and the anion centres of a structure file, tiled onto a run's cell.

    The reference is repeated by whole numbers along a, b, c and keeps its fractional positions:
    the tiled cell lengths must be those of ``cell_A`` within 10 %, its shape may differ (a run whose
    cell shears keeps the reference's sites at the same fractional positions). Anion centres (mean of
    each anion's B atoms) come from :func:`pydriver.structures.anions.find_anions`; a structure whose
    B/H fragments are no known anion gets none (and is not aligned).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the cell lengths do not tile, or the structure holds no ``element``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"site reference file not found: {path}")
    atoms = read(path)
    cell_A = np.asarray(cell_A, dtype=float)
    own = np.asarray(atoms.cell[:], dtype=float)
    lengths, own_lengths = np.linalg.norm(cell_A, axis=1), np.linalg.norm(own, axis=1)
    reps = np.rint(lengths / own_lengths).astype(int)
    if np.any(reps < 1) or not np.allclose(own_lengths * reps, lengths, rtol=0.1):
        raise ValueError(f"{path}: its cell lengths {own_lengths.round(3).tolist()} A do not tile the run's mean cell "
                         f"(lengths {lengths.round(3).tolist()} A) by whole numbers within 10 %")
    sites = replace(sites_from_structure(path, element, own * reps[:, None], symprec=symprec), cell_A=cell_A)
    repeats = tuple(int(r) for r in reps)
    try:
        found = find_anions(atoms, check=False)
    except ValueError as exc:
        log.warning("%s: no anion centres to align the reference with (%s)", path, exc)
        return Reference(sites, None, None, str(path), repeats)
    symbols = np.array(atoms.get_chemical_symbols())
    centres = []
    for anion in found.anions:
        rows = np.array(anion.atom_indices)
        rows = rows[symbols[rows] == "B"] if np.any(symbols[rows] == "B") else rows
        centres.append(found.unwrapped_positions_A[rows].mean(axis=0))
    if not centres:
        return Reference(sites, None, None, str(path), repeats)
    base = (np.array(centres) @ np.linalg.inv(own)) % 1.0
    shifts = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    tiled = ((base[None] + shifts[:, None]) / reps).reshape(-1, 3) % 1.0
    kinds = tuple(a.kind for a in found.anions) * shifts.shape[0]
    return Reference(sites, tiled, kinds, str(path), repeats)


def align_reference(reference: Reference, centres_frac: np.ndarray, kinds, cell_A: np.ndarray
                    ) -> tuple[Sites, dict]:
    """The reference sites moved by the translation that best lays its anion centres on the run's.

    Every translation that puts one reference centre on a run centre of its kind is tried and scored
    by the rms distance from each reference centre to the nearest run centre of its kind. A framework
    with more symmetry than the reference's ions (o-NBH's anions are Cmc2_1, an ordered Na
    arrangement is not) fits several translations equally well, up to the thermal scatter of the
    mean centres: of those within :data:`ALIGNMENT_TIE_A` of the best, the shortest (modulo whole
    cells of the reference) is taken, since a run starts in its structure file's frame up to a small
    origin shift. It is then refined by the mean residual (periodic, fractional).

    Parameters
    ----------
    reference : from :func:`reference_from_structure`.
    centres_frac : (n_anions, 3) the run's mean anion centres (fractional, mean cell); kinds : their kinds.
    cell_A : (3, 3) the run's mean cell.

    Returns
    -------
    sites : the moved reference sites.
    info : ``shift_A`` (Cartesian translation applied, A, or None), ``anion_rms_A`` (rms distance of
    the aligned reference centres from the run's, A, or None), ``reason`` when not aligned.
    """
    if reference.centres_frac is None or not len(reference.centres_frac):
        return reference.sites, {"shift_A": None, "anion_rms_A": None, "reason": "the reference has no anions"}
    run = np.asarray(centres_frac, dtype=float) % 1.0
    run_kinds = np.asarray(kinds, dtype=object)
    ref_kinds = np.asarray(reference.kinds, dtype=object)
    common = sorted(set(ref_kinds) & set(run_kinds))
    if not common:
        return reference.sites, {"shift_A": None, "anion_rms_A": None,
                                 "reason": "the reference and the run share no anion kind"}
    pivot = int(np.flatnonzero(ref_kinds == common[0])[0])

    def residuals(shift: np.ndarray) -> np.ndarray:
        moved = reference.centres_frac + shift
        out = np.empty_like(moved)
        for kind in common:
            mine, theirs = ref_kinds == kind, run[run_kinds == kind]
            d = theirs[None] - moved[mine][:, None]
            d -= np.round(d)
            nearest = np.linalg.norm(d @ cell_A, axis=-1).argmin(axis=1)
            out[mine] = d[np.arange(d.shape[0]), nearest]
        return out[np.isin(ref_kinds, common)]

    trials = run[run_kinds == common[0]] - reference.centres_frac[pivot]
    scores = np.array([np.sqrt(np.mean(np.sum((residuals(t) @ cell_A) ** 2, axis=1))) for t in trials])
    reps = np.asarray(reference.repeats, dtype=float)
    reduced = (((trials * reps + 0.5) % 1.0 - 0.5) / reps) @ cell_A  # modulo whole reference cells
    tied = np.flatnonzero(scores <= scores.min() + ALIGNMENT_TIE_A)
    shift = trials[tied[np.argmin(np.linalg.norm(reduced[tied], axis=1))]]
    shift = shift + residuals(shift).mean(axis=0)
    rms = float(np.sqrt(np.mean(np.sum((residuals(shift) @ cell_A) ** 2, axis=1))))
    shift = (shift + 0.5) % 1.0 - 0.5
    log.info("reference %s laid on the run's anions: shift %s A, anion rms %.2f A", reference.source,
             np.round(shift @ cell_A, 2).tolist(), rms)
    return (replace(reference.sites, frac=(reference.sites.frac + shift) % 1.0),
            {"shift_A": (shift @ cell_A).tolist(), "anion_rms_A": rms})


def match_reference(sites_frac: np.ndarray, reference: Sites, cell_A: np.ndarray,
                    tolerance_A: float = DEFAULT_MATCH_TOLERANCE_A) -> dict:
    """Nearest reference site of each site, within a tolerance (periodic, in ``cell_A``).

    Parameters
    ----------
    sites_frac : (n_sites, 3) fractional sites.
    reference : reference sites in the same cell and frame (:func:`align_reference`), with families
        or without (each reference site its own family).
    tolerance_A : farther than this from every reference site: no match.

    Returns
    -------
    dict -- ``index`` (n_sites,) nearest reference site or -1, ``family`` (n_sites,) its family or -1,
    ``distance_A`` (n_sites,) distance to the nearest reference site (also when beyond tolerance).
    """
    d = periodic_distances_A(sites_frac, reference.frac, cell_A)
    nearest = d.argmin(axis=1)
    dist = d[np.arange(d.shape[0]), nearest]
    ok = dist <= tolerance_A
    family = reference.family if reference.family is not None else np.arange(reference.n_sites)
    return {"index": np.where(ok, nearest, -1), "family": np.where(ok, np.asarray(family)[nearest], -1),
            "distance_A": dist}


def family_table(reference: Sites, reference_slab: list[str], site_family: np.ndarray,
                 occupancy_per_site: np.ndarray, states: np.ndarray | None = None) -> list[dict]:
    """Per reference family: its sites' slab, and the ions on the run's sites matched to it.

    Parameters
    ----------
    reference : the reference sites; reference_slab : slab kind of each reference site.
    site_family : (n_sites,) matched family of each of the run's sites (-1: none).
    occupancy_per_site : (n_sites,) mean ions on each of the run's sites.
    states : (n_frames, n_ions) site held by each ion (-1 none), for errors over ions.

    Returns
    -------
    list of dict -- ``family``, ``n_reference_sites`` (in the run's cell), ``slab`` (kind of its
    sites' slab, ``K1|K2`` when they fall in both), ``n_sites_found`` (run's sites matched to it),
    ``ions`` (mean ions on them), ``occupancy_per_site`` (``ions / n_reference_sites``), with
    ``states`` also ``occupancy_per_site_std`` and ``occupancy_per_site_ci68`` (Student t over ions;
    ions that exclude each other make this conservative).
    """
    ref_family = reference.family if reference.family is not None else np.arange(reference.n_sites)
    site_family = np.asarray(site_family)
    if states is not None:
        held = states >= 0
        family_of_state = np.where(held, site_family[np.maximum(states, 0)], -1)
        n_ions = states.shape[1]
        t68 = float(stats.t.ppf(0.84, max(n_ions - 1, 1)))
    rows = []
    for f in np.unique(ref_family):
        members = np.flatnonzero(ref_family == f)
        kinds = sorted({reference_slab[i] for i in members})
        n_ref = int(members.size)
        ions = float(np.asarray(occupancy_per_site)[site_family == f].sum())
        row = {"family": int(f), "n_reference_sites": n_ref, "slab": "|".join(kinds),
               "n_sites_found": int((site_family == f).sum()), "ions": ions, "occupancy_per_site": ions / n_ref}
        if states is not None:
            per_ion = (family_of_state == f).mean(axis=0) / n_ref
            std = float(np.sqrt(n_ions) * per_ion.std(ddof=1)) if n_ions > 1 else float("nan")
            row["occupancy_per_site_std"] = std
            row["occupancy_per_site_ci68"] = [row["occupancy_per_site"] - t68 * std,
                                              row["occupancy_per_site"] + t68 * std]
        rows.append(row)
    return rows
