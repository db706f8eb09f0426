"""Does the framework stay a solid framework? Anion centres, framework species and the cell.

Three tests on the production part, each with a named threshold:

1. **Lindemann ratio** of the anion centres: ``sqrt(<|u|^2>) / d_nn``, with ``u`` the displacement of
   each anion centre from its mean position (fractional coordinates mapped with the mean cell, so
   the breathing of an NPT box does not count) and ``d_nn`` the mean nearest anion-anion centre
   distance. Crystals melt when the ratio reaches about 0.1-0.15 (Lindemann, Phys. Z. 11 (1910)
   609; Gilvarry, Phys. Rev. 102 (1956) 308); above :data:`LINDEMANN_MAX` the anion lattice is not
   a solid lattice.
2. **Diffusing framework species**: each anion kind (its centres, so rotation in place does not
   count) and each non-mobile label outside anions. A species diffuses when its all-origin MSD at
   half the run exceeds :data:`DIFFUSING_MSD_A2` *and* keeps growing: the per-particle growth
   ``MSD_i(T/2) - MSD_i(T/4)`` has a mean more than :data:`GROWTH_Z` standard errors (over
   particles) above zero. A vibrational plateau is flat between T/4 and T/2.
3. **Cell shape and volume**: block means (:data:`CELL_BLOCKS` blocks) of the cell lengths, angles
   and volume; their range (largest minus smallest block mean), relative to the run mean for
   lengths and volume. Block means, not frames: the volume of a 24-atom cell fluctuates by about
   5 % (1 sigma) frame to frame at 700 K (``sqrt(kT / (K V))`` with K about 20 GPa), which is not a
   change of shape. In the study's runs of 24-140 atoms over 8 ps (anisotropic or triclinic
   barostat) the solid ones have length ranges up to 0.22, volume ranges up to 0.10 and angle
   ranges up to 14 deg; the 24-atom NaBH4 cell that changed shape at 700 K has length ranges of
   0.30, 0.46 and 0.58 and a volume range of 0.26. The per-frame largest changes against the first
   frame and the mean are reported too.
"""

from __future__ import annotations

import logging
from itertools import product

import numpy as np

from pydriver.analysis.cell import cart_to_frac
from pydriver.analysis.molecules import Molecules
from pydriver.analysis.msd import msd_fft
from pydriver.analysis.structure_stats import anion_centers

log = logging.getLogger(__name__)

#: Lindemann ratio above which the anion lattice is taken as molten (upper end of the 0.1-0.15
#: melting range; the anion centres of the study's solid runs stay below 0.1)
LINDEMANN_MAX = 0.15
#: MSD (A^2) at half the run above which a framework species may be diffusing: an RMS of 2 A, half
#: the shortest anion-anion distance of these hydridoborates (4.3 A in NaBH4) and several times a
#: solid's vibrational plateau at the Lindemann limit (2 x (0.15 x 4.3 A)^2 = 0.8 A^2)
DIFFUSING_MSD_A2 = 4.0
#: the MSD growth between T/4 and T/2 counts as resolved above zero beyond this many standard errors
GROWTH_Z = 3.0
#: largest range of the block-mean cell lengths, relative to the run mean
CELL_LENGTH_MAX_CHANGE = 0.25
#: largest range (degrees) of the block-mean cell angles
CELL_ANGLE_MAX_CHANGE_DEG = 20.0
#: largest range of the block-mean volume, relative to the run mean
VOLUME_MAX_CHANGE = 0.15
#: blocks for the cell block means
CELL_BLOCKS = 8
#: frames analysed at most (evenly strided) for the anion centres
MAX_FRAMES = 2000


def cell_parameters(cells_A: np.ndarray) -> np.ndarray:
    """(n_frames, 6) lengths a, b, c (A) and angles alpha, beta, gamma (deg) of ``(n_frames, 3, 3)`` cells."""
    cells = np.asarray(cells_A, dtype=np.float64)
    lengths = np.linalg.norm(cells, axis=-1)

    def angle(i: int, j: int) -> np.ndarray:
        cos = (cells[:, i] * cells[:, j]).sum(axis=-1) / (lengths[:, i] * lengths[:, j])
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    return np.column_stack([lengths, angle(1, 2), angle(0, 2), angle(0, 1)])


def cell_change(cells_A: np.ndarray, n_blocks: int = CELL_BLOCKS) -> dict:
    """How much the cell changes shape and volume over the frames.

    Returns
    -------
    dict -- per frame: ``length_max_change_vs_first`` and ``length_max_change_vs_mean`` (3,) relative,
    ``angle_max_change_deg_vs_first``/``..._vs_mean`` (3,), ``volume_max_change_vs_first``/``..._vs_mean``
    relative; block means: ``block_length_range`` (3,) relative, ``block_angle_range_deg`` (3,),
    ``block_volume_range`` relative; ``first_cell_A`` and ``last_cell_A`` (lengths and angles).
    """
    par = cell_parameters(cells_A)
    volume = np.abs(np.linalg.det(np.asarray(cells_A, dtype=np.float64)))
    mean_par, mean_v = par.mean(axis=0), volume.mean()
    blocks = [b for b in np.array_split(np.arange(len(par)), min(n_blocks, len(par))) if b.size]
    block_par = np.array([par[b].mean(axis=0) for b in blocks])
    block_v = np.array([volume[b].mean() for b in blocks])
    return {
        "length_max_change_vs_first": np.abs(par[:, :3] / par[0, :3] - 1).max(axis=0).tolist(),
        "length_max_change_vs_mean": np.abs(par[:, :3] / mean_par[:3] - 1).max(axis=0).tolist(),
        "angle_max_change_deg_vs_first": np.abs(par[:, 3:] - par[0, 3:]).max(axis=0).tolist(),
        "angle_max_change_deg_vs_mean": np.abs(par[:, 3:] - mean_par[3:]).max(axis=0).tolist(),
        "volume_max_change_vs_first": float(np.abs(volume / volume[0] - 1).max()),
        "volume_max_change_vs_mean": float(np.abs(volume / mean_v - 1).max()),
        "block_length_range": (np.ptp(block_par[:, :3], axis=0) / mean_par[:3]).tolist(),
        "block_angle_range_deg": np.ptp(block_par[:, 3:], axis=0).tolist(),
        "block_volume_range": float(np.ptp(block_v) / mean_v),
        "first_cell_A": par[0].tolist(), "last_cell_A": par[-1].tolist(),
    }


def nearest_distances_A(positions_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Distance (A) from each point ``(n, 3)`` to its nearest other point or periodic image, ``(n,)``."""
    shifts = np.array(list(product((-1, 0, 1), repeat=3)), dtype=np.float64)
    out = np.empty(len(positions_A))
    for i, point in enumerate(positions_A):  # one row at a time: memory O(27 n)
        frac = cart_to_frac(positions_A - point, cell_A)
        frac -= np.round(frac)
        dist = np.linalg.norm((frac[:, None, :] + shifts[None, :, :]) @ cell_A, axis=-1)
        dist[dist < 1e-9] = np.inf  # the point itself
        out[i] = dist.min()
    return out


def lindemann(centres_A: np.ndarray, cells_A: np.ndarray) -> dict:
    """Lindemann ratio of points ``(n_frames, n, 3)`` (unwrapped, drift-corrected) in cells ``(n_frames, 3, 3)``.

    Returns
    -------
    dict -- ``rms_displacement_A`` (n,) about each mean position, ``nearest_distance_A`` (n,),
    ``ratio`` = sqrt(mean rms^2) / mean nearest distance.
    """
    frac = np.einsum("fni,fij->fnj", centres_A, np.linalg.inv(cells_A))
    mean_cell = cells_A.mean(axis=0)
    u = (frac - frac.mean(axis=0)) @ mean_cell
    rms = np.sqrt((u**2).sum(axis=-1).mean(axis=0))
    nearest = nearest_distances_A(frac.mean(axis=0) @ mean_cell, mean_cell)
    return {"rms_displacement_A": rms, "nearest_distance_A": nearest,
            "ratio": float(np.sqrt((rms**2).mean()) / nearest.mean())}


def species_diffusion(positions_A: np.ndarray, dt_frame_ps: float) -> dict:
    """Whether particles ``(n_frames, n, 3)`` (unwrapped, drift-corrected) diffuse beyond a plateau.

    Returns
    -------
    dict -- ``msd_half_run_A2`` (mean all-origin MSD at T/2), ``msd_quarter_run_A2``, ``growth_A2``
    (mean of MSD_i(T/2) - MSD_i(T/4)), ``growth_sem_A2`` (over particles; null for one particle),
    ``half_run_ps``, ``n`` and ``diffusing``.
    """
    msd = msd_fft(positions_A)
    half = (positions_A.shape[0] - 1) // 2
    quarter = half // 2
    growth = msd[half] - msd[quarter]
    n = growth.size
    sem = float(growth.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    msd_half = float(msd[half].mean())
    resolved = bool(growth.mean() > GROWTH_Z * sem) if n > 1 else bool(growth.mean() > 0)
    return {"msd_half_run_A2": msd_half, "msd_quarter_run_A2": float(msd[quarter].mean()),
            "growth_A2": float(growth.mean()), "growth_sem_A2": sem, "half_run_ps": half * dt_frame_ps,
            "n": int(n), "diffusing": bool(msd_half > DIFFUSING_MSD_A2 and resolved)}


def framework_check(positions_A, cells_A: np.ndarray, molecules: Molecules, labels: np.ndarray,
                    masses_amu: np.ndarray, mobile: np.ndarray, drift_A: np.ndarray | None,
                    dt_frame_ps: float) -> dict:
    """Is the framework (everything but the mobile ions) a solid during production?

    Parameters
    ----------
    positions_A : (n_frames, n_atoms, 3) unwrapped positions; cells_A : (n_frames, 3, 3).
    molecules : anions of the run; labels, masses_amu : (n_atoms,) per atom.
    mobile : (n_mobile,) rows of the mobile ions (excluded); drift_A : (n_frames, 3) framework drift or None.
    dt_frame_ps : time between frames.

    Returns
    -------
    dict -- ``solid`` (bool), ``reason`` (None when solid, else the failed tests joined by "; "),
    ``lindemann_ratio`` (anion centres, None without anions), ``lindemann_ratio_by_kind``,
    ``species`` ({anion kind or label: :func:`species_diffusion`}), ``cell`` (:func:`cell_change`),
    ``thresholds`` (the named thresholds used), ``n_frames_used``.
    """
    n_frames = positions_A.shape[0]
    frames = np.arange(0, n_frames, int(np.ceil(n_frames / MAX_FRAMES)))
    cells = np.asarray(cells_A, dtype=np.float64)[frames]
    dt = dt_frame_ps * (frames[1] - frames[0]) if frames.size > 1 else dt_frame_ps
    drift = np.zeros((frames.size, 3)) if drift_A is None else np.asarray(drift_A)[frames]
    reasons: list[str] = []
    out: dict = {"lindemann_ratio": None, "lindemann_ratio_by_kind": {}, "species": {}}
    if molecules.members:
        centres = anion_centers(positions_A, cells_A, molecules, masses_amu, frames) - drift[:, None, :]
        lin = lindemann(centres, cells)
        out["lindemann_ratio"] = lin["ratio"]
        for kind, idx in molecules.by_kind().items():
            rms, nearest = lin["rms_displacement_A"][idx], lin["nearest_distance_A"][idx]
            out["lindemann_ratio_by_kind"][kind] = float(np.sqrt((rms**2).mean()) / nearest.mean())
            out["species"][kind] = species_diffusion(centres[:, idx], dt)
        if lin["ratio"] > LINDEMANN_MAX:
            reasons.append(f"anion-centre Lindemann ratio {lin['ratio']:.2f} > {LINDEMANN_MAX}")
    in_anion = np.concatenate(molecules.members) if molecules.members else np.zeros(0, dtype=int)
    loose = np.setdiff1d(np.arange(positions_A.shape[1]), np.concatenate([in_anion, np.asarray(mobile, int)]))
    for label in sorted(set(np.asarray(labels)[loose].tolist())):
        rows = loose[np.asarray(labels)[loose] == label]
        pos = np.asarray(positions_A[frames][:, rows], dtype=np.float64) - drift[:, None, :]
        out["species"][label] = species_diffusion(pos, dt)
    for name, sp in out["species"].items():
        if sp["diffusing"]:
            reasons.append(f"{name} diffuses (MSD {sp['msd_half_run_A2']:.3g} A^2 at {sp['half_run_ps']:.3g} ps "
                           f"> {DIFFUSING_MSD_A2} A^2, still growing)")
    cell = cell_change(cells)
    out["cell"] = cell
    for axis, change in zip("abc", cell["block_length_range"]):
        if change > CELL_LENGTH_MAX_CHANGE:
            reasons.append(f"cell length {axis} changed by {100 * change:.0f} % (range of block means, "
                           f"> {100 * CELL_LENGTH_MAX_CHANGE:.0f} %)")
    for axis, change in zip(("alpha", "beta", "gamma"), cell["block_angle_range_deg"]):
        if change > CELL_ANGLE_MAX_CHANGE_DEG:
            reasons.append(f"cell angle {axis} changed by {change:.1f} deg (range of block means, "
                           f"> {CELL_ANGLE_MAX_CHANGE_DEG:g} deg)")
    if cell["block_volume_range"] > VOLUME_MAX_CHANGE:
        reasons.append(f"volume changed by {100 * cell['block_volume_range']:.0f} % (range of block means, "
                       f"> {100 * VOLUME_MAX_CHANGE:.0f} %)")
    out.update(solid=not reasons, reason="; ".join(reasons) or None, n_frames_used=int(frames.size),
               thresholds={"lindemann_max": LINDEMANN_MAX, "diffusing_msd_A2": DIFFUSING_MSD_A2,
                           "growth_z": GROWTH_Z, "cell_length_max_change": CELL_LENGTH_MAX_CHANGE,
                           "cell_angle_max_change_deg": CELL_ANGLE_MAX_CHANGE_DEG,
                           "volume_max_change": VOLUME_MAX_CHANGE, "cell_blocks": CELL_BLOCKS})
    return out
