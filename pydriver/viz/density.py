"""The mobile-ion probability density as an isosurface (Figure 3A-like), and its pieces.

The analysis writes the density (ions per A^3) as ``<element>_density.CHGCAR`` (VASP: values x
cell volume, which OVITO divides back out, so the grid property is in ions per A^3) and as a cube
file (OVITO converts its Bohr^-3 to A^-3 as well). Its voxels are bin averages: value ``i`` covers
fractional ``[i/n, (i+1)/n)`` (pydriver/analysis/density.py), while OVITO (like VASP) places value
``i`` at the point ``i/n``. :func:`density_pipeline` therefore shifts the grid by half a voxel so the
isosurface sits where the ions were.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ovito.io import import_file
from ovito.modifiers import AffineTransformationModifier, CreateIsosurfaceModifier
from ovito.pipeline import Pipeline

from pydriver.viz import style

log = logging.getLogger(__name__)


@dataclass
class GridInfo:
    """The density grid as OVITO reads it: ``identifier`` and ``prop`` name it, values in ions per A^3."""

    identifier: str
    prop: str
    shape: tuple[int, int, int]
    min_per_A3: float
    max_per_A3: float
    mean_per_A3: float


def grid_info(pipeline: Pipeline) -> GridInfo:
    """First voxel grid of a pipeline's source and its value range.

    Raises
    ------
    ValueError
        If the file holds no voxel grid.
    """
    data = pipeline.source.data
    if not data.grids:
        raise ValueError(f"{pipeline.source.source_path}: no volumetric grid")
    identifier, grid = next(iter(data.grids.items()))
    prop = next(iter(grid.keys()))
    values = np.asarray(grid[prop])
    return GridInfo(identifier, prop, tuple(grid.shape), float(values.min()), float(values.max()),
                    float(values.mean()))


def default_threshold_per_A3(info: GridInfo) -> float:
    """Default isolevel: 5x the mean density (the sites stand out; about as in Figure 3A)."""
    return min(5.0 * info.mean_per_A3, 0.5 * (info.min_per_A3 + info.max_per_A3))


def check_threshold(threshold_per_A3: float, info: GridInfo) -> None:
    """Raise ``ValueError`` unless ``min < threshold < max`` of the grid (else no surface exists)."""
    if not info.min_per_A3 < threshold_per_A3 < info.max_per_A3:
        raise ValueError(f"--density-threshold-per-A3 {threshold_per_A3:g} outside the density range "
                         f"({info.min_per_A3:.3g}, {info.max_per_A3:.3g}) ions/A^3 of {info.identifier}")


def density_pipeline(path: str | Path, threshold_per_A3: float | None = None) -> tuple[Pipeline, GridInfo, float]:
    """Pipeline of the density file with the isosurface at ``threshold_per_A3`` (default: 5x the mean).

    The file's own atoms and cell are hidden (the structure pipeline draws them).

    Returns
    -------
    pipeline, grid info, the threshold used (ions per A^3).

    Raises
    ------
    ValueError
        If the threshold lies outside the grid's value range or the file has no grid.
    """
    pipeline = import_file(str(path))
    info = grid_info(pipeline)
    threshold = default_threshold_per_A3(info) if threshold_per_A3 is None else float(threshold_per_A3)
    check_threshold(threshold, info)
    _shift_half_voxel(pipeline, info)
    data = pipeline.source.data
    if data.particles is not None:
        data.particles_.vis.enabled = False
    if data.cell is not None:
        data.cell_.vis.enabled = False
    mod = CreateIsosurfaceModifier(operate_on=f"voxels:{info.identifier}", property=info.prop,
                                   isolevel=threshold, identify_regions=True)
    mod.vis.surface_color = style.ISOSURFACE_COLOR
    mod.vis.surface_transparency = style.ISOSURFACE_TRANSPARENCY
    mod.vis.show_cap = True
    mod.vis.cap_color = style.ISOSURFACE_COLOR
    pipeline.modifiers.append(mod)
    log.info("density %s: %s voxels, %.3g..%.3g ions/A^3, isolevel %.3g", Path(path).name, info.shape,
             info.min_per_A3, info.max_per_A3, threshold)
    return pipeline, info, threshold


def _shift_half_voxel(pipeline: Pipeline, info: GridInfo) -> None:
    """Translate the grid (only) by half a voxel along each cell vector (a built-in modifier)."""
    domain = np.asarray(pipeline.source.data.grids[info.identifier].domain[...])
    shift = 0.5 * sum(domain[:, k] / n for k, n in enumerate(info.shape))
    matrix = np.hstack([np.eye(3), shift[:, None]])
    pipeline.modifiers.append(AffineTransformationModifier(transformation=matrix, operate_on={"voxels"}))
