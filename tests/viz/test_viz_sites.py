"""``--what sites``: spheres at the analysis's sites coloured by occupancy, hop lines weighted by count, folded at faces."""

import numpy as np
import pytest
from ovito.modifiers import ColorCodingModifier

from pydriver.rundir import SITE_HOPS_TABLE_FILE, SITES_TABLE_FILE
from pydriver.viz import sites
from pydriver.viz.run_files import locate
from pydriver.viz.scene import SceneOptions, build_scene

from .conftest import EDGE_A, write_synthetic_run

#: three sites; 0 and 1 are 2.8 A apart across the x face, 2 is in the middle of the cell
SITE_FRAC = np.array([[0.1, 0.5, 0.5], [0.9, 0.5, 0.5], [0.5, 0.5, 0.5]])
OCCUPANCY = np.array([0.9, 0.2, 0.5])
HOPS = [(0, 1, 6), (1, 0, 4), (0, 2, 2), (2, 0, 1)]  # pair 0-1: 10 hops, pair 0-2: 3


def write_site_tables(folder):
    lines = ["site,frac_a,frac_b,frac_c,x_A,y_A,z_A,family,core_radius_A,occupancy,occupancy_std,n_departures,"
             "residence_time_ps,residence_time_std_ps,slab,cn_B12H12,cn_BH4"]  # slab: text, as the analysis writes
    for k, (f, occ) in enumerate(zip(SITE_FRAC, OCCUPANCY)):
        x = f * EDGE_A
        lines.append(f"{k},{f[0]},{f[1]},{f[2]},{x[0]},{x[1]},{x[2]},-1,1.0,{occ},0.05,5,1.0,0.4,BH4,1,3")
    (folder / SITES_TABLE_FILE).write_text("\n".join(lines) + "\n")
    (folder / SITE_HOPS_TABLE_FILE).write_text("from_site,to_site,n_hops\n" + "".join(f"{a},{b},{n}\n" for a, b, n in HOPS))


@pytest.fixture(scope="module")
def site_run(tmp_path_factory):
    folder = write_synthetic_run(tmp_path_factory.mktemp("viz_sites") / "run")
    write_site_tables(folder)
    return folder


def test_site_network_pairs_both_directions_and_classes_by_count(site_run):
    net = sites.read_site_network(site_run / SITES_TABLE_FILE, site_run / SITE_HOPS_TABLE_FILE)
    assert net.pair.tolist() == [[0, 1], [0, 2]] and net.n_hops.tolist() == [10, 3]
    assert sites.width_class(net.n_hops).tolist() == [2, 0]
    start, end = sites.hop_segments_A(net, np.eye(3) * EDGE_A)
    np.testing.assert_allclose(start[0], [1.4, 7.0, 7.0])
    np.testing.assert_allclose(end[0], [-1.4, 7.0, 7.0])  # the short way, across the face, not 11.2 A inside
    np.testing.assert_allclose(end[1], [7.0, 7.0, 7.0])


def test_sites_scene_colours_by_occupancy_and_draws_weighted_folded_lines(site_run):
    scene = build_scene(locate(site_run), SceneOptions(what="sites"))
    assert scene.notes == {"n_sites": 3, "n_site_pairs": 2, "n_hops": 13}
    data = scene.pipelines[1].compute(0)
    pos = np.asarray(data.particles.positions)
    np.testing.assert_allclose(pos, SITE_FRAC * EDGE_A, atol=1e-9)
    colors = np.asarray(data.particles.colors)
    viridis = ColorCodingModifier.Viridis()  # from 0 to 1 (the largest occupancy, 0.9, is below 1)
    np.testing.assert_allclose(colors, [viridis.value_to_color(v) for v in OCCUPANCY], atol=1e-5)
    assert colors[0, 1] > 0.8 and colors[1, 2] > 0.5  # full site yellow-green, emptier one blue
    np.testing.assert_allclose(data.particles["Radius"], sites.SITE_RADIUS_A, rtol=1e-6)
    heavy, light = data.lines[f"{sites.LINES_PREFIX}2"], data.lines[f"{sites.LINES_PREFIX}0"]
    assert heavy.vis.width > light.vis.width and heavy.vis.wrapped_lines and light.vis.wrapped_lines
    np.testing.assert_allclose(np.asarray(heavy.positions), [[1.4, 7, 7], [-1.4, 7, 7]])
    assert np.asarray(heavy["Hop Count"]).tolist() == [10, 10]
    assert f"{sites.LINES_PREFIX}1" not in data.lines
    assert not data.cell.vis.enabled  # the atoms' pipeline draws the cell
    # the Na spheres are removed so the sites show; the anions stay
    types = np.asarray(scene.structure.compute(0).particles.particle_types)
    assert 1 not in types and 2 in types


def test_sites_without_the_tables_is_one_line_naming_the_fix(tmp_path):
    run = write_synthetic_run(tmp_path / "bare", with_analysis_files=False)
    with pytest.raises(FileNotFoundError, match="needs the analysis: no analysis.json"):
        build_scene(locate(run), SceneOptions(what="sites"))


def test_sites_png_renders(site_run, tmp_path):
    from pydriver.viz.render import render_image

    from PIL import Image

    out = render_image(build_scene(locate(site_run), SceneOptions(what="sites")), tmp_path / "sites.png", (320, 240))
    rgb = np.asarray(Image.open(out).convert("RGB"), dtype=float) / 255.0
    red = (rgb[..., 0] > 0.6) & (rgb[..., 1] < 0.3) & (rgb[..., 2] < 0.3)  # the hop lines
    yellow_green = (rgb[..., 1] > 0.7) & (rgb[..., 2] < 0.35) & (rgb[..., 0] > 0.5)  # the 0.9-occupied site
    assert red.mean() > 0.001 and yellow_green.sum() > 5
