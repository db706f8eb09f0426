"""Anion slabs (layers, slab of a point, Na time per slab) and reference sites, with exact synthetic answers."""

import json

import numpy as np
import pytest
from scipy import stats

from pydriver.analysis import site_reference, slabs
from pydriver.analysis.options import AnalysisOptions
from pydriver.analysis.run_analysis import analyze_file
from pydriver.analysis.sites import Sites, core_radii
from pydriver.analysis.synthetic import (icosahedron_offsets, rotational_diffusion, site_lattice_gas,
                                         tetrahedron_offsets, write_lammps_dump)

CELL = np.diag([8.0, 20.0, 8.0])
GRID = [(0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)]  # (x, z) of the anions of one layer
#: layer y and kind: BH4 slabs [0.05, 0.15] and [0.55, 0.65], B12H12 slabs [0.35, 0.45] and [0.85, 0.95]
STACK = [(0.05, "BH4"), (0.15, "BH4"), (0.35, "B12H12"), (0.45, "B12H12"),
         (0.55, "BH4"), (0.65, "BH4"), (0.85, "B12H12"), (0.95, "B12H12")]


def stack():
    """(32, 3) fractional anion centres of :data:`STACK`, 4 per layer, and their kinds."""
    centres = np.array([[x, y, z] for y, _ in STACK for x, z in GRID])
    kinds = [k for _, k in STACK for _ in GRID]
    return centres, kinds


def test_layers_slabs_and_boundaries_of_a_stack():
    centres, kinds = stack()
    layers = slabs.find_layers(centres, kinds, CELL)
    assert layers.axis == 1 and layers.spacing_A == pytest.approx(20.0)
    np.testing.assert_allclose(layers.frac, [y for y, _ in STACK])
    assert layers.kind == tuple(k for _, k in STACK)
    assert sorted(np.bincount(layers.member)) == [4] * 8
    np.testing.assert_allclose(np.sort(layers.boundaries()), [0.0, 0.25, 0.5, 0.75], atol=1e-12)
    points = np.array([[0.5, y, 0.5] for y in (0.1, 0.2, 0.3, 0.4, 0.99)])
    out = slabs.point_slabs(points, layers)
    assert out["kind"] == ["BH4", "BH4", "B12H12", "B12H12", "B12H12"]
    assert out["between"] == ["BH4|BH4", "B12H12|BH4", "B12H12|BH4", "B12H12|B12H12", "B12H12|BH4"]
    np.testing.assert_allclose(out["margin_A"], [2.0, 1.0, 1.0, 2.0, 0.2], atol=1e-9)


def test_the_stacking_axis_is_found_in_any_orientation_and_wrapped_images():
    centres, kinds = stack()
    cell = CELL[[2, 0, 1]][:, [2, 0, 1]]  # b -> c: the same stack along c
    layers = slabs.find_layers(centres[:, [2, 0, 1]] + np.array([3.0, -1.0, 2.0]), kinds, cell)
    assert layers.axis == 2 and layers.kind == tuple(k for _, k in STACK)
    with pytest.raises(ValueError, match="no slabs along axis a"):
        slabs.find_layers(centres, kinds, CELL, axis=0)  # both kinds share the layers x = 1/4, 3/4


def test_no_slabs_when_the_kinds_mix_or_only_one_is_present():
    centres, _ = stack()
    mixed = ["B12H12" if i % 4 in (0, 3) else "BH4" for i in range(len(centres))]  # checkerboard in every layer
    with pytest.raises(ValueError, match="not built of anion slabs"):
        slabs.find_layers(centres, mixed, CELL)
    with pytest.raises(ValueError, match="two anion kinds"):
        slabs.find_layers(centres, ["BH4"] * len(centres), CELL)


def test_ion_time_per_slab_follows_the_layers_frame_by_frame():
    """Ions 0 and 1 move with the anions (always BH4, always B12H12); ion 2 stays at y = 0.4 while the
    anions shift by +0.3 of b halfway: B12H12 slab first (0.4), BH4 after (0.4 - 0.3 = 0.1)."""
    centres, kinds = stack()
    n_frames = 10
    shift = np.where(np.arange(n_frames) < 5, 0.0, 0.3)
    centres_t = np.repeat(centres[None], n_frames, axis=0)
    centres_t[:, :, 1] += shift[:, None]
    ions = np.zeros((n_frames, 3, 3)) + 0.5
    ions[:, 0, 1] = 0.1 + shift
    ions[:, 1, 1] = 0.4 + shift
    ions[:, 2, 1] = 0.4
    out = slabs.slab_analysis(ions % 1.0, centres_t % 1.0, kinds, CELL)
    assert out["stacking_axis"] == "b" and out["n_frames"] == 10 and out["n_ions"] == 3
    assert out["fraction_time"] == {"B12H12": pytest.approx(0.5), "BH4": pytest.approx(0.5)}
    assert out["fraction_time_between"] == {"B12H12|B12H12": pytest.approx(0.5), "B12H12|BH4": 0.0,
                                            "BH4|BH4": pytest.approx(0.5)}
    assert out["n_ions_visiting"] == {"B12H12": 2, "BH4": 2}
    profile = out["profile"]
    assert profile["n_bins"] == slabs.PROFILE_BINS == 100 and sum(profile["ion_frames"]) == pytest.approx(1.0)
    # first frame: ions at y = 0.1, 0.4, 0.4 -> bins 10 and 40; over the run also 0.4 (bin 40) and 0.7 (bin 70)
    first = np.asarray(profile["first_frame"])
    assert first[10] == pytest.approx(1 / 3) and first[40] == pytest.approx(2 / 3) and first.sum() == pytest.approx(1.0)
    run = np.asarray(profile["ion_frames"])
    np.testing.assert_allclose(run[[10, 40, 70]], [1 / 6, 4 / 6, 1 / 6])
    low, high = out["fraction_time_ci68"]["BH4"]  # Jeffreys on 1.5 ion-equivalents of 3
    assert (low, high) == pytest.approx((stats.beta.ppf(0.16, 2.0, 2.0), stats.beta.ppf(0.84, 2.0, 2.0)))
    assert len(out["layers"]) == 8 and out["boundaries_frac"] == pytest.approx([0.15, 0.4, 0.65, 0.9])
    json.dumps(out)


def test_axis_profile_bins_the_fractional_coordinate_in_chunks():
    rng = np.random.default_rng(3)
    ions = rng.random((50, 7, 3))
    ions[:, :, 2] = 1.0 - 1e-12  # the last bin, not past it
    expected = np.histogram(ions[:, :, 0].ravel(), bins=20, range=(0, 1))[0] / ions[:, :, 0].size
    np.testing.assert_allclose(slabs.axis_profile(ions, 0, n_bins=20, chunk=7), expected)
    assert slabs.axis_profile(ions, 2, n_bins=20)[-1] == pytest.approx(1.0)
    assert slabs.axis_profile(ions + 3.0, 0, n_bins=20) == pytest.approx(expected)  # any periodic image


def test_sites_get_slab_coordination_occupancy_and_their_own_families():
    centres, kinds = stack()
    frac = np.array([[0.5, 0.1, 0.5], [0.5, 0.4, 0.5], [0.25, 0.2, 0.25], [0.5, 0.88, 0.5]])
    site_set = Sites(frac, CELL, core_radii(frac, CELL), "structure", np.array([0, 1, 0, 1]))
    states = np.array([[0, 1, 3], [0, 1, 3], [2, 1, 3], [2, -1, 3]])  # 4 frames x 3 ions
    occ = np.array([0.5, 0.75, 0.5, 1.0])
    ions = np.repeat(frac[[0, 1, 3]][None], 4, axis=0)
    out = slabs.slab_analysis(ions, np.repeat(centres[None], 4, axis=0), kinds, CELL, site_set, occ, states)
    assert out["kind_per_site"] == ["BH4", "B12H12", "BH4", "B12H12"]
    assert out["n_sites_by_kind"] == {"B12H12": 2, "BH4": 2}
    assert out["ions_by_kind"] == {"B12H12": pytest.approx(1.75), "BH4": pytest.approx(1.0)}
    # site 2 at (2, 4, 2) A: BH4 centres of the layer y = 0.15 (3 A) at 1 A below, B12H12 (y = 7 A) 3 A above
    assert out["nearest_anion_per_site_A"]["BH4"][2] == pytest.approx(1.0)
    assert out["nearest_anion_per_site_A"]["B12H12"][2] == pytest.approx(3.0)
    assert out["coordination_per_site"]["BH4"][0] == 8  # (4, 2, 4) A: 8 centres at (+-2, +-1, +-2) A, 3 A away
    assert out["cn_cutoff_A"] == {"B12H12": 6.0, "BH4": 4.0}
    # the B12H12 sites: (4, 8, 4) A has its nearest BH4 centres (y = 11 A) 4.12 A away, (4, 17.6, 4) A 4.42 A (y = 21 A)
    assert [out["coordination_per_site"]["BH4"][i] for i in (1, 3)] == [0, 0]
    assert out["ions_without_neighbour"] == {"B12H12": 0.0, "BH4": pytest.approx(1.75)}
    fams = {f["family"]: f for f in out["reference_families"]}
    assert (fams[0]["slab"], fams[1]["slab"]) == ("BH4", "B12H12")
    assert fams[0]["ions"] == pytest.approx(1.0) and fams[0]["occupancy_per_site"] == pytest.approx(0.5)
    assert fams[1]["ions"] == pytest.approx(1.75) and fams[1]["n_sites_found"] == 2
    # ion 0 holds family 0 all the time, ion 1 family 1 for 3 of 4 frames, ion 2 family 1 always
    per_ion = np.array([1.0, 0.0, 0.0]) / 2
    assert fams[0]["occupancy_per_site_std"] == pytest.approx(np.sqrt(3) * per_ion.std(ddof=1))
    assert out["family_per_site"] == [0, 1, 0, 1] and out["ions_unmatched"] == 0.0


def test_match_reference_within_tolerance_and_families():
    cell = np.eye(3) * 10.0
    ref = Sites(np.array([[0.1, 0.1, 0.1], [0.5, 0.5, 0.5], [0.95, 0.5, 0.5]]), cell, np.ones(3), "structure",
                np.array([3, 7, 7]))
    frac = np.array([[0.13, 0.1, 0.1], [0.02, 0.5, 0.5], [0.3, 0.3, 0.3]])
    m = site_reference.match_reference(frac, ref, cell, tolerance_A=1.0)
    assert m["index"].tolist() == [0, 2, -1] and m["family"].tolist() == [3, 7, -1]
    np.testing.assert_allclose(m["distance_A"][:2], [0.3, 0.7], atol=1e-12)  # 0.02 -> 0.95 across the boundary


def test_a_reference_is_laid_on_the_run_by_its_anions(tmp_path):
    """A reference whose origin is shifted by (1.0, -2.0, 0.5) A: the shift is found from its anion
    centres (one anion left out, so that only one translation fits) and its Na sites come back onto the run's."""
    from ase import Atoms
    from ase.io import write

    cell = np.diag([16.0, 80.0, 16.0])  # room for whole B12H12 cages in the stack
    centres, kinds = stack()
    centres, kinds = centres[1:], kinds[1:]
    na = np.array([[0.5, 0.1, 0.5], [0.5, 0.4, 0.5]])
    offset_A = np.array([1.0, -2.0, 0.5])
    cage = icosahedron_offsets()
    atoms = Atoms(cell=cell, pbc=True)
    for c, kind in zip(centres @ cell + offset_A, kinds):
        if kind == "BH4":
            atoms += Atoms("BH4", positions=np.vstack([[0, 0, 0], tetrahedron_offsets()]) + c)
        else:
            atoms += Atoms("B12H12", positions=np.vstack([cage, cage * (1.0 + 1.21 / 1.70)]) + c)
    atoms += Atoms("Na2", positions=na @ cell + offset_A)
    atoms.wrap()
    path = tmp_path / "ref.extxyz"
    write(path, atoms)
    run_cell = cell * 1.03  # lengths within 10 %
    reference = site_reference.reference_from_structure(path, "Na", run_cell)
    assert reference.sites.n_sites == 2 and len(reference.centres_frac) == 31
    moved, info = site_reference.align_reference(reference, centres, kinds, run_cell)
    np.testing.assert_allclose(info["shift_A"], -offset_A * 1.03, atol=1e-6)
    assert info["anion_rms_A"] < 1e-6
    assert site_reference.match_reference(na, moved, run_cell)["distance_A"].max() < 1e-6
    with pytest.raises(ValueError, match="do not tile"):
        site_reference.reference_from_structure(path, "Na", np.diag([16.0, 120.0, 16.0]))
    with pytest.raises(FileNotFoundError, match="nope.cif"):
        site_reference.reference_from_structure(tmp_path / "nope.cif", "Na", cell)


def test_analysis_json_has_sites_slabs_for_two_anion_kinds_in_layers(tmp_path):
    """48 Na hopping on a 4x4x4 site lattice (12 A cube); BH4 in a layer at z = 1/8, B12H12 at z = 5/8:
    the slab boundaries are z = 3/8 and 7/8, so Na on the site planes z = 0, 1/4 are in the BH4 slab."""
    n_frames, n_na = 201, 48
    na, truth = site_lattice_gas(n_frames, n_na, 0.02, 0.3, 500.0, 0.0, n_per_edge=4, seed=5)
    box = truth.cell_A[0, 0]
    grid = np.array([[x, y] for x in (0.25, 0.75) for y in (0.25, 0.75)])
    bh4 = np.column_stack([grid, np.full(4, 0.125)]) * box
    b12 = np.column_stack([grid, np.full(4, 0.625)]) * box
    cage = icosahedron_offsets()
    b12h12 = np.vstack([cage, cage * (1.0 + 1.21 / 1.70)])
    anions = [rotational_diffusion(n_frames, bh4, np.vstack([[0, 0, 0], tetrahedron_offsets()]), 0.5, 0.02, seed=6),
              rotational_diffusion(n_frames, b12, b12h12 - b12h12[:12].mean(axis=0), 0.05, 0.02, seed=7)]
    pos = np.concatenate([na] + anions, axis=1)
    types = np.array([1] * n_na + [2, 3, 3, 3, 3] * 4 + ([4] * 12 + [5] * 12) * 4)
    mol = np.array([0] * n_na + list(np.repeat(np.arange(1, 5), 5)) + list(np.repeat(np.arange(5, 9), 24)))
    dump = write_lammps_dump(tmp_path / "traj.dump", pos, types, truth.cell_A, steps=np.arange(n_frames) * 20,
                             mol_ids=mol, columns="image")
    from ase import Atoms
    from ase.io import write

    write(tmp_path / "ref.extxyz", Atoms(["Na"] * 64, scaled_positions=truth.site_frac, cell=truth.cell_A, pbc=True))
    opts = AnalysisOptions(plots=False, site_reference_file=str(tmp_path / "ref.extxyz"))
    analyze_file(dump, opts, temperature_K=500.0, dt_ps=0.001,
                 type_map="1:Na 2:B_BH4 3:H_BH4 4:B_B12H12 5:H_B12H12", out_dir=tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "analysis.json").read_text())["sites"]
    out = saved["slabs"]
    z = (na[..., 2] / box) % 1.0
    in_bh4 = (z < 0.375) | (z >= 0.875)
    assert out["stacking_axis"] == "c" and [layer["kind"] for layer in out["layers"]] == ["BH4", "B12H12"]
    assert out["fraction_time"]["BH4"] == pytest.approx(in_bh4.mean(), abs=0.01)  # anions vibrate a little
    assert out["fraction_time_between"] == {"B12H12|B12H12": 0.0, "B12H12|BH4": 1.0, "BH4|BH4": 0.0}
    site_z = np.asarray(saved["frac"])[:, 2]
    expected = np.where((np.round(site_z * 4) % 4) < 2, "BH4", "B12H12")
    assert out["kind_per_site"] == expected.tolist()
    # the reference: the 64 lattice sites, one family, half in each slab; it has no anions to align by
    assert out["reference"]["file"].endswith("ref.extxyz") and out["reference"]["shift_A"] is None
    (family,) = out["reference_families"]
    assert (family["n_reference_sites"], family["slab"], family["n_sites_found"]) == (64, "B12H12|BH4",
                                                                                       saved["n_sites"])
    assert out["ions_unmatched"] == 0.0 and family["ions"] == pytest.approx(sum(saved["occupancy_per_site"]))


def test_cli_site_reference_flag_fills_the_option(monkeypatch, tmp_path):
    from pydriver.cli.main import main

    seen = {}
    monkeypatch.setattr("pydriver.cli.analyze.analyze_paths", lambda paths, opts, out_dir, **kw: seen.update(
        opts=opts) or iter(()))
    assert main(["analyze", str(tmp_path), "--site-reference", "ref.cif"]) == 0
    assert seen["opts"].site_reference_file == "ref.cif"
