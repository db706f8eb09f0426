"""Synthetic runs with known answers: active colouring, density isosurface pieces, trajectory lines."""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.viz import style
from tests.viz.helpers import isosurface_pieces
from pydriver.viz.per_atom import read_per_atom_csv
from pydriver.viz.run_files import locate
from pydriver.viz.scene import SceneOptions, build_scene

from .conftest import DENSITY_SIGMA_A, DENSITY_SITES_A, HOPPERS, N_FRAMES, STAYERS, write_synthetic_run

THRESHOLD_PER_A3 = 0.05


def _colors_by_id(data) -> dict[int, tuple]:
    ids = np.asarray(data.particles.identifiers)
    return {int(i): tuple(np.round(c, 4)) for i, c in zip(ids, np.asarray(data.particles.colors))}


def test_active_coloring_matches_the_hoppers(synthetic_run):
    per_atom = read_per_atom_csv(synthetic_run / "per_atom.csv")
    assert sorted(per_atom.active_ids.tolist()) == list(HOPPERS)
    scene = build_scene(locate(synthetic_run), SceneOptions(what="active"))
    colors = _colors_by_id(scene.structure.compute(0))
    for i in HOPPERS:
        assert colors[i] == pytest.approx(style.ACTIVE_COLOR, abs=1e-4)
    for i in STAYERS:
        assert colors[i] == pytest.approx(style.INACTIVE_COLOR, abs=1e-4)
    assert colors[5] != pytest.approx(style.ACTIVE_COLOR, abs=1e-3)  # the BH4 boron is not touched


def test_msd_coloring_orders_ions_by_msd(synthetic_run):
    scene = build_scene(locate(synthetic_run), SceneOptions(what="active", color_by="msd"))
    data = scene.structure.compute(0)
    msd = dict(zip(np.asarray(data.particles.identifiers).tolist(), np.asarray(data.particles["msd_A2"])))
    assert msd[1] == pytest.approx(36.0, abs=1.0) and msd[2] == pytest.approx(36.0, abs=1.0) and msd[3] < 0.1
    colors = _colors_by_id(data)
    for i in HOPPERS:  # top of Viridis (yellow): the largest MSD sets the scale
        assert colors[i][0] > 0.85 and colors[i][2] < 0.2
    for i in STAYERS:  # bottom of Viridis (dark purple)
        assert colors[i][0] < 0.35 and colors[i][1] < 0.1


def test_isosurface_pieces_sit_at_the_gaussian_sites(synthetic_run):
    scene = build_scene(locate(synthetic_run), SceneOptions(what="density", threshold_per_A3=THRESHOLD_PER_A3))
    assert scene.notes["threshold_per_A3"] == THRESHOLD_PER_A3
    pieces = isosurface_pieces(scene.pipelines[1].compute(0))
    assert len(pieces.volumes_A3) == len(DENSITY_SITES_A)
    peak = 1.0 / ((2 * np.pi) ** 1.5 * DENSITY_SIGMA_A**3)
    radius_A = np.sqrt(2 * DENSITY_SIGMA_A**2 * np.log(peak / THRESHOLD_PER_A3))
    expected_volume_A3 = 4.0 / 3.0 * np.pi * radius_A**3  # 6.0 A^3: sphere where the Gaussian = threshold
    for site in DENSITY_SITES_A:
        k = int(np.argmin(np.linalg.norm(pieces.centroids_A - site, axis=1)))
        assert np.linalg.norm(pieces.centroids_A[k] - site) < 0.2
        # tighter: the half-voxel shift puts bin-average grids in place (0.17 A off without it)
        assert np.linalg.norm(pieces.centroids_A[k] - site) < 0.05
        assert pieces.volumes_A3[k] == pytest.approx(expected_volume_A3, rel=0.10)
    # the Na spheres are removed in this mode: the surface shows where they go
    assert 1 not in np.asarray(scene.structure.compute(0).particles.particle_types)


def test_hop_lines_follow_the_active_ions(synthetic_run):
    scene = build_scene(locate(synthetic_run), SceneOptions(what="hops"))
    assert sorted(scene.notes["ion_ids"]) == list(HOPPERS)
    lines = scene.structure.compute(0).lines["trajectories"]
    assert lines.count == len(HOPPERS) * N_FRAMES
    section, positions = np.asarray(lines["Section"]), np.asarray(lines["Position"])
    assert np.unique(section).size == len(HOPPERS)
    for s in np.unique(section):  # each line spans its ion's 6 A hop (the stayers move 0.05 A)
        path = positions[section == s]
        assert np.linalg.norm(path[-1] - path[0]) == pytest.approx(6.0, abs=0.3)


def test_rotation_lines_are_the_h_of_one_anion(synthetic_run):
    scene = build_scene(locate(synthetic_run), SceneOptions(what="rotation", anion_mol=2))
    assert scene.notes["anion_mol"] == 2 and len(scene.notes["h_ids"]) == 12
    lines = scene.structure.compute(0).lines["trajectories"]
    assert lines.count == 12 * N_FRAMES


def test_errors_are_one_line(tmp_path, synthetic_run):
    bare = write_synthetic_run(tmp_path / "no_analysis", with_analysis_files=False)
    for what in ("active", "density"):
        with pytest.raises(FileNotFoundError, match=f"--what {what} needs the analysis: no analysis.json"):
            build_scene(locate(bare), SceneOptions(what=what))
    with pytest.raises(ValueError, match=r"threshold-per-A3 2 outside the density range \(.*, 0\.29\) ions/A\^3"):
        build_scene(locate(synthetic_run), SceneOptions(what="density", threshold_per_A3=2.0))
    with pytest.raises(FileNotFoundError, match="no dump file"):
        locate(tmp_path)
    with pytest.raises(ValueError, match="--ions \\[9\\]"):
        build_scene(locate(synthetic_run), SceneOptions(what="hops", ion_ids=[9]))


def test_active_from_analysis_json_without_per_atom_table(tmp_path):
    """Today's analysis.json (per-ion MSD in Na id order) serves when per_atom.csv is absent."""
    import json

    from pydriver.rundir import ANALYSIS_FILE, AnalysisSummary

    run = write_synthetic_run(tmp_path / "run", with_analysis_files=False)
    summary = AnalysisSummary("test", run={}, parameters={}, transport={},
                              active={"ion_msd_at_lag_A2": [30.0, 25.0, 3.0, 0.5], "active_threshold_A2": 21.0})
    (run / ANALYSIS_FILE).write_text(json.dumps(summary.to_dict()))
    files = locate(run)
    assert files.per_atom is None and files.analysis is not None
    scene = build_scene(files, SceneOptions(what="active"))
    assert scene.notes["active_ids"] == list(HOPPERS)
    colors = _colors_by_id(scene.structure.compute(0))
    assert colors[1] == pytest.approx(style.ACTIVE_COLOR, abs=1e-4)
    assert colors[4] == pytest.approx(style.INACTIVE_COLOR, abs=1e-4)
