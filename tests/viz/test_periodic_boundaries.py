"""Pictures of a run whose ions and anions sit at the cell faces (tests/viz/conftest.py, ``write_boundary_run``).

The dump holds wrapped ``x`` positions (the hard case), image flags, or unwrapped ``xu``: hoppers and
hop lines are chosen and drawn from unwrapped paths, and anions are drawn whole.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pydriver.viz import trajectories
from pydriver.viz.run_files import locate
from pydriver.viz.scene import SceneOptions, build_scene

from .conftest import (BOUNDARY_HOPPERS, BOUNDARY_VIBRATORS, EDGE_A, HOP_A, N_FRAMES, write_boundary_run)

COLUMNS = ("wrapped", "image", "xu")
#: a hop line's step between two frames: 0.6 A of hop plus noise; a jump across the cell would be ~14 A
MAX_LINE_STEP_A = 1.0


@pytest.fixture(scope="module")
def boundary_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("boundary")
    return {columns: write_boundary_run(folder / columns, columns) for columns in COLUMNS}


@pytest.mark.parametrize("columns", COLUMNS)
def test_hoppers_are_picked_and_boundary_vibrators_are_not(boundary_runs, columns):
    run = boundary_runs[columns]
    excursion_A = trajectories.max_excursions_A(run / "dump.lammpstrj", [1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(excursion_A[:3], HOP_A, atol=0.15)
    assert excursion_A[3:].max() < 0.6  # 0.35 A swing + noise, not a cell length
    scene = build_scene(locate(run), SceneOptions(what="hops"))
    assert sorted(scene.notes["ion_ids"]) == list(BOUNDARY_HOPPERS)
    assert not set(scene.notes["ion_ids"]) & set(BOUNDARY_VIBRATORS)


@pytest.mark.parametrize("columns", COLUMNS)
def test_hop_lines_are_continuous_across_the_faces(boundary_runs, columns):
    scene = build_scene(locate(boundary_runs[columns]), SceneOptions(what="hops"))
    mod = next(m for m in scene.structure.modifiers if isinstance(m, trajectories.GenerateTrajectoryLinesModifier))
    assert mod.unwrap_trajectories and mod.vis.wrapped_lines  # drawn folded into the cell piecewise
    lines = scene.structure.compute(0).lines["trajectories"]
    assert lines.count == len(BOUNDARY_HOPPERS) * N_FRAMES
    section, positions = np.asarray(lines["Section"]), np.asarray(lines["Position"])
    for s in np.unique(section):
        path = positions[section == s]
        assert np.linalg.norm(np.diff(path, axis=0), axis=1).max() < MAX_LINE_STEP_A
        assert np.linalg.norm(path[-1] - path[0]) == pytest.approx(HOP_A, abs=0.3)


def _red_pixels(path) -> int:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255.0
    return int(np.sum((rgb[..., 0] > 0.5) & (rgb[..., 1] < 0.35 * rgb[..., 0]) & (rgb[..., 2] < 0.35 * rgb[..., 0])))


def test_a_hop_across_a_face_is_drawn_no_longer_than_one_inside(boundary_runs, tmp_path):
    """Na 1 hops 6 A across x = L, Na 3 hops 6 A parallel to it inside the cell: the same length of
    red line (a segment across the cell would add ~8 A)."""
    from pydriver.viz.render import render_image

    run = boundary_runs["wrapped"]
    counts = {}
    for ion in (1, 3):
        scene = build_scene(locate(run), SceneOptions(what="hops", ion_ids=[ion]))
        counts[ion] = _red_pixels(render_image(scene, tmp_path / f"hop{ion}.png", (300, 240), frame=N_FRAMES - 1))
    assert counts[3] > 50
    assert counts[1] == pytest.approx(counts[3], rel=0.3)


@pytest.mark.parametrize("columns", ("wrapped", "xu"))
def test_anions_across_the_faces_are_whole(boundary_runs, columns):
    scene = build_scene(locate(boundary_runs[columns]), SceneOptions(what="anions"))
    data = scene.structure.compute(N_FRAMES - 1)
    positions = np.asarray(data.particles.positions)
    bonds = np.asarray(data.particles.bonds.topology)
    assert len(bonds) == 4 + 30 + 12  # B-H of BH4, B-B and B-H of the cage
    assert not np.asarray(data.particles.bonds.pbc_vectors).any()  # no bond drawn through a face
    lengths_A = np.linalg.norm(positions[bonds[:, 0]] - positions[bonds[:, 1]], axis=1)
    assert lengths_A.max() < 1.9
    # the polyhedra are built in a grown cell that holds every whole anion, so none is folded at a face
    anion_A = positions[np.asarray(data.particles.particle_types) > 1]
    for name in ("coord-polyhedra", "surface"):
        domain = np.asarray(data.surfaces[name].domain.matrix)
        frac = (anion_A - domain[:, 3]) @ np.linalg.inv(domain[:, :3]).T
        assert frac.min() > 0.2 and frac.max() < 0.8, name
    assert not data.cell.vis.enabled  # the grown cell is hidden, the dump's cell drawn instead:
    outline = scene.pipelines[-1].compute(N_FRAMES - 1)
    assert outline.particles.count == 0 and outline.cell.vis.enabled
    np.testing.assert_allclose(np.asarray(outline.cell.matrix)[:, :3], np.diag([EDGE_A] * 3))


def test_anions_session_keeps_the_grown_cell_hidden_and_draws_the_real_one(boundary_runs, tmp_path):
    """The session state, opened in a fresh process as in the desktop app, has both pipelines."""
    import ast
    import subprocess
    import sys

    from pydriver.viz.session import write_session

    state = write_session(build_scene(locate(boundary_runs["wrapped"]), SceneOptions(what="anions")),
                          tmp_path / "anions.ovito")
    code = ("import ovito; ovito.scene.load(%r); "
            "print([(p.compute(0).cell.vis.enabled, float(p.compute(0).cell[0, 0])) for p in ovito.scene.pipelines])"
            % str(state))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    cells = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert cells == [(False, pytest.approx(3 * EDGE_A)), (True, pytest.approx(EDGE_A))]


@pytest.mark.parametrize("columns", ("wrapped", "xu"))
def test_rotation_lines_surround_the_whole_anion_across_a_face(boundary_runs, columns):
    """The BH4 (molecule 1) straddles x = 0: its H lines are drawn around the B, not folded to x = L."""
    scene = build_scene(locate(boundary_runs[columns]), SceneOptions(what="rotation", anion_mol=1))
    data = scene.structure.compute(N_FRAMES - 1)
    boron_A = np.asarray(data.particles.positions)[np.asarray(data.particles.identifiers) == 7][0]
    line_A = np.asarray(data.lines["trajectories"]["Position"])
    assert len(line_A) == 4 * N_FRAMES
    assert np.linalg.norm(line_A - boron_A, axis=1).max() < 1.3  # B-H 1.21 A
