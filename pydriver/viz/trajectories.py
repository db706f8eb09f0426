"""Trajectory lines: chosen Na ions (hops) and the H atoms of one chosen anion (rotation).

Dumps hold unwrapped ``xu`` positions (our decks), wrapped ``x`` positions with image flags
``ix iy iz``, or wrapped positions alone. Everything here works on unwrapped paths:

* Choosing which ions moved (:func:`max_excursions_A`) reads the dump with
  :func:`pydriver.analysis.dump_reader.read_lammps_dump`, which unwraps from ``xu``, from the image
  flags, or by minimum-image steps between frames. An ion that vibrates across a cell face
  therefore moves a fraction of an angstrom, not a cell length.
* The lines (:func:`add_lines`) come from OVITO's ``GenerateTrajectoryLinesModifier`` with
  ``unwrap_trajectories=True`` (OVITO unwraps the sampled positions from the image flags, or by
  detecting jumps of more than half a cell between frames; unwrapped ``xu`` paths have none), so a
  line is one continuous unwrapped path. For display the path is wrapped back into the cell
  piecewise (``TrajectoryVis.wrapped_lines``): OVITO cuts each segment where it crosses a cell face
  and continues it from the opposite face, so no drawn segment spans the cell. The H lines of a
  rotating anion instead follow the anion made whole and are drawn around it (:func:`add_lines`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ovito.modifiers import ClearSelectionModifier, ComputePropertyModifier, GenerateTrajectoryLinesModifier
from ovito.pipeline import Pipeline

from pydriver.analysis.dump_reader import read_lammps_dump
from pydriver.viz import style
from pydriver.viz.mobile import select_ids

#: transparency of the atoms whose lines are drawn (0 opaque, 1 invisible)
TRACED_TRANSPARENCY = 0.6


def add_lines(pipeline: Pipeline, ids, color, frames: tuple[int, int] | None = None,
              fold_into_cell: bool = True) -> GenerateTrajectoryLinesModifier:
    """Append trajectory lines of the atoms with ``ids`` over ``frames`` (first, last; default all).

    The lines are unwrapped paths (``Position`` of the ``trajectories`` lines, A). With
    ``fold_into_cell`` they are drawn wrapped into the cell piecewise (module docstring; for ions,
    appended before the atoms are wrapped). Without it they are drawn as they are: the rotation
    lines of one anion, appended after the anion was made whole in every frame
    (:func:`pydriver.viz.anions.add_clusters`), so they surround the anion drawn whole, even across a
    cell face, instead of being folded to the other face.
    """
    select_ids(pipeline, ids)
    mod = GenerateTrajectoryLinesModifier(only_selected=True, unwrap_trajectories=True)
    if frames is not None:
        mod.frame_interval = (int(frames[0]), int(frames[1]))
    mod.vis.color = color
    mod.vis.width = 2 * style.LINE_WIDTH_A
    mod.vis.wrapped_lines = fold_into_cell
    pipeline.modifiers.append(mod)
    # the traced atoms see-through, so their own spheres do not hide the start of their lines
    pipeline.modifiers.append(ComputePropertyModifier(output_property="Transparency", only_selected=True,
                                                      expressions=[str(TRACED_TRANSPARENCY)]))
    pipeline.modifiers.append(ClearSelectionModifier())
    return mod


def max_excursions_A(dump: str | Path, ids, frames: tuple[int, int] | None = None) -> np.ndarray:
    """Largest distance (A) each atom gets from where it starts, along its unwrapped path.

    Parameters
    ----------
    dump : the LAMMPS text dump (``xu``, ``x`` + ``ix iy iz``, or wrapped ``x`` alone; see module docstring).
    ids : (n,) atom ids.
    frames : (first, last) frames, inclusive, counted in the dump (default all).

    Returns
    -------
    (n,) float64: ``max_t |r(t) - r(first)|`` over the frames, in the order of ``ids``.

    Raises
    ------
    ValueError
        If an id is not in the dump, or the dump cannot be read (:func:`read_lammps_dump`).
    """
    traj = read_lammps_dump(dump)
    ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
    rows = np.searchsorted(traj.ids, ids)
    if np.any(rows >= traj.ids.size) or np.any(traj.ids[np.minimum(rows, traj.ids.size - 1)] != ids):
        raise ValueError(f"{Path(dump).name}: atom ids {sorted(set(ids.tolist()) - set(traj.ids.tolist()))} "
                         "not in the dump; check --ions")
    first, last = (0, traj.n_frames - 1) if frames is None else (int(frames[0]), min(int(frames[1]), traj.n_frames - 1))
    path_A = np.asarray(traj.positions_A[first:last + 1, rows], dtype=np.float64)  # (frames, n, 3)
    return np.linalg.norm(path_A - path_A[:1], axis=2).max(axis=0)


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
