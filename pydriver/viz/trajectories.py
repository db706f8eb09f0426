"""Trajectory lines: chosen Na ions (hops) and the H atoms of one chosen anion (rotation).

OVITO's ``GenerateTrajectoryLinesModifier`` samples the selected atoms over the frames; it sits
before the wrapping of atoms into the cell, so it follows the dump's unwrapped ``xu`` coordinates,
and its lines are wrapped into the cell for display.
"""

from __future__ import annotations

import numpy as np
from ovito.modifiers import ClearSelectionModifier, ComputePropertyModifier, GenerateTrajectoryLinesModifier
from ovito.pipeline import Pipeline

from pydriver.viz import style
from pydriver.viz.mobile import select_ids

#: transparency of the atoms whose lines are drawn (0 opaque, 1 invisible)
TRACED_TRANSPARENCY = 0.6


def add_lines(pipeline: Pipeline, ids, color, frames: tuple[int, int] | None = None) -> GenerateTrajectoryLinesModifier:
    """Append trajectory lines of the atoms with ``ids`` over ``frames`` (first, last; default all)."""
    select_ids(pipeline, ids)
    mod = GenerateTrajectoryLinesModifier(only_selected=True, unwrap_trajectories=False)
    if frames is not None:
        mod.frame_interval = (int(frames[0]), int(frames[1]))
    mod.vis.color = color
    mod.vis.width = 2 * style.LINE_WIDTH_A
    mod.vis.wrapped_lines = True
    pipeline.modifiers.append(mod)
    # the traced atoms see-through, so their own spheres do not hide the start of their lines
    pipeline.modifiers.append(ComputePropertyModifier(output_property="Transparency", only_selected=True,
                                                      expressions=[str(TRACED_TRANSPARENCY)]))
    pipeline.modifiers.append(ClearSelectionModifier())
    return mod


def displacements_A2(pipeline: Pipeline, type_numbers: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Ids and squared displacement (A^2) from the first to the last frame of atoms of the given types.

    Reads the source (unwrapped ``xu`` positions) before any modifier.
    """
    first, last = pipeline.source.compute(0), pipeline.source.compute(pipeline.source.num_frames - 1)
    out = []
    for data in (first, last):
        ids = np.asarray(data.particles.identifiers)
        order = np.argsort(ids)
        mask = np.isin(np.asarray(data.particles.particle_types)[order], type_numbers)
        out.append((ids[order][mask], np.asarray(data.particles.positions)[order][mask]))
    (ids, r0), (_, r1) = out
    return ids, ((r1 - r0) ** 2).sum(axis=1)


def anion_h_ids(pipeline: Pipeline, h_type_numbers: list[int], mol_id: int | None) -> tuple[int, np.ndarray]:
    """Molecule id and H atom ids of one anion (``mol_id``; default: the H-bearing anion with the lowest id).

    Raises
    ------
    ValueError
        If the dump has no molecule ids or the anion has no H of the given types.
    """
    data = pipeline.source.compute(0)
    if "Molecule Identifier" not in data.particles:
        raise ValueError("the dump has no mol column: anion rotation needs molecule ids")
    mol = np.asarray(data.particles["Molecule Identifier"])
    is_h = np.isin(np.asarray(data.particles.particle_types), h_type_numbers)
    candidates = np.unique(mol[is_h & (mol > 0)])
    if mol_id is None:
        if candidates.size == 0:
            raise ValueError("no anion H atoms in the dump")
        mol_id = int(candidates[0])
    if mol_id not in candidates:
        raise ValueError(f"--anion {mol_id}: no anion with that molecule id; "
                         f"have {candidates.min()}..{candidates.max()}")
    return mol_id, np.sort(np.asarray(data.particles.identifiers)[is_h & (mol == mol_id)])
