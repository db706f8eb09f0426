"""Generation step of examples/structures/search_structures.py (rigid-ion pyxtal candidates)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from pydriver.structures import find_anions

pyxtal = pytest.importorskip("pyxtal", reason="the structure search needs pyxtal (pip install pyxtal)")


@pytest.fixture(scope="module")
def search(example_structures_dir):
    spec = importlib.util.spec_from_file_location("search_structures", example_structures_dir / "search_structures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("phase", "n_atoms", "counts", "space_group"), [
    ("Na2B12H12", 52, {"B12H12": 2}, 14),
    ("oNBH", 128, {"BH4": 4, "B12H12": 4}, 36),
])
def test_generated_candidates(search, phase, n_atoms, counts, space_group):
    import spglib

    candidates = search.generate_candidates(phase, n=1, seed=3)
    assert candidates, "no candidate generated"
    target_A3 = search.PHASES[phase]["target_volume_A3"]
    for atoms in candidates:
        assert len(atoms) == n_atoms
        assert find_anions(atoms).counts == counts
        assert atoms.info["volume_scale"] in search.VOLUME_SCALES
        assert atoms.get_volume() == pytest.approx(target_A3 * atoms.info["volume_scale"])
        dataset = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
                                              symprec=1e-3)
        assert dataset.number == space_group
        # rigid ions: B-H bonds keep their length
        anion = find_anions(atoms).anions[0]
        whole = find_anions(atoms).unwrapped_positions_A[anion.atom_indices]
        assert np.min(np.linalg.norm(whole[1:] - whole[0], axis=1)) > 1.2
