"""Anion slabs of o-NBH: the published framework's Na sites lie in BH4-containing slabs, and the relaxed
orderings of examples/structures put 4 of 12 Na between two B12H12 layers."""

import json

import numpy as np
import pytest
from ase.io import read

from pydriver.analysis import site_reference, slabs
from pydriver.structures import find_anions
from pydriver.structures.search.onbh import GRID_BEST, PUBLISHED_CELL_A, anion_centres_frac


@pytest.fixture(scope="module")
def committed(example_structures_dir) -> dict:
    return json.loads((example_structures_dir / "onbh_orderings.json").read_text())


def anions_of(atoms):
    """Fractional anion centres (mean of each anion's B atoms) and kinds of a structure."""
    found = find_anions(atoms)
    symbols = np.array(atoms.get_chemical_symbols())
    centres = [found.unwrapped_positions_A[[i for i in a.atom_indices if symbols[i] == "B"]].mean(axis=0)
               for a in found.anions]
    return np.array(centres) @ np.linalg.inv(atoms.cell.array), [a.kind for a in found.anions]


def test_published_framework_sites_are_in_bh4_slabs_and_the_b12h12_candidates_are_not(committed):
    """Static o-NBH framework in the published Cmc2_1 cell (Sadikin et al. 2015): B12H12 double layers
    at y = 0.165, 0.335 (+1/2) and BH4 double layers at y = 0.44, 0.56 (+1/2) along b; every candidate Na
    site of the BH4-slab set is in a BH4 slab; of the all-slab set exactly the 8 sites of family 2."""
    centres, charges = anion_centres_frac(GRID_BEST)
    kinds = ["B12H12" if q == -2 else "BH4" for q in charges]
    layers = slabs.find_layers(centres, kinds, np.diag(PUBLISHED_CELL_A))
    assert slabs.AXIS_NAMES[layers.axis] == "b"
    assert layers.kind == ("BH4", "B12H12", "B12H12", "BH4", "BH4", "B12H12", "B12H12", "BH4")
    np.testing.assert_allclose(layers.frac, [0.06, 0.165, 0.335, 0.44, 0.56, 0.665, 0.835, 0.94], atol=1e-9)
    bh4_set = committed["site_sets"]["bh4_slabs"]
    out = slabs.point_slabs(np.array(bh4_set["candidate_sites_frac"]), layers)
    assert out["kind"] == ["BH4"] * 24
    family = np.array(bh4_set["site_families"])
    # family 0 (4a, y = 0.395) lies between a B12H12 and a BH4 layer, 0.16 A from the boundary
    assert {out["between"][i] for i in np.flatnonzero(family == 0)} == {"B12H12|BH4"}
    assert out["margin_A"][family == 0].min() == pytest.approx(0.16, abs=0.01)
    assert {out["between"][i] for i in np.flatnonzero(family != 0)} == {"BH4|BH4"}
    all_set = committed["site_sets"]["all_slabs"]
    out = slabs.point_slabs(np.array(all_set["candidate_sites_frac"]), layers)
    in_b12 = np.array(out["kind"]) == "B12H12"
    assert np.flatnonzero(in_b12).tolist() == np.flatnonzero(np.array(all_set["site_families"]) == 2).tolist()


def test_relaxed_onbh_has_4_of_12_na_between_two_b12h12_layers(example_structures_dir):
    """Relaxed with the potential (oNBH.extxyz, the ordering of rank 3), the 4a Na of family 0 moves
    about 2 A along -b, past the B12H12 layer: between two B12H12 layers, no BH4 centre within 4 A."""
    atoms = read(example_structures_dir / "oNBH.extxyz")
    centres, kinds = anions_of(atoms)
    layers = slabs.find_layers(centres, kinds, atoms.cell.array)
    na = atoms.get_scaled_positions()[np.array(atoms.get_chemical_symbols()) == "Na"]
    out = slabs.point_slabs(na, layers)
    cn = slabs.site_coordination(na, centres, kinds, atoms.cell.array)
    b12 = np.array(out["kind"]) == "B12H12"
    assert slabs.AXIS_NAMES[layers.axis] == "b" and b12.sum() == 4
    assert {out["between"][i] for i in np.flatnonzero(b12)} == {"B12H12|B12H12"}
    assert {out["between"][i] for i in np.flatnonzero(~b12)} == {"BH4|BH4"}
    assert out["margin_A"].min() > 1.8
    assert cn["BH4"]["n"][b12].tolist() == [0] * 4 and cn["BH4"]["nearest_A"][b12].min() > 5.0
    assert cn["BH4"]["n"][~b12].tolist() == [2] * 8
    supercell = atoms.cell.array * [[2], [1], [2]]
    reference = site_reference.reference_from_structure(example_structures_dir / "oNBH.extxyz", "Na", supercell)
    assert reference.sites.n_sites == 48 and sorted(np.bincount(reference.sites.family)) == [16, 32]
    moved, info = site_reference.align_reference(reference, reference.centres_frac, reference.kinds, supercell)
    assert info["anion_rms_A"] < 1e-6  # onto itself (or a symmetry-equivalent copy of itself)
    assert site_reference.match_reference(moved.frac, reference.sites, supercell)["distance_A"].max() < 1e-6


@pytest.mark.parametrize("rank, in_b12, between_b12", [(0, 8, 4), (1, 8, 4), (2, 4, 4), (3, 4, 4)])
def test_every_relaxed_ordering_has_na_in_the_b12h12_slabs(example_structures_dir, rank, in_b12, between_b12):
    """The four relaxed BH4-slab orderings (onbh_orderings/): 4 Na between two B12H12 layers in each; ranks
    0 and 1 also 4 Na between a B12H12 and a BH4 layer, nearer the B12H12 one (0.4-0.5 A from the boundary)."""
    atoms = read(example_structures_dir / "onbh_orderings" / f"oNBH_bh4_slabs_r{rank}.extxyz")
    centres, kinds = anions_of(atoms)
    layers = slabs.find_layers(centres, kinds, atoms.cell.array)
    out = slabs.point_slabs(atoms.get_scaled_positions()[np.array(atoms.get_chemical_symbols()) == "Na"], layers)
    assert slabs.AXIS_NAMES[layers.axis] == "b"
    assert out["kind"].count("B12H12") == in_b12 and out["between"].count("B12H12|B12H12") == between_b12
