"""A real run made with the plugin: every anion is one cluster, every type has its name, radius and colour."""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.rundir import DUMP_FILE, RunManifest
from pydriver.viz import style
from pydriver.viz.run_files import locate
from pydriver.viz.scene import SceneOptions, build_scene

pytestmark = pytest.mark.lammps

LABELS = {1: "Na", 2: "B_BH4", 3: "H_BH4", 4: "B_B12H12", 5: "H_B12H12"}
ELEMENTS = {1: "Na", 2: "B", 3: "H", 4: "B", 5: "H"}
#: type number -> (display radius A, colour or None for H: the anion colour lightened)
EXPECTED = {1: (1.02, style.ELEMENT_STYLE["Na"][1]), 2: (0.42, style.ANION_COLORS["BH4"]), 3: (0.26, None),
            4: (0.42, style.ANION_COLORS["B12H12"]), 5: (0.26, None)}


def _check_types(data, names: dict[int, str]) -> None:
    ptypes = {t.id: t for t in data.particles.particle_types.types}
    assert {n: t.name for n, t in ptypes.items()} == names
    for number, ptype in ptypes.items():
        radius, color = EXPECTED[number]
        assert ptype.radius == pytest.approx(radius, abs=1e-6)
        if color is not None:
            assert tuple(ptype.color) == pytest.approx(color, abs=1e-6)
        else:  # H takes its anion's colour, lightened
            assert min(ptype.color) > 0.5
    assert tuple(ptypes[3].color) != pytest.approx(tuple(ptypes[5].color))  # H of BH4 and B12H12 differ


def test_clusters_are_the_anions_and_types_are_named(real_run):
    manifest = RunManifest.read(real_run)
    scene = build_scene(locate(real_run), SceneOptions(what="anions"))
    data = scene.structure.compute(scene.n_frames - 1)
    n_anions = sum(manifest.anion_counts.values())
    assert n_anions == 8  # 4 BH4 + 4 B12H12 in the 128-atom oNBH cell
    assert data.attributes["ClusterAnalysis.cluster_count"] == n_anions
    sizes = np.asarray(data.tables["clusters"]["Cluster Size"])
    assert sorted(sizes.tolist()) == [5] * 4 + [24] * 4
    # each cluster is exactly one molecule id of the data file
    cluster = np.asarray(data.particles["Cluster"])
    mol = np.asarray(data.particles["Molecule Identifier"])
    for c in np.unique(cluster[cluster > 0]):
        assert np.unique(mol[cluster == c]).size == 1
    # decks dump an ``element`` column: OVITO then names types by element (both B types "B"); radius and
    # colour still follow the anion kind per type number
    header = next(line for line in (real_run / DUMP_FILE).read_text().splitlines() if line.startswith("ITEM: ATOMS"))
    _check_types(data, ELEMENTS if "element" in header.split() else LABELS)
    # Na wrapped into the dump's cell (drawn by the last pipeline) for display; anions whole: short bonds,
    # none through a face, so an anion across a face pokes out of the cell by less than its size
    cell = np.asarray(scene.pipelines[-1].compute(scene.n_frames - 1).cell.matrix)
    positions = np.asarray(data.particles.positions)
    frac = (positions - cell[:, 3]) @ np.linalg.inv(cell[:, :3]).T
    is_na = np.asarray(data.particles.particle_types) == 1
    assert frac[is_na].min() >= -1e-6 and frac[is_na].max() <= 1 + 1e-6
    bonds = np.asarray(data.particles.bonds.topology)
    assert not np.asarray(data.particles.bonds.pbc_vectors).any()
    assert np.linalg.norm(positions[bonds[:, 0]] - positions[bonds[:, 1]], axis=1).max() < 2.1
    assert np.linalg.norm((frac - np.clip(frac, 0, 1)) @ cell[:, :3].T, axis=1).max() < 3.0


def test_element_column_dump_gets_labels_without_run_json(real_run, tmp_path, add_element_column):
    """The coming dump format (``id type element mol xu yu zu``) alone: kinds come from the bond clusters."""
    dump = tmp_path / DUMP_FILE
    dump.write_text((real_run / DUMP_FILE).read_text())
    add_element_column(dump, {t.type: t.element for t in RunManifest.read(real_run).types})
    files = locate(dump)
    assert files.types is None and files.run_dir is None
    scene = build_scene(files, SceneOptions(what="anions"))
    assert {n: t.label for n, t in scene.types.items()} == LABELS
    data = scene.structure.compute(0)
    assert data.attributes["ClusterAnalysis.cluster_count"] == 8
    _check_types(data, ELEMENTS)  # OVITO keeps the element column's names; radius and colour are ours


def test_ovito_alone_misreads_our_type_labels(real_run):
    """Why pydriver.viz styles the types itself: OVITO's own reading of data.lmp's labels (ovito 3.15)."""
    from ovito.io import import_file

    data = import_file(str(real_run / "data.lmp"), atom_style="full").compute()
    radius = {t.name: t.radius for t in data.particles.particle_types.types}
    assert radius["B_B12H12"] == 0.0 and radius["H_B12H12"] == 0.0  # not mapped to an element
    assert radius["B_BH4"] > radius["Na"]  # mapped to B, whose default radius exceeds Na's


def test_real_run_renders(real_run, tmp_path):
    from PIL import Image

    from pydriver.viz.render import render_image

    scene = build_scene(locate(real_run), SceneOptions(what="anions"))
    rgb = np.asarray(Image.open(render_image(scene, tmp_path / "a.png", (200, 150), frame=scene.n_frames - 1)))
    drawn = np.mean(rgb[..., :3].sum(axis=2) < 3 * 250)
    assert 0.1 < drawn < 0.9
