"""Anion rotation speed per anion kind (SCIENCE.md definition).

For an anion with atoms i, centre of mass R_com and radius R, over one dump interval tau::

    omega = < | (r_i(t+tau) - r_i(t)) - (R_com(t+tau) - R_com(t)) | >_i / (R tau)

i.e. the mean arc length swept by its atoms relative to the centre, per radius and time (small-angle
rotation rate, rad/ps). It is averaged over the anions of a kind and over time. ``R`` defaults to
the mean distance of the anion's atoms from its centre of mass (averaged over the run). The measure
saturates when tau approaches a rotation period; dump often enough (tau << 2 pi / omega).
"""

from __future__ import annotations

import logging

import numpy as np

from pydriver.analysis.molecules import Molecules
from pydriver.structures.anions import whole_molecule_shifts

log = logging.getLogger(__name__)

FRAME_CHUNK = 256


def _group_members(molecules: Molecules, kind: str) -> list[np.ndarray]:
    """Member arrays of a kind, stacked by molecule size: list of (n_mol, n_per)."""
    sizes: dict[int, list] = {}
    for idx, k in enumerate(molecules.kinds):
        if k == kind:
            sizes.setdefault(len(molecules.members[idx]), []).append(molecules.members[idx])
    return [np.array(v) for v in sizes.values()]


def _rates_for_group(positions_A, cells_A, members, masses_amu, dt_frame_ps, radius_A, bond_cutoff_A):
    """Per-anion mean rotation rate (rad/ps) and radius (A) for one same-size group."""
    shifts = np.stack(whole_molecule_shifts(np.asarray(positions_A[0], dtype=np.float64), cells_A[0],
                                            list(members), bond_cutoff_A))
    m = masses_amu[members]
    weights = m / m.sum(axis=1, keepdims=True)
    flat = members.ravel()
    n_frames = positions_A.shape[0]
    sum_rate = np.zeros(members.shape[0])
    sum_radius = np.zeros(members.shape[0])
    prev = None
    for start in range(0, n_frames, FRAME_CHUNK):
        stop = min(n_frames, start + FRAME_CHUNK)
        chunk = np.asarray(positions_A[start:stop][:, flat], dtype=np.float64).reshape(stop - start, *members.shape, 3)
        chunk = chunk + np.einsum("mpk,fkl->fmpl", shifts, cells_A[start:stop])
        com = (chunk * weights[None, :, :, None]).sum(axis=2)
        rel = chunk - com[:, :, None, :]
        sum_radius += np.linalg.norm(rel, axis=-1).mean(axis=2).sum(axis=0)
        if prev is not None:
            rel = np.concatenate([prev[None], rel])
        sum_rate += np.linalg.norm(np.diff(rel, axis=0), axis=-1).mean(axis=2).sum(axis=0)
        prev = rel[-1]
    mean_radius = sum_radius / n_frames
    radius = mean_radius if radius_A is None else np.full_like(mean_radius, radius_A)
    per_anion_rate = sum_rate / (n_frames - 1) / radius / dt_frame_ps
    return per_anion_rate, mean_radius


def anion_rotation(positions_A: np.ndarray, cells_A: np.ndarray, molecules: Molecules, masses_amu: np.ndarray,
                   dt_frame_ps: float, radius_A: dict[str, float] | None = None) -> dict:
    """Rotation speed per anion kind.

    Parameters
    ----------
    positions_A : (n_frames, n_atoms, 3) unwrapped positions.
    cells_A : (n_frames, 3, 3) cells.
    molecules : anions (:mod:`pydriver.analysis.molecules`).
    masses_amu : (n_atoms,) atomic masses for the centre of mass.
    dt_frame_ps : time between frames (tau).
    radius_A : optional fixed radius per kind; default mean atom distance from the centre.

    Returns
    -------
    dict kind -> {``rotation_rate_rad_ps``, ``rotation_rate_std_rad_ps`` (standard error over
    anions), ``radius_A``, ``n_anions``, ``tau_ps``}.
    """
    if positions_A.shape[0] < 2:
        raise ValueError(f"rotation needs >= 2 frames, got {positions_A.shape[0]}")
    out = {}
    for kind in sorted(set(molecules.kinds)):
        rates, radii = [], []
        for members in _group_members(molecules, kind):
            fixed = None if not radius_A or kind not in radius_A else float(radius_A[kind])
            r, rad = _rates_for_group(positions_A, cells_A, members, masses_amu, dt_frame_ps, fixed,
                                      molecules.bond_cutoff_A)
            rates.append(r)
            radii.append(rad)
        rates, radii = np.concatenate(rates), np.concatenate(radii)
        std = float(rates.std(ddof=1) / np.sqrt(rates.size)) if rates.size > 1 else None
        out[kind] = {"rotation_rate_rad_ps": float(rates.mean()), "rotation_rate_std_rad_ps": std,
                     "radius_A": float(radii.mean()) if not radius_A or kind not in radius_A
                     else float(radius_A[kind]),
                     "n_anions": int(rates.size), "tau_ps": float(dt_frame_ps)}
        log.info("rotation %s: %.3f rad/ps over %d anions", kind, rates.mean(), rates.size)
    return out
