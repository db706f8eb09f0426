"""Candidate cation sites in an anion framework and their ordering by electrostatics.

Three steps, each a pure function:

1. :func:`tetrahedral_voids` -- the circumcentres of the periodic Delaunay tetrahedra of the anion
   centres (the tetrahedral voids of the anion packing; octahedral voids appear as the common
   circumcentre of the tetrahedra an octahedron splits into), merged within a tolerance.
2. :func:`site_orbits` -- the candidate sites grouped into symmetry families (orbits under the space
   group of the framework) and the site permutation of every symmetry operation.
3. :func:`rank_orderings` -- choose ``n_select`` of the candidate sites for the cations. The energy
   is the Ewald energy of point charges (anion centres and cations; :func:`ewald_matrix`), a
   quadratic form in the occupation vector; pairs of sites closer than a minimum separation may
   not both be occupied. A simulated-annealing search with fixed seeds returns the lowest distinct
   orderings (symmetry-equivalent orderings merged).

The Ewald sum follows pymatgen's :class:`~pymatgen.analysis.ewald.EwaldSummation` (P. P. Ewald,
Ann. Phys. 369, 253 (1921); A. Y. Toukmaji, J. A. Board, Comput. Phys. Commun. 95, 73 (1996)).
Energies are in eV, distances in A.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.spatial import Delaunay

log = logging.getLogger(__name__)


@dataclass
class Voids:
    """Candidate sites of a framework.

    Attributes
    ----------
    frac_coords : (n_sites, 3) fractional coordinates in [0, 1).
    radius_A : (n_sites,) circumradius: distance from the site to its nearest anion centres, in A.
    n_vertices : (n_sites,) number of anion centres at that distance (4: tetrahedral, 6: octahedral, ...).
    """

    frac_coords: np.ndarray
    radius_A: np.ndarray
    n_vertices: np.ndarray


def _image_distances_A(cell: np.ndarray, frac_a: np.ndarray, frac_b: np.ndarray) -> np.ndarray:
    """(len(a), len(b), 27) distances (A) from each a to the 27 images of each b nearest to it."""
    diff = frac_a[:, None, :] - frac_b[None, :, :]
    diff -= np.round(diff)
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
    cart = (diff[:, :, None, :] + shifts[None, None]) @ cell
    return np.linalg.norm(cart, axis=-1)


def periodic_distances_A(cell: np.ndarray, frac_a: np.ndarray, frac_b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) minimum-image distances (A) between fractional coordinates.

    Checks the 27 neighbouring images: exact for cells with angles near 90 deg or reduced cells.
    """
    return _image_distances_A(cell, np.atleast_2d(frac_a), np.atleast_2d(frac_b)).min(axis=-1)


def _circumcentres(points: np.ndarray) -> np.ndarray:
    """(n, 3) circumcentres of (n, 4, 3) tetrahedra (solve 2 (p_k - p_0) . c = |p_k|^2 - |p_0|^2)."""
    p0 = points[:, 0]
    a = 2.0 * (points[:, 1:] - p0[:, None])
    b = (points[:, 1:] ** 2).sum(-1) - (p0**2).sum(-1)[:, None]
    return np.linalg.solve(a, b[..., None])[..., 0]


def tetrahedral_voids(cell: np.ndarray, centres_frac: np.ndarray, merge_tol_A: float = 0.3) -> Voids:
    """Voids of a periodic packing of anion centres (circumcentres of its Delaunay tetrahedra).

    Parameters
    ----------
    cell : (3, 3) lattice vectors (rows), in A.
    centres_frac : (n_anions, 3) fractional coordinates of the anion centres.
    merge_tol_A : circumcentres closer than this (periodic distance) are one site, in A
        (degenerate packings give several tetrahedra with the same circumcentre).

    Returns
    -------
    Voids, sorted by fractional coordinates; one entry per distinct site in the cell.
    """
    cell = np.asarray(cell, dtype=float)
    centres_frac = np.asarray(centres_frac, dtype=float) % 1.0
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
    images = (centres_frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    tri = Delaunay(images @ cell, qhull_options="Qbb Qc Qz Q12")
    simplices = images[tri.simplices] @ cell  # (n_tet, 4, 3) in A
    volume = np.abs(np.linalg.det(simplices[:, 1:] - simplices[:, :1])) / 6.0
    simplices = simplices[volume > 1e-6]
    centres_A = _circumcentres(simplices)
    frac = centres_A @ np.linalg.inv(cell)
    inside = np.all((frac >= -1e-9) & (frac < 1.0 - 1e-9), axis=1)
    frac = frac[inside] % 1.0
    kept: list[np.ndarray] = []
    for f in frac[np.lexsort(frac.T[::-1])]:
        if not kept or periodic_distances_A(cell, f[None], np.array(kept)).min() > merge_tol_A:
            kept.append(f)
    sites = np.array(kept)
    d = _image_distances_A(cell, sites, centres_frac)
    radius = d.min(axis=(1, 2))
    n_vertices = (d < radius[:, None, None] + merge_tol_A).sum(axis=(1, 2))
    return Voids(sites, radius, n_vertices)


@dataclass
class SiteOrbits:
    """Symmetry families of candidate sites.

    Attributes
    ----------
    labels : (n_sites,) int, family index of every site (0 .. n_families - 1).
    permutations : (n_ops, n_sites) int, site index that each symmetry operation maps each site to.
    """

    labels: np.ndarray
    permutations: np.ndarray
    sizes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sizes = np.bincount(self.labels).tolist()


def site_orbits(cell: np.ndarray, sites_frac: np.ndarray, rotations: np.ndarray, translations: np.ndarray,
                tol_A: float = 0.3) -> SiteOrbits:
    """Group sites into orbits of a space group given as fractional (rotation, translation) pairs.

    Parameters
    ----------
    cell : (3, 3) lattice vectors (rows), in A.
    sites_frac : (n_sites, 3) fractional coordinates.
    rotations : (n_ops, 3, 3) int, translations : (n_ops, 3), e.g. from ``spglib.get_symmetry``
        of the framework (x' = R x + t).
    tol_A : matching tolerance, in A.

    Raises
    ------
    ValueError if an operation maps a site onto no site (the site set is not symmetric).
    """
    perms = []
    for rot, trans in zip(rotations, translations):
        image = (sites_frac @ np.asarray(rot).T + trans) % 1.0
        d = periodic_distances_A(cell, image, sites_frac)
        j = d.argmin(axis=1)
        if np.any(d[np.arange(len(j)), j] > tol_A):
            raise ValueError(f"site set is not closed under the operation R={rot.tolist()}, t={np.round(trans, 4).tolist()}")
        perms.append(j)
    perms = np.array(perms)
    labels = -np.ones(len(sites_frac), dtype=int)
    n = 0
    for i in range(len(sites_frac)):
        if labels[i] < 0:
            labels[np.unique(perms[:, i])] = n
            n += 1
    return SiteOrbits(labels, perms)


def ewald_matrix(cell: np.ndarray, frac_coords: np.ndarray, charges: np.ndarray, eta: float | None = None) -> np.ndarray:
    """(n, n) Ewald interaction matrix of point charges (eV): the total energy of any charge-neutral
    subset of the sites is the sum of its sub-matrix (pymatgen's ``total_energy_matrix``).

    Parameters
    ----------
    cell : (3, 3) lattice vectors (rows), in A.
    frac_coords : (n, 3) fractional coordinates.
    charges : (n,) point charges, in units of e.
    eta : Ewald splitting parameter (1/A^2); pymatgen's default if ``None``.
    """
    from pymatgen.analysis.ewald import EwaldSummation  # heavy: pymatgen
    from pymatgen.core import Lattice, Structure

    structure = Structure(Lattice(cell), ["H"] * len(frac_coords), frac_coords,
                          site_properties={"charge": [float(q) for q in charges]})
    ewald = EwaldSummation(structure, eta=eta, compute_forces=False)
    return np.asarray(ewald.total_energy_matrix)


@dataclass
class Ordering:
    """One cation ordering: the occupied candidate sites and its electrostatic energy.

    Attributes
    ----------
    sites : sorted tuple of occupied candidate-site indices.
    energy_eV : Ewald energy of the cell (anion centres + cations), in eV.
    multiplicity : number of symmetry-equivalent variants (under the framework's operations).
    """

    sites: tuple[int, ...]
    energy_eV: float
    multiplicity: int = 1


def _canonical(sites: np.ndarray, permutations: np.ndarray | None) -> tuple[tuple[int, ...], int]:
    if permutations is None:
        return tuple(sorted(int(s) for s in sites)), 1
    variants = {tuple(sorted(perm[sites].tolist())) for perm in permutations}
    return min(variants), len(variants)


def rank_orderings(matrix: np.ndarray, n_fixed: int, n_select: int, distances_A: np.ndarray, min_separation_A: float,
                   n_keep: int = 20, n_restarts: int = 200, n_sweeps: int = 60, seed: int = 0,
                   permutations: np.ndarray | None = None) -> list[Ordering]:
    """The ``n_keep`` lowest-energy distinct ways to occupy ``n_select`` of the candidate sites.

    Parameters
    ----------
    matrix : (n_fixed + n_sites, n_fixed + n_sites) Ewald matrix (:func:`ewald_matrix`), fixed
        charges (anions) first, then the candidate sites (each carrying the cation charge), in eV.
    n_fixed : number of fixed charges at the start of ``matrix``.
    n_select : number of cations to place (charge neutrality is the caller's business).
    distances_A : (n_sites, n_sites) distances between candidate sites, in A.
    min_separation_A : two occupied sites may not be closer than this, in A.
    n_keep : number of distinct orderings returned.
    n_restarts, n_sweeps : simulated-annealing restarts and sweeps (``n_sites`` swap trials each),
        temperature from 0.5 eV down to 1e-3 eV geometrically, then a zero-temperature descent.
    seed : seed of ``numpy.random.default_rng`` (results are reproducible).
    permutations : (n_ops, n_sites) site permutations of the framework symmetry
        (:func:`site_orbits`); equivalent orderings are merged and counted.

    Returns
    -------
    list of Ordering sorted by energy (lowest first). Raises ``ValueError`` if no ordering respects
    ``min_separation_A``.
    """
    matrix = np.asarray(matrix, dtype=float)
    n_sites = matrix.shape[0] - n_fixed
    if not 0 < n_select <= n_sites:
        raise ValueError(f"n_select = {n_select} must be in 1..{n_sites} (the number of candidate sites)")
    site_m = matrix[n_fixed:, n_fixed:]
    field_eV = 2.0 * matrix[:n_fixed, n_fixed:].sum(axis=0)  # site <-> fixed charges
    constant_eV = matrix[:n_fixed, :n_fixed].sum()
    clash = (distances_A < min_separation_A) & ~np.eye(n_sites, dtype=bool)
    rng = np.random.default_rng(seed)
    found: dict[tuple[int, ...], Ordering] = {}
    temps = np.geomspace(0.5, 1e-3, n_sweeps)

    def energy(occ: np.ndarray) -> float:
        return float(constant_eV + field_eV[occ].sum() + site_m[np.ix_(occ, occ)].sum())

    for _ in range(n_restarts):
        occ = _random_feasible(n_sites, n_select, clash, rng)
        if occ is None:
            continue
        e = energy(occ)
        for temp in [*temps, 0.0, 0.0]:
            for _ in range(n_sites):
                k = rng.integers(n_select)
                free = np.setdiff1d(np.arange(n_sites), occ)
                j = free[rng.integers(len(free))]
                rest = np.delete(occ, k)
                if clash[j, rest].any():
                    continue
                trial = np.append(rest, j)
                e_trial = energy(trial)
                if e_trial <= e or (temp > 0 and rng.random() < np.exp(-(e_trial - e) / temp)):
                    occ, e = trial, e_trial
        key, mult = _canonical(occ, permutations)
        if key not in found:
            found[key] = Ordering(key, e, mult)
    if not found:
        raise ValueError(f"no ordering of {n_select} cations on {n_sites} sites keeps them >= {min_separation_A} A apart")
    ranked = sorted(found.values(), key=lambda o: o.energy_eV)
    log.info("%d distinct orderings found in %d restarts; keeping %d", len(ranked), n_restarts, min(n_keep, len(ranked)))
    return ranked[:n_keep]


def _random_feasible(n_sites: int, n_select: int, clash: np.ndarray, rng: np.random.Generator,
                     tries: int = 200) -> np.ndarray | None:
    """A random set of ``n_select`` sites with no clashing pair (random greedy), or ``None``."""
    for _ in range(tries):
        chosen: list[int] = []
        for s in rng.permutation(n_sites):
            if not clash[s, chosen].any():
                chosen.append(int(s))
                if len(chosen) == n_select:
                    return np.array(chosen)
    return None


def centre_sites(cell: np.ndarray, sites_frac: np.ndarray, atoms_frac: np.ndarray, contact_A: float = 2.4,
                 softness_A: float = 0.2, max_shift_A: float = 1.5) -> np.ndarray:
    """Move each site to the local minimum of a soft repulsion from the framework atoms.

    The circumcentre of four anion centres is equidistant from the centres, not from the anion
    surfaces (BH4 and B12H12 differ in size); a cation sits where its shortest contacts to the
    framework atoms are longest. Each site minimises ``sum_k exp(-(d_k - contact_A) / softness_A)``
    over framework atoms k (d_k: distance in A), starting from its current position; shifts larger
    than ``max_shift_A`` are cut back to the start (the site left its void).

    Parameters
    ----------
    cell : (3, 3) lattice vectors (rows), in A.
    sites_frac : (n_sites, 3) starting fractional coordinates.
    atoms_frac : (n_atoms, 3) fractional coordinates of the framework atoms (e.g. the H atoms).
    contact_A, softness_A : range and softness of the repulsion, in A.
    max_shift_A : largest accepted move, in A.

    Returns
    -------
    (n_sites, 3) fractional coordinates in [0, 1).
    """
    cell = np.asarray(cell, dtype=float)
    inv = np.linalg.inv(cell)
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
    out = []
    for start in np.asarray(sites_frac, dtype=float):
        diff = np.asarray(atoms_frac) - start
        diff -= np.round(diff)
        near = ((diff[:, None, :] + shifts[None]) @ cell).reshape(-1, 3)  # framework around the site, in A
        near = near[np.linalg.norm(near, axis=1) < contact_A + 6.0]

        def penalty(r: np.ndarray) -> float:
            return float(np.exp(-(np.linalg.norm(near - r, axis=1) - contact_A) / softness_A).sum())

        r = minimize(penalty, np.zeros(3), method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-8}).x
        if np.linalg.norm(r) > max_shift_A:
            r = np.zeros(3)
        out.append((start + r @ inv) % 1.0)
    return np.array(out)


def merge_sites(cell: np.ndarray, sites_frac: np.ndarray, tol_A: float) -> np.ndarray:
    """Sites closer than ``tol_A`` (periodic) merged into the first of them; (n_kept, 3) fractional."""
    kept: list[np.ndarray] = []
    for f in np.asarray(sites_frac) % 1.0:
        if not kept or periodic_distances_A(cell, f[None], np.array(kept)).min() > tol_A:
            kept.append(f)
    return np.array(kept)


def void_minima(cell: np.ndarray, atoms_frac: np.ndarray, spacing_A: float = 0.35, contact_A: float = 2.4,
                softness_A: float = 0.2, merge_tol_A: float = 0.8) -> np.ndarray:
    """Every pocket of the framework: local minima of the soft repulsion of :func:`centre_sites`.

    The repulsion ``sum_k exp(-(d_k - contact_A) / softness_A)`` is evaluated on a periodic grid
    (spacing about ``spacing_A``); grid points lower than their 26 neighbours are refined with
    :func:`centre_sites` and merged within ``merge_tol_A``. Complements :func:`tetrahedral_voids`
    when the anions differ much in size (a circumcentre of anion centres can lie inside the H shell
    of a large anion).

    Parameters
    ----------
    cell : (3, 3) lattice vectors (rows), in A.
    atoms_frac : (n_atoms, 3) fractional coordinates of the framework atoms (e.g. the H atoms).

    Returns
    -------
    (n_sites, 3) fractional coordinates in [0, 1).
    """
    cell = np.asarray(cell, dtype=float)
    n = np.maximum(1, np.round(np.linalg.norm(cell, axis=1) / spacing_A)).astype(int)
    axes = [np.arange(k) / k for k in n]
    grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(3, -1).T
    field_ = np.zeros(len(grid))
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
    for start in range(0, len(grid), 2000):
        chunk = grid[start:start + 2000]
        diff = chunk[:, None, :] - np.asarray(atoms_frac)[None]
        diff -= np.round(diff)
        d = np.linalg.norm((diff[:, :, None, :] + shifts) @ cell, axis=-1)
        field_[start:start + 2000] = np.exp(-(d - contact_A) / softness_A).sum(axis=(1, 2))
    field_ = field_.reshape(*n)
    is_min = np.ones_like(field_, dtype=bool)
    for shift in itertools.product((-1, 0, 1), repeat=3):
        if shift != (0, 0, 0):
            is_min &= field_ <= np.roll(field_, shift, axis=(0, 1, 2))
    starts = grid.reshape(*n, 3)[is_min]
    refined = centre_sites(cell, starts, atoms_frac, contact_A, softness_A, max_shift_A=2 * spacing_A)
    return merge_sites(cell, refined, merge_tol_A)


def close_under_symmetry(cell: np.ndarray, sites_frac: np.ndarray, rotations: np.ndarray, translations: np.ndarray,
                         tol_A: float = 0.8) -> np.ndarray:
    """Sites replaced by whole orbits: each site not yet within ``tol_A`` of a kept one brings its
    full orbit (x' = R x + t over all operations, images merged within 0.05 A). (n_kept, 3) fractional."""
    kept = np.zeros((0, 3))
    for site in np.asarray(sites_frac) % 1.0:
        if len(kept) and periodic_distances_A(cell, site[None], kept).min() <= tol_A:
            continue
        orbit = merge_sites(cell, (np.einsum("oij,j->oi", np.asarray(rotations), site) + translations) % 1.0, 0.05)
        kept = np.vstack([kept, orbit])
    return kept
