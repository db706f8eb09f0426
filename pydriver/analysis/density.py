"""Probability density of the mobile ion on a grid, written as VASP CHGCAR and Gaussian cube.

Positions are wrapped into the cell of each frame (fractional coordinates), histogrammed on an
``n_a x n_b x n_c`` grid and normalised to a number density (ions per A^3; its integral over the
cell is the number of ions). Both files open in VESTA and OVITO (isosurfaces of the diffusion
network).

* CHGCAR (VASP manual, "CHGCAR"): POSCAR header, then the grid values times the cell volume,
  x fastest, 5 per line.
* Cube (Gaussian cube specification, gaussian.com/cubegen): Bohr units, z fastest, 6 per line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pydriver import units
from pydriver.analysis.cell import cart_to_frac

log = logging.getLogger(__name__)

BOHR_A = units.BOHR_A  # CODATA 2018 (cube files are in bohr)
DEFAULT_GRID_SPACING_A = 0.2
ATOMIC_NUMBERS = {"H": 1, "B": 5, "C": 6, "N": 7, "O": 8, "F": 9, "Na": 11, "Cl": 17, "Li": 3, "K": 19}


def grid_shape(cell_A: np.ndarray, spacing_A: float = DEFAULT_GRID_SPACING_A) -> tuple[int, int, int]:
    """Grid points along a, b, c for a target spacing (at least 2 each)."""
    if spacing_A <= 0:
        raise ValueError(f"spacing_A={spacing_A} must be > 0")
    return tuple(max(2, int(np.ceil(np.linalg.norm(v) / spacing_A))) for v in cell_A)


def probability_density(positions_A, cells_A, ion_index: np.ndarray, shape: tuple[int, int, int],
                        frames: np.ndarray | None = None) -> np.ndarray:
    """Number density of the selected ions on a fractional grid, ions per A^3.

    Parameters
    ----------
    positions_A : (n_frames, n_atoms, 3); cells_A : (n_frames, 3, 3).
    ion_index : (n_ions,) rows of the ions.
    shape : grid points along a, b, c.
    frames : frame indices to use (default all).

    Returns
    -------
    density_per_A3 : (n_a, n_b, n_c) -- averaged over frames, in the mean cell.
    """
    frames = np.arange(positions_A.shape[0]) if frames is None else frames
    dims = np.asarray(shape)
    counts = np.zeros(int(np.prod(dims)))
    flat = []
    for i, f in enumerate(frames):
        frac = cart_to_frac(np.asarray(positions_A[f][ion_index], dtype=np.float64), cells_A[f]) % 1.0
        cell_idx = np.minimum((frac * dims).astype(np.int64), dims - 1)
        flat.append(np.ravel_multi_index(cell_idx.T, shape))
        if len(flat) == 500 or i == len(frames) - 1:
            counts += np.bincount(np.concatenate(flat), minlength=counts.size)
            flat = []
    counts = counts.reshape(shape)
    volume = abs(np.linalg.det(cells_A[frames].mean(axis=0)))
    voxel = volume / counts.size
    return counts / (len(frames) * voxel)


def write_chgcar(path, density_per_A3, cell_A, symbols, frac_positions, comment: str = "Na density") -> Path:
    """Write a VASP CHGCAR-style file (values = density x cell volume, x fastest).

    Parameters
    ----------
    path : output file.
    density_per_A3 : (n_a, n_b, n_c) grid.
    cell_A : (3, 3) cell rows.
    symbols : (n_atoms,) element symbols of the reference structure.
    frac_positions : (n_atoms, 3) fractional coordinates.
    """
    path = Path(path)
    symbols = np.asarray(symbols)
    order = np.argsort(symbols, kind="stable")
    species = list(dict.fromkeys(symbols[order]))
    lines = [comment, "1.0"] + [" ".join(f"{v:.10f}" for v in row) for row in cell_A]
    lines += [" ".join(species), " ".join(str(int((symbols == s).sum())) for s in species), "Direct"]
    lines += [" ".join(f"{v:.8f}" for v in frac_positions[i] % 1.0) for i in order]
    lines += ["", " ".join(str(n) for n in density_per_A3.shape)]
    values = (density_per_A3 * abs(np.linalg.det(cell_A))).ravel(order="F")
    path.write_text("\n".join(lines) + "\n" + _format_rows(values, 5, "%.6E "))
    return path


def write_cube(path, density_per_A3, cell_A, symbols, cart_positions_A, comment: str = "Na density") -> Path:
    """Write a Gaussian cube file (Bohr units; values in ions per Bohr^3, z fastest)."""
    path = Path(path)
    shape = density_per_A3.shape
    lines = [comment, "probability density of mobile ions (per bohr^3)"]
    lines.append(f"{len(symbols):5d} {0.0:12.6f} {0.0:12.6f} {0.0:12.6f}")
    for n, vec in zip(shape, cell_A):
        step = vec / n / BOHR_A
        lines.append(f"{n:5d} {step[0]:12.6f} {step[1]:12.6f} {step[2]:12.6f}")
    for sym, pos in zip(symbols, cart_positions_A):
        z = ATOMIC_NUMBERS.get(str(sym), 0)
        p = pos / BOHR_A
        lines.append(f"{z:5d} {float(z):12.6f} {p[0]:12.6f} {p[1]:12.6f} {p[2]:12.6f}")
    values = (density_per_A3 * BOHR_A**3).reshape(-1, shape[2])
    text = "".join(_format_rows(row, 6, "%13.5E") for row in values) if shape[2] % 6 else \
        _format_rows(values.ravel(), 6, "%13.5E")
    path.write_text("\n".join(lines) + "\n" + text)
    return path


def _format_rows(values: np.ndarray, per_line: int, fmt: str) -> str:
    """``values`` formatted ``per_line`` to a line (last line shorter), one C-level format call."""
    values = np.asarray(values, dtype=np.float64).ravel()
    n_full = values.size // per_line * per_line
    text = ((fmt * per_line).rstrip() + "\n") * (n_full // per_line) % tuple(values[:n_full])
    if n_full < values.size:
        text += (fmt * (values.size - n_full)).rstrip() % tuple(values[n_full:]) + "\n"
    return text
