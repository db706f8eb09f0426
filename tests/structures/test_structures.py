"""Anion detection, atom types and supercells (pydriver.structures)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from pydriver.structures import (
    assign_types,
    find_anions,
    minimal_replication,
    pair_coeff_elements,
    perpendicular_widths_A,
    prepare_system,
    read_structure,
)
from tests.builders import mixed_anion_box as mixed_box
from pydriver.structures.builders import nabh4_cubic

# file -> expected (n_atoms, {anion kind: count}, n_Na) per unit cell
EXAMPLES = {
    "NaBH4.extxyz": (24, {"BH4": 4}, 4),
    "NaBH4.cif": (24, {"BH4": 4}, 4),
    "Na2B12H12.extxyz": (52, {"B12H12": 2}, 4),
    "Na2B12H12.cif": (52, {"B12H12": 2}, 4),
    "oNBH.extxyz": (128, {"BH4": 4, "B12H12": 4}, 12),
    "oNBH.cif": (128, {"BH4": 4, "B12H12": 4}, 12),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_anions(example_structures_dir, name):
    atoms = read_structure(example_structures_dir / name)
    n_atoms, counts, n_na = EXAMPLES[name]
    assert len(atoms) == n_atoms
    anion_map = find_anions(atoms)
    assert anion_map.counts == counts
    assert atoms.get_chemical_symbols().count("Na") == n_na
    assert sum(len(a.atom_indices) for a in anion_map.anions) == n_atoms - n_na
    if "BH4" in counts:
        assert counts["BH4"] == (n_na if "B12H12" not in counts else n_na // 3)


def test_anion_atoms_and_molecule_ids():
    atoms = mixed_box()
    anion_map = find_anions(atoms)
    assert anion_map.counts == {"BH4": 1, "B12H12": 1}
    assert anion_map.molecule_ids[:3].tolist() == [0, 0, 0]
    assert set(anion_map.molecule_ids[3:8]) == {1} and set(anion_map.molecule_ids[8:]) == {2}
    assert anion_map.anions[0].kind == "BH4" and atoms[anion_map.anions[0].atom_indices[0]].symbol == "B"
    # whole molecules: every H within 1.3 A of its B without minimum image
    whole = anion_map.unwrapped_positions_A
    tet = anion_map.anions[0].atom_indices
    assert np.allclose(np.linalg.norm(whole[tet[1:]] - whole[tet[0]], axis=1), 1.21)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a + Atoms("H", positions=[[1.5, 1.5, 4.5]]), "isolated H"),
        (lambda a: a[[i for i in range(len(a)) if i != 5]], "unrecognised fragment B1H3"),
        (lambda a: a + Atoms("Na", positions=[[0.1, 0.0, 0.0]]), "overlapping atoms"),
        (lambda a: a + Atoms("Na", positions=[[0.0, 0.0, 6.1]]), "overlapping atoms"),
    ],
    ids=["isolated-H", "BH3", "overlap", "overlap-periodic-image"],
)
def test_bad_structures_raise(edit, message):
    atoms = edit(nabh4_cubic())
    with pytest.raises(ValueError, match=message):
        find_anions(atoms)


def test_broken_cage_raises():
    atoms = mixed_box()
    del atoms[-1]  # drop one H of the B12H12 cage
    with pytest.raises(ValueError, match="unrecognised fragment B12H11"):
        find_anions(atoms)


def test_type_order_and_pair_coeff():
    atoms = mixed_box() + Atoms("Li", positions=[[15, 15, 15]])
    types, type_ids = assign_types(atoms, find_anions(atoms))
    assert [t.label for t in types] == ["Na", "B_BH4", "H_BH4", "B_B12H12", "H_B12H12", "Li"]
    assert [t.type for t in types] == [1, 2, 3, 4, 5, 6]
    assert pair_coeff_elements(types) == ["Na", "B", "H", "B", "H", "Li"]
    assert type_ids[:3].tolist() == [1, 1, 1] and type_ids[3] == 2 and type_ids[-1] == 6


def test_absent_kinds_dropped_order_kept():
    cage_only = mixed_box()
    del cage_only[3:8]  # remove the BH4
    types, _ = assign_types(cage_only, find_anions(cage_only))
    assert [(t.type, t.label) for t in types] == [(1, "Na"), (2, "B_B12H12"), (3, "H_B12H12")]


def test_supercell_rule_cubic():
    assert minimal_replication(nabh4_cubic().cell.array) == (2, 2, 2)
    assert minimal_replication(np.diag([10.0, 9.99, 10.01])) == (2, 2, 1)  # strictly > 10 A
    system = prepare_system(nabh4_cubic())
    assert system.replication == (2, 2, 2) and len(system.atoms) == 192
    assert prepare_system(nabh4_cubic(), replication=(1, 1, 2)).replication == (1, 1, 2)


def test_supercell_rule_uses_perpendicular_widths():
    cell = np.array([[10.5, 0, 0], [8.0, 8.0, 0], [0, 0, 10.5]])  # every edge > 10 A
    assert np.allclose(perpendicular_widths_A(cell), [10.5 * 8 * 10.5 / (8 * 10.5 * np.sqrt(2)), 8.0, 10.5])
    assert minimal_replication(cell) == (2, 2, 1)
    assert minimal_replication(cell, min_width_A=5.0) == (1, 1, 1)
    with pytest.raises(ValueError, match="min_width_A"):
        minimal_replication(cell, min_width_A=0)


def test_read_structure_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_structure(tmp_path / "missing.cif")
    path = tmp_path / "molecule.xyz"
    path.write_text("1\n\nNa 0 0 0\n")
    with pytest.raises(ValueError, match="3D periodic"):
        read_structure(path)


def test_read_poscar(tmp_path):
    import ase.io

    ase.io.write(tmp_path / "POSCAR", nabh4_cubic(), format="vasp")
    atoms = read_structure(tmp_path / "POSCAR")
    assert find_anions(atoms).counts == {"BH4": 4}
