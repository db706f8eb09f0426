"""Cell geometry helpers: LAMMPS box bounds to cell vectors, fractional coordinates, minimum image.

Cells are ``(3, 3)`` arrays with the lattice vectors a, b, c as rows (LAMMPS convention:
``a = (lx, 0, 0)``, ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)``).
"""

from __future__ import annotations

import numpy as np


def box_to_cell(bounds: np.ndarray, triclinic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Convert the three ``BOX BOUNDS`` lines of a dump to cell vectors and origin.

    Parameters
    ----------
    bounds : (3, 2) or (3, 3) -- ``lo hi`` (orthogonal) or ``lo_bound hi_bound tilt`` (triclinic),
        tilts in the order xy, xz, yz.
    triclinic : whether the header said ``xy xz yz``.

    Returns
    -------
    cell_A : (3, 3) -- rows a, b, c in A.
    origin_A : (3,) -- (xlo, ylo, zlo) in A.

    Notes
    -----
    Bounding-box to box conversion from the LAMMPS manual, "Triclinic (non-orthogonal)
    simulation boxes" (Howto_triclinic).
    """
    bounds = np.asarray(bounds, dtype=np.float64)
    if not triclinic:
        lo, hi = bounds[:, 0], bounds[:, 1]
        return np.diag(hi - lo), lo.copy()
    xy, xz, yz = bounds[0, 2], bounds[1, 2], bounds[2, 2]
    xlo = bounds[0, 0] - min(0.0, xy, xz, xy + xz)
    xhi = bounds[0, 1] - max(0.0, xy, xz, xy + xz)
    ylo = bounds[1, 0] - min(0.0, yz)
    yhi = bounds[1, 1] - max(0.0, yz)
    zlo, zhi = bounds[2, 0], bounds[2, 1]
    cell = np.array([[xhi - xlo, 0.0, 0.0], [xy, yhi - ylo, 0.0], [xz, yz, zhi - zlo]])
    return cell, np.array([xlo, ylo, zlo])


def cart_to_frac(positions_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Fractional coordinates ``(..., 3)`` of Cartesian ``positions_A`` (``(..., 3)``, A)."""
    return np.asarray(positions_A, dtype=np.float64) @ np.linalg.inv(cell_A)


def frac_to_cart(frac: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Cartesian positions in A ``(..., 3)`` of fractional coordinates ``(..., 3)``."""
    return np.asarray(frac, dtype=np.float64) @ cell_A


def minimum_image(vectors_A: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Shortest periodic images of difference vectors ``(..., 3)`` in A (rounding in fractional space).

    Exact for orthogonal cells; for triclinic cells exact when the vector is shorter than half the
    smallest perpendicular cell width (always true below :func:`max_cutoff_A`).
    """
    frac = cart_to_frac(vectors_A, cell_A)
    frac -= np.round(frac)
    return frac @ cell_A


def max_cutoff_A(cell_A: np.ndarray) -> float:
    """Half the smallest perpendicular width of the cell (A): the largest safe minimum-image radius."""
    volume = abs(np.linalg.det(cell_A))
    a, b, c = cell_A
    widths = [volume / np.linalg.norm(np.cross(b, c)), volume / np.linalg.norm(np.cross(c, a)),
              volume / np.linalg.norm(np.cross(a, b))]
    return 0.5 * min(widths)
