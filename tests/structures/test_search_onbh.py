"""o-NBH builder (pydriver.structures.search.onbh): the framework in the published cell, its candidate
Na sites and the Ewald-ranked orderings reproduce the committed record (examples/structures/onbh_orderings.json)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pydriver.structures import find_anions
from pydriver.structures.search import space_group
from pydriver.structures.search.onbh import (
    GRID_BEST,
    PUBLISHED_CELL_A,
    OnbhSettings,
    anion_centres_frac,
    build_onbh,
    framework,
    in_bh4_slabs,
    min_hh_between_anions_A,
    ordering_structure,
    rank_site_set,
    with_na,
)


@pytest.fixture(scope="module")
def committed(example_structures_dir) -> dict:
    return json.loads((example_structures_dir / "onbh_orderings.json").read_text())


@pytest.fixture(scope="module")
def bh4_slabs():
    """The published site set ranked with 20 annealing restarts instead of 200 (about 5 s of CPU)."""
    return rank_site_set(GRID_BEST, framework(GRID_BEST), "bh4_slabs", OnbhSettings(n_restarts=20))


def test_framework_in_the_published_cell(committed):
    anions = framework(GRID_BEST)
    assert len(anions) == 4 * 24 + 4 * 5
    assert np.allclose(anions.cell.cellpar(), [*PUBLISHED_CELL_A, 90, 90, 90])
    assert find_anions(anions).counts == {"B12H12": 4, "BH4": 4}
    assert space_group(anions, 0.01) == "Cmc2_1 (36)"
    assert min_hh_between_anions_A(anions) == pytest.approx(committed["framework_min_hh_A"], abs=1e-9)
    assert committed["framework"] == pytest.approx(GRID_BEST.__dict__)
    centres, charges = anion_centres_frac(GRID_BEST)
    assert charges.sum() == -12  # neutralised by 12 Na
    assert in_bh4_slabs(centres, centres).tolist() == [False] * 4 + [True] * 4


def test_sites_and_orderings_reproduce_the_committed_record(bh4_slabs, committed):
    ref = committed["site_sets"]["bh4_slabs"]
    assert bh4_slabs["family_sizes"] == ref["family_sizes"] == [4, 8, 4, 8]
    assert np.allclose(bh4_slabs["candidate_sites_frac"], ref["candidate_sites_frac"], atol=1e-5)
    assert bh4_slabs["site_families"] == ref["site_families"]
    assert len(bh4_slabs["orderings"]) == len(ref["orderings"]) == 4
    for new, old in zip(bh4_slabs["orderings"], ref["orderings"]):
        assert new["sites"] == old["sites"]
        assert new["ewald_energy_eV"] == pytest.approx(old["ewald_energy_eV"], abs=1e-9)
        for key in ("multiplicity", "families", "space_group_unrelaxed", "na_in_bh4_slabs"):
            assert new[key] == old[key], key
    kept = bh4_slabs["orderings"][3]  # the committed oNBH.extxyz ordering: one 4a + one 8b family, Cmc2_1
    assert kept["families"] == [4, 8, 0, 0] and kept["space_group_unrelaxed"] == "Cmc2_1 (36)"
    atoms = with_na(framework(GRID_BEST), np.array(kept["na_frac"]))
    assert atoms.get_chemical_formula(mode="metal") == "Na12B52H64"


def test_build_onbh_needs_calculators_or_order_only(tmp_path):
    with pytest.raises(ValueError, match="rank_site_set|site set"):
        rank_site_set(GRID_BEST, framework(GRID_BEST), "b12_slabs", OnbhSettings())
    with pytest.raises(ValueError, match="calc32 and calc64"):
        build_onbh(OnbhSettings(site_sets=(), order_only=False), tmp_path)
    summary = build_onbh(OnbhSettings(site_sets=(), order_only=True), tmp_path)
    assert json.loads((tmp_path / "onbh_orderings.json").read_text())["framework"] == summary["framework"]


def test_ordering_structure_rebuilds_a_recorded_ordering(committed):
    atoms = ordering_structure(committed, "bh4_slabs", 3)
    assert find_anions(atoms).counts == {"B12H12": 4, "BH4": 4} and atoms.get_chemical_symbols().count("Na") == 12
    record = next(o for o in committed["site_sets"]["bh4_slabs"]["orderings"] if o["rank"] == 3)
    assert np.allclose(atoms.get_scaled_positions()[:12], np.array(record["na_frac"]) % 1.0, atol=1e-9)
    with pytest.raises(KeyError, match="no ordering of rank 9 in site set 'bh4_slabs'"):
        ordering_structure(committed, "bh4_slabs", 9)
    with pytest.raises(KeyError, match="site set 'nowhere' not in the record"):
        ordering_structure(committed, "nowhere", 0)
