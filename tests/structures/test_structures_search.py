"""Rigid-ion candidates with pyxtal (pydriver.structures.search.pyxtal_search) and the Na2B12H12 cell
choice (pydriver.structures.search.na2b12h12)."""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.structures import find_anions, read_structure
from pydriver.structures.search.na2b12h12 import glide_translation, to_p21n
from pydriver.structures.search.pyxtal_search import PhaseSpec, generate_candidates

PHASES = {"Na2B12H12": PhaseSpec(14, {"B12H12": 2, "BH4": 0, "Na": 4}, 786.0),
          "oNBH": PhaseSpec(36, {"B12H12": 4, "BH4": 4, "Na": 12}, 1800.0)}
SCALES = (0.92, 1.0, 1.08)


@pytest.mark.parametrize(("phase", "n_atoms", "counts"), [
    ("Na2B12H12", 52, {"B12H12": 2}),
    ("oNBH", 128, {"BH4": 4, "B12H12": 4}),
])
def test_generated_candidates(phase, n_atoms, counts):
    pytest.importorskip("pyxtal", reason="the structure search needs pyxtal (pip install pyxtal)")
    import spglib

    spec = PHASES[phase]
    candidates = generate_candidates(spec, n=1, seed=3, volume_scales=SCALES)
    assert candidates, "no candidate generated"
    for atoms in candidates:
        assert len(atoms) == n_atoms
        assert find_anions(atoms).counts == counts
        assert atoms.info["volume_scale"] in SCALES
        assert atoms.get_volume() == pytest.approx(spec.target_volume_A3 * atoms.info["volume_scale"])
        dataset = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
                                              symprec=1e-3)
        assert dataset.number == spec.space_group
        # rigid ions: B-H bonds keep their length
        anion = find_anions(atoms).anions[0]
        whole = find_anions(atoms).unwrapped_positions_A[anion.atom_indices]
        assert np.min(np.linalg.norm(whole[1:] - whole[0], axis=1)) > 1.2


def test_to_p21n_recovers_the_n_glide_cell(example_structures_dir):
    """The committed Na2B12H12 (P2_1/n) in another cell choice (a' = a + c: glide translation changes)
    comes back to the n-glide cell with the same beta and volume."""
    atoms = read_structure(example_structures_dir / "Na2B12H12.extxyz")
    assert np.allclose(glide_translation(atoms)[[0, 2]], 0.5)
    a, b, c = atoms.cell.array
    other = atoms.copy()
    other.set_cell([a + c, b, c], scale_atoms=False)
    other.wrap()
    assert not np.allclose(glide_translation(other)[[0, 2]], 0.5)
    back = to_p21n(other)
    assert np.allclose(glide_translation(back)[[0, 2]], 0.5)
    assert back.cell.cellpar()[4] == pytest.approx(atoms.cell.cellpar()[4], abs=1e-6)
    assert back.get_volume() == pytest.approx(atoms.get_volume())
    assert sorted(back.cell.lengths()) == pytest.approx(sorted(atoms.cell.lengths()))
