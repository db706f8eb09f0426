"""Sites of the mobile ions, found from the trajectory (or given), and which ion holds which site when.

* :func:`find_sites` -- sites as the maxima of the mobile ions' probability density over the run
  (histogram of wrapped positions on a ~0.2 A grid of the mean cell, Gaussian smoothing with
  periodic wrap, local maxima above ``min_peak_ratio`` x the mean ion density, closer maxima than
  ``min_separation_A`` merged into the higher one, positions refined to sub-voxel precision by the
  density-weighted centroid of the 3 x 3 x 3 voxels around each maximum).
* :func:`sites_from_structure` -- sites given as a structure file (any format ASE reads): the
  positions of the mobile element, tiled onto the trajectory's supercell, with site families from
  the structure's symmetry (spglib's equivalent atoms).
* :func:`assign_sites` -- core-state assignment (Buchete & Hummer, J. Phys. Chem. B 112 (2008)
  6057): an ion belongs to a site from the frame it enters the site's core sphere (radius
  ``core_radius_A``, at most 0.4 of the distance to the nearest other site) until it enters the core
  of another site. Vibrations that leave the core, and rattling on a boundary between two sites,
  do not change the assignment: only reaching the next site's centre region is a hop.
* :func:`occupancy` -- mean ions per site and per family with errors, and occupancy over time.

Why not site-analysis (PyPI, built for tracking ions through crystallographic sites): it takes a
pymatgen ``Structure`` per frame and assigns atoms in Python, measured at ~47 ms per 1024-atom frame
(8 min for 10,000 frames, before any hop statistics), and has no density-derived sites; here one
KD-tree query over all frames does the assignment (about 1 s for 96 ions x 10,000 frames).
freud-analysis offers periodic neighbour queries but nothing scipy does not give here.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage, stats
from scipy.spatial import cKDTree


log = logging.getLogger(__name__)

DEFAULT_SITE_GRID_A = 0.2
#: Gaussian smoothing of the density before looking for maxima (A)
DEFAULT_SITE_SMOOTHING_A = 0.3
#: two density maxima closer than this are one site (A)
DEFAULT_MIN_SITE_SEPARATION_A = 1.2
#: a maximum is a site when its (smoothed) density is at least this times the mean ion density
DEFAULT_MIN_PEAK_RATIO = 3.0
#: largest core radius (A); a site's core is also at most CORE_FRACTION x the distance to its nearest site
DEFAULT_CORE_RADIUS_A = 1.0
#: a site's core holds at least this many times the ions of a uniform spread (else a noise maximum)
DEFAULT_MIN_CORE_ENRICHMENT = 1.0
#: the ions spend at least this fraction of the time in the cores of the sites (else no sites: a liquid)
DEFAULT_MIN_CORE_FRACTION = 0.3
CORE_FRACTION = 0.4
#: frames per chunk when reading positions
FRAME_CHUNK = 1024
#: blocks of the run for per-site occupancy errors and occupancy over time
OCCUPANCY_BLOCKS = 10
UNASSIGNED = -1


@dataclass(frozen=True)
class Sites:
    """Sites of the mobile ions in the mean cell.

    Attributes
    ----------
    frac : (n_sites, 3) fractional positions in [0, 1).
    cell_A : (3, 3) reference cell (rows a, b, c; the mean cell of the run).
    core_radius_A : (n_sites,) radius of each site's core sphere.
    source : ``density`` or ``structure``.
    family : (n_sites,) int family index per site (symmetry-equivalent sites), or None.
    peak_density_per_A3 : (n_sites,) smoothed density at each maximum (``density`` sites), or None.
    """

    frac: np.ndarray
    cell_A: np.ndarray
    core_radius_A: np.ndarray
    source: str
    family: np.ndarray | None = None
    peak_density_per_A3: np.ndarray | None = None

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return int(self.frac.shape[0])

    @property
    def cart_A(self) -> np.ndarray:
        """(n_sites, 3) Cartesian positions in the reference cell (A)."""
        return self.frac @ self.cell_A

    def vectors_A(self, from_site: np.ndarray, to_site: np.ndarray) -> np.ndarray:
        """(n, 3) shortest periodic vectors from site ``from_site[i]`` to ``to_site[i]`` (A)."""
        d = self.frac[to_site] - self.frac[from_site]
        d -= np.round(d)
        return d @ self.cell_A


def _periodic_images(frac: np.ndarray, cell_A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian points of ``frac`` in the 27 neighbouring cells, and the index of the original of each."""
    shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    points = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3) @ cell_A
    return points, np.tile(np.arange(frac.shape[0]), shifts.shape[0])


def nearest_site_distances(frac: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """(n_sites,) distance from each site to its nearest other site (periodic images included), A."""
    if frac.shape[0] < 2:
        return np.full(frac.shape[0], np.inf)
    points, _ = _periodic_images(frac, cell_A)
    dist = cKDTree(points).query(frac @ cell_A, k=2)[0]
    return dist[:, 1]


def core_radii(frac: np.ndarray, cell_A: np.ndarray, max_core_radius_A: float = DEFAULT_CORE_RADIUS_A
               ) -> np.ndarray:
    """(n_sites,) core radius of each site: ``min(max_core_radius_A, CORE_FRACTION x nearest-site distance)``.

    With at most 0.4 of the nearest distance, cores never overlap and an ion in a core is nearer
    that site than any other.
    """
    return np.minimum(float(max_core_radius_A), CORE_FRACTION * nearest_site_distances(frac, cell_A))


def wrapped_fractional(positions_A: np.ndarray, cells_A: np.ndarray, ion_index: np.ndarray | None = None,
                       chunk: int = FRAME_CHUNK) -> np.ndarray:
    """Fractional coordinates in [0, 1) of the selected ions in every frame, each in its frame's cell.

    Parameters
    ----------
    positions_A : (n_frames, n_atoms, 3) unwrapped positions (may be memory-mapped; read in chunks).
    cells_A : (n_frames, 3, 3) cells.
    ion_index : (n_ions,) rows to select, or None for all.

    Returns
    -------
    (n_frames, n_ions, 3) float64.
    """
    n_frames = positions_A.shape[0]
    n_ions = positions_A.shape[1] if ion_index is None else len(ion_index)
    out = np.empty((n_frames, n_ions, 3))
    inv = np.linalg.inv(np.asarray(cells_A, dtype=np.float64))
    for start in range(0, n_frames, chunk):
        stop = min(n_frames, start + chunk)
        block = positions_A[start:stop]
        block = np.asarray(block if ion_index is None else block[:, ion_index], dtype=np.float64)
        out[start:stop] = (block @ inv[start:stop]) % 1.0
    return out


def find_sites(frac: np.ndarray, cell_A: np.ndarray, grid_A: float = DEFAULT_SITE_GRID_A,
               smoothing_A: float = DEFAULT_SITE_SMOOTHING_A, min_separation_A: float = DEFAULT_MIN_SITE_SEPARATION_A,
               min_peak_ratio: float = DEFAULT_MIN_PEAK_RATIO,
               max_core_radius_A: float = DEFAULT_CORE_RADIUS_A,
               min_core_enrichment: float = DEFAULT_MIN_CORE_ENRICHMENT,
               min_core_fraction: float = DEFAULT_MIN_CORE_FRACTION) -> Sites:
    """Sites as maxima of the mobile ions' density over the run.

    Parameters
    ----------
    frac : (n_frames, n_ions, 3) wrapped fractional positions (:func:`wrapped_fractional`).
    cell_A : (3, 3) reference cell (the mean cell of the run).
    grid_A : histogram voxel size; smoothing_A : Gaussian sigma (periodic) before finding maxima.
    min_separation_A : maxima closer than this are one site (the higher one is kept).
    min_peak_ratio : a maximum counts when its smoothed density is >= this x the mean ion density.
    max_core_radius_A : largest core radius (:func:`core_radii`).
    min_core_enrichment : a maximum is a site only when its core holds at least this many times the
        ion counts of a uniform spread (drops maxima made by a single short visit or by noise).
    min_core_fraction : the ions must spend at least this fraction of the time inside the cores of
        the sites, else they do not sit on sites: on the synthetic site lattice (vibrations 0.3 A)
        they spend 97 %, Gaussian walkers (a liquid) well under 1 %.

    Returns
    -------
    :class:`Sites` (``source="density"``), sorted by falling peak density.

    Raises
    ------
    ValueError
        If no maximum passes ``min_peak_ratio``, or the ions spend less than ``min_core_fraction`` of
        the time in the sites' cores (a liquid, or too few frames); the message names the option.
    """
    cell_A = np.asarray(cell_A, dtype=np.float64)
    shape = np.array([max(4, int(np.ceil(np.linalg.norm(v) / grid_A))) for v in cell_A])
    counts = np.zeros(int(np.prod(shape)))
    flat = frac.reshape(-1, 3)
    for start in range(0, flat.shape[0], 4_000_000):
        idx = np.minimum((flat[start:start + 4_000_000] * shape).astype(np.int64), shape - 1)
        counts += np.bincount(np.ravel_multi_index(idx.T, tuple(shape)), minlength=counts.size)
    volume = abs(np.linalg.det(cell_A))
    density = counts.reshape(tuple(shape)) / (frac.shape[0] * volume / counts.size)
    voxel_A = np.linalg.norm(cell_A, axis=1) / shape
    smooth = ndimage.gaussian_filter(density, sigma=smoothing_A / voxel_A, mode="wrap")
    mean_density = frac.shape[1] / volume
    is_max = (smooth == ndimage.maximum_filter(smooth, size=3, mode="wrap")) & (smooth >= min_peak_ratio * mean_density)
    peaks = np.argwhere(is_max)
    if peaks.size == 0:
        raise ValueError(f"no density maximum of the mobile ions reaches {min_peak_ratio} x their mean density: "
                         "the ions spread evenly (a liquid?) or the run is too short; give the sites as a structure "
                         "file, or lower min_peak_ratio")
    heights = smooth[tuple(peaks.T)]
    order = np.argsort(-heights, kind="stable")
    peaks, heights = peaks[order], heights[order]
    centres = np.array([_refine(smooth, p) for p in peaks]) / shape % 1.0
    kept: list[int] = []
    for i in range(len(peaks)):
        if kept:
            d = centres[kept] - centres[i]
            d -= np.round(d)
            if np.min(np.linalg.norm(d @ cell_A, axis=1)) < min_separation_A:
                continue
        kept.append(i)
    frac_sites, heights = centres[kept], heights[kept]
    radii = core_radii(frac_sites, cell_A, max_core_radius_A)
    in_core, expected = _core_counts(counts.reshape(tuple(shape)), frac_sites, radii, cell_A)
    real = in_core >= min_core_enrichment * expected
    held = float(in_core[real].sum() / counts.sum())
    if held < min_core_fraction:
        raise ValueError(f"the mobile ions spend {100 * held:.0f} % of the time in the cores of their "
                         f"{int(real.sum())} density maxima (< {100 * min_core_fraction:.0f} %): they do not sit on "
                         "sites (a liquid?) or the run is too short; give the sites as a structure file, or lower "
                         "min_core_fraction")
    log.info("%d sites from the density maxima of the mobile ions (%d maxima above %.1f x the mean density, %d "
             "without %.1f x enrichment in their core); the ions spend %.0f %% of the time in their cores",
             int(real.sum()), len(peaks), min_peak_ratio, int((~real).sum()), min_core_enrichment, 100 * held)
    frac_sites = frac_sites[real]
    return Sites(frac_sites, cell_A, core_radii(frac_sites, cell_A, max_core_radius_A), "density",
                 None, heights[real])


def _core_counts(counts: np.ndarray, frac_sites: np.ndarray, radii_A: np.ndarray, cell_A: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(n_sites,) ion counts inside each site's core, and the counts a uniform spread would put there."""
    shape = np.array(counts.shape)
    reach = np.ceil(radii_A.max() / (np.linalg.norm(cell_A, axis=1) / shape)).astype(int) + 1
    grid = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1).reshape(-1, 3)
    inside_counts, expected = np.empty(len(frac_sites)), np.empty(len(frac_sites))
    for i, (site, radius) in enumerate(zip(frac_sites, radii_A)):
        voxels = np.floor(site * shape).astype(int) + grid
        dist = np.linalg.norm(((voxels + 0.5) / shape - site) @ cell_A, axis=1)
        inside = voxels[dist <= radius] % shape
        inside_counts[i] = counts[tuple(inside.T)].sum()
        expected[i] = counts.sum() * inside.shape[0] / counts.size
    return inside_counts, expected


def _refine(grid: np.ndarray, peak: np.ndarray) -> np.ndarray:
    """Sub-voxel position (voxel units, voxel centres at +0.5) of a maximum: weighted centroid of its 27 voxels."""
    offsets = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    idx = (peak[None, :] + offsets) % np.array(grid.shape)
    w = grid[tuple(idx.T)]
    w = np.clip(w - w.min(), 0.0, None)
    shift = (w[:, None] * offsets).sum(axis=0) / w.sum() if w.sum() > 0 else np.zeros(3)
    return peak + 0.5 + shift


def sites_from_structure(path, element: str, cell_A: np.ndarray,
                         max_core_radius_A: float = DEFAULT_CORE_RADIUS_A, symprec: float = 0.1) -> Sites:
    """Sites given as a structure file: the positions of ``element`` in it, tiled onto the run's cell.

    Parameters
    ----------
    path : structure file in any format ASE reads (CIF, POSCAR, extxyz, LAMMPS data with ``format``
        guessed by ASE).
    element : the mobile element whose positions are the sites (e.g. ``Na``).
    cell_A : (3, 3) the trajectory's mean cell; the structure's cell times whole numbers along a, b, c
        must match it within 10 %.
    symprec : spglib tolerance (A) for the site families (symmetry-equivalent sites).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the structure holds no ``element`` or its cell does not tile the trajectory's cell.
    """
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"site structure file not found: {path}")
    atoms = read(path)
    symbols = np.array(atoms.get_chemical_symbols())
    if not np.any(symbols == element):
        raise ValueError(f"{path}: no {element} atoms to use as sites; elements present: {sorted(set(symbols))}")
    cell_A = np.asarray(cell_A, dtype=np.float64)
    own = np.asarray(atoms.cell[:], dtype=np.float64)
    reps = np.rint(np.linalg.norm(cell_A, axis=1) / np.linalg.norm(own, axis=1)).astype(int)
    if np.any(reps < 1) or not np.allclose(own * reps[:, None], cell_A, rtol=0.1, atol=0.5):
        raise ValueError(f"{path}: its cell (lengths {np.linalg.norm(own, axis=1).round(3).tolist()} A) does not tile "
                         f"the trajectory's mean cell (lengths {np.linalg.norm(cell_A, axis=1).round(3).tolist()} A) "
                         "by whole numbers; give the sites in a cell of the same orientation")
    family = _families(atoms, symprec)[symbols == element]
    base = atoms.get_scaled_positions(wrap=True)[symbols == element]
    shifts = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    frac = ((base[None, :, :] + shifts[:, None, :]) / reps).reshape(-1, 3) % 1.0
    family = np.tile(np.unique(family, return_inverse=True)[1], shifts.shape[0])
    return Sites(frac, cell_A, core_radii(frac, cell_A, max_core_radius_A), "structure", family, None)


def _families(atoms, symprec: float) -> np.ndarray:
    """Symmetry-equivalent atom classes (spglib ``equivalent_atoms``); every atom its own class without spglib."""
    try:
        import spglib
        with warnings.catch_warnings():  # spglib 2.x warns about its own error-handling switch
            warnings.simplefilter("ignore", DeprecationWarning)
            data = spglib.get_symmetry_dataset((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers),
                                               symprec=symprec)
    except Exception as exc:  # noqa: BLE001 - spglib raises its own errors or returns None
        log.warning("site families not found (spglib: %s); every site is its own family", exc)
        return np.arange(len(atoms))
    if data is None:
        return np.arange(len(atoms))
    return np.asarray(data.equivalent_atoms)


def assign_sites(frac: np.ndarray, sites: Sites, chunk: int = 200_000) -> np.ndarray:
    """Site held by each ion in each frame, by the core-state rule.

    An ion enters a site when its position is inside that site's core sphere; it keeps the site
    until it enters another core (positions between cores change nothing). Distances are taken in
    the reference cell (fractional coordinates of each frame mapped with ``sites.cell_A``, so a
    breathing NPT cell does not move the sites).

    Parameters
    ----------
    frac : (n_frames, n_ions, 3) wrapped fractional positions.
    sites : :class:`Sites`.

    Returns
    -------
    states : (n_frames, n_ions) int32 -- site index, :data:`UNASSIGNED` (-1) before the ion's first
        core visit.
    """
    n_frames, n_ions, _ = frac.shape
    points, origin = _periodic_images(sites.frac, sites.cell_A)
    tree = cKDTree(points)
    flat = frac.reshape(-1, 3)
    in_core = np.full(flat.shape[0], UNASSIGNED, dtype=np.int32)
    reach = float(sites.core_radius_A.max())
    for start in range(0, flat.shape[0], chunk):
        xyz = flat[start:start + chunk] @ sites.cell_A
        dist, idx = tree.query(xyz, k=1, distance_upper_bound=reach)
        found = idx < points.shape[0]
        site = np.where(found, origin[np.minimum(idx, points.shape[0] - 1)], UNASSIGNED)
        ok = found & (dist <= sites.core_radius_A[np.maximum(site, 0)])
        in_core[start:start + chunk] = np.where(ok, site, UNASSIGNED)
    in_core = in_core.reshape(n_frames, n_ions)
    frame = np.where(in_core >= 0, np.arange(n_frames)[:, None], -1)
    last = np.maximum.accumulate(frame, axis=0)  # last frame each ion was in a core
    states = np.take_along_axis(in_core, np.maximum(last, 0), axis=0)
    return np.where(last >= 0, states, UNASSIGNED).astype(np.int32)


def site_counts(states: np.ndarray, n_sites: int) -> np.ndarray:
    """(n_frames, n_sites) number of ions holding each site in each frame (int32)."""
    n_frames = states.shape[0]
    held = states >= 0
    flat = (states + (np.arange(n_frames) * n_sites)[:, None])[held]
    return np.bincount(flat, minlength=n_frames * n_sites).reshape(n_frames, n_sites).astype(np.int32)


def occupancy(states: np.ndarray, sites: Sites, dt_frame_ps: float, n_blocks: int = OCCUPANCY_BLOCKS) -> dict:
    """Mean ions per site (and per family) over the run, with errors, and occupancy over time.

    Parameters
    ----------
    states : (n_frames, n_ions) from :func:`assign_sites`.
    sites : the sites; dt_frame_ps : time between frames.
    n_blocks : blocks of the run for the occupancy over time.

    Returns
    -------
    dict -- ``n_sites``, ``source``, ``occupancy_per_site`` (n_sites,) mean ions holding each site,
    ``occupancy_std_per_site``, ``occupancy_vs_time`` ((n_blocks, n_sites) block means) with
    ``block_time_ps`` (block centres), ``occupied_time_ps`` (n_sites,) ion time spent on each site,
    ``fraction_unassigned`` (frames x ions before a first core visit), and with families:
    ``families`` -- list per family of ``family``, ``n_sites``, ``occupancy_per_site`` (mean ions per
    site of the family), ``occupancy_per_site_std``, ``occupancy_per_site_ci95``.

    Notes
    -----
    Errors come from the scatter over ions: the occupancy is ``sum_i x_i`` with ``x_i`` the fraction
    of frames ion i spent on the site (or family), and ``Var(sum_i x_i) = n s_x^2`` for independent
    ions, whatever the time correlation of each ion's path; intervals use Student t on
    ``n_ions - 1`` degrees of freedom. Ions that exclude each other make the totals fluctuate less,
    so the error is then conservative.
    """
    n_frames, n_ions = states.shape
    counts = site_counts(states, sites.n_sites)
    n_blocks = int(min(n_blocks, n_frames))
    edges = np.linspace(0, n_frames, n_blocks + 1).astype(int)
    blocks = np.array([counts[a:b].mean(axis=0) for a, b in zip(edges[:-1], edges[1:])])
    held = states >= 0
    ion_col = np.broadcast_to(np.arange(n_ions), states.shape)[held]
    fraction = np.bincount(ion_col * sites.n_sites + states[held], minlength=n_ions * sites.n_sites
                           ).reshape(n_ions, sites.n_sites) / n_frames  # (n_ions, n_sites) time fractions
    out = {"n_sites": sites.n_sites, "source": sites.source, "occupancy_per_site": fraction.sum(axis=0),
           "occupancy_std_per_site": _sum_std(fraction), "occupancy_vs_time": blocks,
           "block_time_ps": 0.5 * (edges[:-1] + edges[1:] - 1) * dt_frame_ps,
           "occupied_time_ps": counts.sum(axis=0) * dt_frame_ps,
           "fraction_unassigned": float((~held).mean())}
    if sites.family is not None:
        out["families"] = []
        for f in np.unique(sites.family):
            members = sites.family == f
            per_ion = fraction[:, members].sum(axis=1) / members.sum()
            value, std = float(per_ion.sum()), float(_sum_std(per_ion[:, None])[0])
            t95 = float(stats.t.ppf(0.975, max(n_ions - 1, 1)))
            out["families"].append({"family": int(f), "n_sites": int(members.sum()), "occupancy_per_site": value,
                                    "occupancy_per_site_std": std,
                                    "occupancy_per_site_ci95": [value - t95 * std, value + t95 * std]})
    return out


def _sum_std(x: np.ndarray) -> np.ndarray:
    """Standard error of ``x.sum(axis=0)`` over independent rows: ``sqrt(n) x std(rows)``."""
    n = x.shape[0]
    return np.sqrt(n) * x.std(axis=0, ddof=1) if n > 1 else np.full(x.shape[1], np.nan)


def with_families(sites: Sites, family: np.ndarray) -> Sites:
    """The same sites with a family index per site (e.g. from a reference structure)."""
    family = np.asarray(family)
    if family.shape != (sites.n_sites,):
        raise ValueError(f"family has shape {family.shape}; need ({sites.n_sites},), one per site")
    return replace(sites, family=family)
