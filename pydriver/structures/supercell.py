"""Supercells whose perpendicular widths all exceed a minimum (10 A by default).

"Edge" here means the *perpendicular width* of the cell along each lattice direction,
``w_i = V / |a_j x a_k|``: the distance between the two faces spanned by the other two
lattice vectors. For orthogonal cells it equals the edge length; for triclinic cells it is
smaller than the edge, and ``w_i > 2 r`` for all i is the condition for a sphere of radius
``r`` to fit in the cell without touching its own periodic images (minimum-image safe).
"""

from __future__ import annotations

import logging

import numpy as np
from ase import Atoms
from ase.build import make_supercell

log = logging.getLogger(__name__)

DEFAULT_MIN_WIDTH_A = 10.0


def perpendicular_widths_A(cell: np.ndarray) -> np.ndarray:
    """Perpendicular widths of a cell.

    Parameters
    ----------
    cell : (3, 3) lattice vectors as rows, in A.

    Returns
    -------
    (3,) array
        ``V / |a_j x a_k|`` for i = 0, 1, 2, in A.
    """
    cell = np.asarray(cell, dtype=float)
    volume_A3 = abs(np.linalg.det(cell))
    areas_A2 = np.array([np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)])
    return volume_A3 / areas_A2


def minimal_replication(cell: np.ndarray, min_width_A: float = DEFAULT_MIN_WIDTH_A) -> tuple[int, int, int]:
    """Smallest diagonal replication (n1, n2, n3) with every perpendicular width > ``min_width_A``.

    Parameters
    ----------
    cell : (3, 3) lattice vectors as rows, in A.
    min_width_A : strict lower bound on each perpendicular width of the supercell, in A.

    Returns
    -------
    tuple of 3 int
        Replication counts along a, b, c.
    """
    if not min_width_A > 0:
        raise ValueError(f"min_width_A must be > 0, got {min_width_A}")
    widths_A = perpendicular_widths_A(cell)
    counts = np.floor(min_width_A / widths_A).astype(int) + 1
    return tuple(int(n) for n in counts)


def build_supercell(
    atoms: Atoms,
    replication: tuple[int, int, int] | None = None,
    min_width_A: float = DEFAULT_MIN_WIDTH_A,
) -> tuple[Atoms, tuple[int, int, int]]:
    """Replicate ``atoms`` diagonally.

    Parameters
    ----------
    atoms : the unit cell.
    replication : (n1, n2, n3) given by the user; ``None`` picks :func:`minimal_replication`.
    min_width_A : minimum perpendicular width used when ``replication`` is ``None``, in A.

    Returns
    -------
    (ase.Atoms, tuple)
        The supercell (atoms ordered cell by cell, as :func:`ase.build.make_supercell`) and
        the replication used.
    """
    if replication is None:
        replication = minimal_replication(atoms.cell.array, min_width_A)
    replication = tuple(int(n) for n in replication)
    if len(replication) != 3 or min(replication) < 1:
        raise ValueError(f"replication must be three integers >= 1, got {replication}")
    supercell = make_supercell(atoms, np.diag(replication), order="cell-major")
    widths_A = perpendicular_widths_A(supercell.cell.array)
    log.info("supercell %s: %d atoms, widths %s A", "x".join(map(str, replication)), len(supercell),
             np.array2string(widths_A, precision=2))
    return supercell, replication
