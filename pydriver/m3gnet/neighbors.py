"""Periodic neighbour lists for the Python side (ASE calculator, golden-data tools)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list


def edge_list(atoms: Atoms, cutoff_A: float) -> tuple[np.ndarray, np.ndarray]:
    """Directed bonds of ``atoms`` within ``cutoff_A`` (all periodic images, no self bond).

    Returns
    -------
    edge_index : (2, E) int64, rows ``src``, ``dst``; sorted by ``src``.
    edge_vec_A : (E, 3) float64, ``r_dst + image shift - r_src``.
    """
    src, dst, vec = neighbor_list("ijD", atoms, cutoff_A, self_interaction=False)
    order = np.argsort(src, kind="stable")
    return np.stack([src[order], dst[order]]).astype(np.int64), vec[order].astype(np.float64)
