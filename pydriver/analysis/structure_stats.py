"""Structure and dynamics statistics for the mobile ion: Na-anion coordination numbers over time,
radial distribution functions, non-Gaussian parameter and the self part of the van Hove function.

Frames are subsampled (``max_frames``, evenly spaced) for the pair statistics; distances use the
minimum image of each frame's cell (NPT and triclinic cells included).
"""

from __future__ import annotations

import logging

import numpy as np

from pydriver.analysis.cell import max_cutoff_A, minimum_image
from pydriver.analysis.molecules import Molecules
from pydriver.structures.anions import whole_molecule_shifts

log = logging.getLogger(__name__)

# Na to anion-centre cutoffs: NaBH4 (rock salt, a = 6.1 A) has Na-B = 3.05 A and the next
# shell at 5.3 A; Na sits on B12H12 faces at about 4.5-5 A from the cage centre, the next
# B12H12 shell beyond 7 A. Check against the RDFs written next to them.
DEFAULT_CN_CUTOFF_A = {"BH4": 4.0, "B12H12": 6.0}
FALLBACK_CN_CUTOFF_A = 5.0
DEFAULT_RDF_MAX_A = 10.0
DEFAULT_RDF_BIN_A = 0.05
DEFAULT_MAX_FRAMES = 200
DEFAULT_N_LAGS = 40
DEFAULT_VAN_HOVE_LAGS = 4
VAN_HOVE_BIN_A = 0.1


def sample_frames(n_frames: int, max_frames: int = DEFAULT_MAX_FRAMES) -> np.ndarray:
    """Evenly spaced frame indices, at most ``max_frames``."""
    return np.unique(np.linspace(0, n_frames - 1, min(n_frames, max_frames)).astype(int))


def anion_centers(positions_A, cells_A, molecules: Molecules, masses_amu, frames: np.ndarray) -> np.ndarray:
    """Centres of mass ``(n_sel_frames, n_anions, 3)`` of whole anions in the chosen frames."""
    centers = np.empty((frames.size, len(molecules.members), 3))
    all_shifts = whole_molecule_shifts(np.asarray(positions_A[0], dtype=np.float64), cells_A[0],
                                       molecules.members, molecules.bond_cutoff_A)
    for i, (rows, shifts) in enumerate(zip(molecules.members, all_shifts)):
        pos = np.asarray(positions_A[frames][:, rows], dtype=np.float64) + np.einsum("pk,fkl->fpl", shifts,
                                                                                        cells_A[frames])
        w = masses_amu[rows] / masses_amu[rows].sum()
        centers[:, i] = (pos * w[None, :, None]).sum(axis=1)
    return centers


def coordination_numbers(ion_positions_A, centers_A, cells_A, cutoff_A: float) -> dict:
    """Instantaneous number of anion centres within ``cutoff_A`` of each ion.

    Parameters
    ----------
    ion_positions_A : (n_frames, n_ions, 3); centers_A : (n_frames, n_anions, 3); cells_A : (n_frames, 3, 3).
    cutoff_A : Na-to-centre distance cutoff.

    Returns
    -------
    dict with ``mean_cn_vs_frame`` (n_frames,), ``cn_histogram`` {cn: fraction}, ``mean_cn``,
    ``mean_cn_std`` (std over frames) and ``cutoff_A``.
    """
    counts = np.empty(ion_positions_A.shape[:2], dtype=np.int64)
    for f in range(ion_positions_A.shape[0]):
        diff = minimum_image(ion_positions_A[f][:, None, :] - centers_A[f][None, :, :], cells_A[f])
        counts[f] = (np.linalg.norm(diff, axis=-1) < cutoff_A).sum(axis=1)
    values, n = np.unique(counts, return_counts=True)
    per_frame = counts.mean(axis=1)
    return {"cutoff_A": float(cutoff_A), "mean_cn": float(counts.mean()), "mean_cn_std": float(per_frame.std()),
            "mean_cn_vs_frame": per_frame, "cn_histogram": {int(v): float(c / counts.size) for v, c in zip(values, n)}}


def rdf(a_positions_A, b_positions_A, cells_A, r_max_A: float = DEFAULT_RDF_MAX_A,
        bin_A: float = DEFAULT_RDF_BIN_A, same: bool = False) -> dict:
    """Radial distribution function g_AB(r) averaged over frames.

    Parameters
    ----------
    a_positions_A : (n_frames, n_a, 3); b_positions_A : (n_frames, n_b, 3); cells_A : (n_frames, 3, 3).
    r_max_A : largest r, reduced to half the smallest cell width if needed.
    bin_A : bin width.
    same : A and B are the same set (self pairs excluded, N_A (N_A - 1) pairs).

    Returns
    -------
    dict with ``r_A`` (bin centres), ``g`` and ``r_max_A``.
    """
    r_max_A = min(r_max_A, min(max_cutoff_A(c) for c in cells_A))
    edges = np.arange(0.0, r_max_A + 1e-12, bin_A)
    hist = np.zeros(edges.size - 1)
    norm = 0.0
    n_a, n_b = a_positions_A.shape[1], b_positions_A.shape[1]
    for f in range(a_positions_A.shape[0]):
        diff = minimum_image(a_positions_A[f][:, None, :] - b_positions_A[f][None, :, :], cells_A[f])
        dist = np.linalg.norm(diff, axis=-1)
        if same:
            dist = dist[~np.eye(n_a, dtype=bool)]
        hist += np.histogram(dist, bins=edges)[0]
        pairs = n_a * (n_a - 1) if same else n_a * n_b
        norm += pairs / abs(np.linalg.det(cells_A[f]))
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return {"r_A": 0.5 * (edges[1:] + edges[:-1]), "g": hist / (norm * shell), "r_max_A": float(r_max_A)}


def lag_indices(n_frames: int, n_lags: int = DEFAULT_N_LAGS) -> np.ndarray:
    """Log-spaced lag indices from 1 to ``n_frames - 1``."""
    return np.unique(np.geomspace(1, max(n_frames - 1, 1), n_lags).astype(int))


def displacement_moments(ion_positions_A: np.ndarray, lags: np.ndarray, max_origins: int = DEFAULT_MAX_FRAMES):
    """Yield ``(lag, displacements (n_obs, 3))`` over up to ``max_origins`` origins per lag."""
    n_frames = ion_positions_A.shape[0]
    for lag in lags:
        origins = np.unique(np.linspace(0, n_frames - 1 - lag, min(n_frames - lag, max_origins)).astype(int))
        disp = np.asarray(ion_positions_A[origins + lag] - ion_positions_A[origins], dtype=np.float64)
        yield int(lag), disp.reshape(-1, 3)


def non_gaussian_parameter(ion_positions_A: np.ndarray, dt_frame_ps: float, n_lags: int = DEFAULT_N_LAGS) -> dict:
    """alpha_2(t) = 3 <r^4> / (5 <r^2>^2) - 1 (Rahman, Phys. Rev. 136 (1964) A405).

    Parameters
    ----------
    ion_positions_A : (n_frames, n_ions, 3) unwrapped (drift-corrected) positions.
    dt_frame_ps : time between frames.

    Returns
    -------
    dict with ``lag_time_ps`` and ``alpha2`` arrays.
    """
    times, alpha = [], []
    for lag, disp in displacement_moments(ion_positions_A, lag_indices(ion_positions_A.shape[0], n_lags)):
        r2 = (disp**2).sum(axis=1)
        times.append(lag * dt_frame_ps)
        alpha.append(3.0 * np.mean(r2**2) / (5.0 * np.mean(r2) ** 2) - 1.0 if r2.mean() > 0 else 0.0)
    return {"lag_time_ps": np.array(times), "alpha2": np.array(alpha)}


def self_van_hove(ion_positions_A: np.ndarray, dt_frame_ps: float, n_lags: int = DEFAULT_VAN_HOVE_LAGS,
                  bin_A: float = VAN_HOVE_BIN_A) -> dict:
    """Self part of the van Hove function, G_s(r, t) = <delta(r - |r_i(t) - r_i(0)|)> / (4 pi r^2).

    Returns
    -------
    dict with ``r_A`` (bin centres), and per lag (key ``"{t:.4g}"`` ps) ``radial_probability_per_A``
    (4 pi r^2 G_s, integrates to 1) and ``gs_per_A3`` (G_s).
    """
    lags = lag_indices(ion_positions_A.shape[0], n_lags + 1)[-n_lags:]
    out: dict = {"lags_ps": []}
    curves = []
    for lag, disp in displacement_moments(ion_positions_A, lags):
        curves.append((lag * dt_frame_ps, np.linalg.norm(disp, axis=1)))
    r_max = max(c[1].max() for c in curves) + bin_A
    edges = np.arange(0.0, r_max + bin_A, bin_A)
    centres = 0.5 * (edges[1:] + edges[:-1])
    out["r_A"] = centres
    for t_ps, dist in curves:
        density = np.histogram(dist, bins=edges, density=True)[0]
        out["lags_ps"].append(float(t_ps))
        out[f"{t_ps:.4g}"] = {"radial_probability_per_A": density,
                              "gs_per_A3": density / (4.0 * np.pi * centres**2)}
    return out
