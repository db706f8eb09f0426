"""Cells in LAMMPS's restricted triclinic convention.

LAMMPS wants lattice vectors ``a = (lx, 0, 0)``, ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)`` with
``lx, ly, lz > 0`` (a right-handed cell) and tilts ``|xy|, |xz| <= lx/2``, ``|yz| <= ly/2``
(https://docs.lammps.org/Howto_triclinic.html). A general cell is rotated into that frame
(a along x, b in the xy plane), made right-handed (c -> -c describes the same lattice), and its
tilts are reduced by unimodular basis changes (c -> c - n b, c -> c - m a, b -> b - k a), which
leave the lattice, hence the crystal, unchanged. Tilts smaller than :data:`TILT_TOL` times the
longest edge are numerical noise (a freely relaxed orthorhombic cell keeps off-diagonal elements of
~1e-7 A) and are set to zero, so that such a cell gets an orthogonal box (and a deck's ``couple auto``
the ``aniso`` barostat, not ``tri``, under which the cell would shear).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: relative tilt below which a box is orthogonal (1e-6: 6e-5 deg of cell angle)
TILT_TOL = 1e-6


@dataclass(frozen=True)
class LammpsBox:
    """A restricted-triclinic LAMMPS box with origin 0.

    Attributes
    ----------
    lx_A, ly_A, lz_A : box lengths, in A.
    xy_A, xz_A, yz_A : tilt factors, in A.
    """

    lx_A: float
    ly_A: float
    lz_A: float
    xy_A: float = 0.0
    xz_A: float = 0.0
    yz_A: float = 0.0

    @property
    def cell(self) -> np.ndarray:
        """(3, 3) lattice vectors as rows, in A."""
        return np.array([[self.lx_A, 0, 0], [self.xy_A, self.ly_A, 0], [self.xz_A, self.yz_A, self.lz_A]])

    @property
    def is_triclinic(self) -> bool:
        """True if any tilt exceeds :data:`TILT_TOL` times the longest edge."""
        scale = max(self.lx_A, self.ly_A, self.lz_A)
        return any(abs(t) > TILT_TOL * scale for t in (self.xy_A, self.xz_A, self.yz_A))


def _lower_triangular(cell: np.ndarray) -> np.ndarray:
    """Rotate a right-handed cell so a || x and b lies in the xy plane (rows = vectors)."""
    a, b, c = cell
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(b @ b - xy**2)
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(c @ c - xz**2 - yz**2)
    return np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])


def _reduce_tilts(lower: np.ndarray) -> np.ndarray:
    """Bring the tilts into LAMMPS's limits by lattice-preserving basis changes."""
    a, b, c = (row.copy() for row in lower)
    c -= np.round(c[1] / b[1]) * b
    c -= np.round(c[0] / a[0]) * a
    b -= np.round(b[0] / a[0]) * a
    return np.array([a, b, c])


def to_lammps_frame(cell: np.ndarray, positions_A: np.ndarray) -> tuple[LammpsBox, np.ndarray]:
    """Express a cell and positions in LAMMPS's restricted triclinic frame.

    Parameters
    ----------
    cell : (3, 3) lattice vectors as rows, in A (any orientation or handedness).
    positions_A : (n_atoms, 3) Cartesian positions in the frame of ``cell``, in A; they may lie
        outside the cell (unwrapped).

    Returns
    -------
    (LammpsBox, (n_atoms, 3) array)
        The box and the positions rotated into its frame (same fractional coordinates with
        respect to the lattice, not wrapped), in A.
    """
    cell = np.asarray(cell, dtype=float)
    frac = np.asarray(positions_A, dtype=float) @ np.linalg.inv(cell)
    if np.linalg.det(cell) < 0:
        cell = cell * np.array([[1], [1], [-1]])
        frac = frac * np.array([1, 1, -1])
    lower = _lower_triangular(cell)
    tilts = (1, 0), (2, 0), (2, 1)
    scale = np.abs(np.diag(lower)).max()
    for i, j in tilts:
        if abs(lower[i, j]) <= TILT_TOL * scale:
            lower[i, j] = 0.0  # numerical noise: the same fractional coordinates in the orthogonal cell
    reduced = _reduce_tilts(lower)
    positions_lammps_A = frac @ lower
    box = LammpsBox(reduced[0, 0], reduced[1, 1], reduced[2, 2], reduced[1, 0], reduced[2, 0], reduced[2, 1])
    return box, positions_lammps_A


def wrap_with_images(box: LammpsBox, positions_A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wrap positions into the box and return the image flags that undo the wrap.

    Returns
    -------
    ((n_atoms, 3) array, (n_atoms, 3) int array)
        Wrapped positions in A and image flags, with ``unwrapped = wrapped + images @ box.cell``.
    """
    frac = positions_A @ np.linalg.inv(box.cell)
    images = np.floor(frac).astype(int)
    frac_wrapped = frac - images
    frac_wrapped[frac_wrapped >= 1.0] -= 1.0  # rounding at the upper face
    return frac_wrapped @ box.cell, images
