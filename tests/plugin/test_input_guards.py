"""LAMMPS settings that would give m3gnet a wrong graph or a wrong element map are refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase.io.lammpsdata import write_lammps_data

from pydriver.lammps.session import start_lammps
from tests.golden import NABH, golden_frames

pytestmark = pytest.mark.lammps

ELEMENTS = ["Na", "B", "H"]
MASSES = ["mass 1 22.99", "mass 2 10.81", "mass 3 1.008"]


@pytest.fixture(scope="module")
def nabh4_data(tmp_path_factory) -> Path:
    """The 24-atom ordered NaBH4 cell as an atom_style full data file (types Na B H; BH4 molecules)."""
    atoms = next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered").copy()
    types = np.array([ELEMENTS.index(s) + 1 for s in atoms.get_chemical_symbols()])
    atoms.set_array("type", types)
    # molecule ID: each H joins its nearest B; Na alone (0)
    boron = np.flatnonzero(types == 2)
    mol = np.zeros(len(atoms), dtype=int)
    mol[boron] = np.arange(1, len(boron) + 1)
    for h in np.flatnonzero(types == 3):
        d = atoms.get_distances(h, boron, mic=True)
        mol[h] = mol[boron[np.argmin(d)]]
    atoms.set_array("mol-id", mol)
    path = tmp_path_factory.mktemp("guards") / "data.lmp"
    write_lammps_data(path, atoms, specorder=None, masses=False, units="metal", atom_style="full", force_skew=True)
    return path


def _with_labels(data: Path, labels: list[str], out: Path) -> Path:
    """``data`` with an ``Atom Type Labels`` section before its Atoms section."""
    text = data.read_text()
    section = "Atom Type Labels\n\n" + "".join(f"{t} {label}\n" for t, label in enumerate(labels, 1)) + "\n"
    at = text.index("\nAtoms")
    out.write_text(text[:at + 1] + section + text[at + 1:])
    return out


def _energy(data: Path, model: Path, before: list[str] = (), after: list[str] = (),
            pair: list[str] | None = None) -> float:
    """Potential energy (eV) of ``run 0``; LAMMPS errors propagate as exceptions."""
    lmp = start_lammps()
    try:
        lmp.commands_list(["units metal", "atom_style full", "boundary p p p", *before, f"read_data {data}", *MASSES,
                           "group bh4 type 2 3", "group na type 1", *after,
                           *(pair or ["pair_style m3gnet", f"pair_coeff * * {model} {' '.join(ELEMENTS)}"]),
                           "run 0"])
        return float(lmp.get_thermo("pe"))
    finally:
        lmp.close()


def _error(*args, **kwargs) -> str:
    with pytest.raises(Exception) as info:
        _energy(*args, **kwargs)
    return str(info.value)


@pytest.fixture(scope="module")
def plain_eV(nabh4_data, exported) -> float:
    return _energy(nabh4_data, exported(NABH, "float64"))


@pytest.mark.parametrize("rule, named", [
    ("exclude type 2 3", "type 2 3"),
    ("exclude type 1 1", "type 1 1"),
    ("exclude group bh4 bh4", "group bh4 bh4"),
    ("exclude group na all", "group na all"),
    ("exclude molecule/intra all", "molecule/intra all"),
    ("exclude molecule/inter bh4", "molecule/inter bh4"),
])
def test_neighbour_exclusions_are_refused(nabh4_data, exported, plain_eV, rule, named):
    model = exported(NABH, "float64")
    msg = _error(nabh4_data, model, after=[f"neigh_modify {rule}"])
    assert f"Pair style m3gnet: neigh_modify exclude {named} removes pairs from the neighbour list" in msg
    assert "'neigh_modify exclude none'" in msg
    # the fix it names works
    assert _energy(nabh4_data, model, after=[f"neigh_modify {rule}", "neigh_modify exclude none"]) == pytest.approx(
        plain_eV, abs=1e-9)


def test_neighbour_include_group_is_refused(nabh4_data, exported):
    msg = _error(nabh4_data, exported(NABH, "float64"), after=["atom_modify first na", "neigh_modify include na"])
    assert "Pair style m3gnet: neigh_modify include na leaves atoms outside that group without neighbours" in msg


def test_hybrid_that_takes_type_pairs_from_m3gnet_is_refused(nabh4_data, exported, plain_eV):
    model = exported(NABH, "float64")
    msg = _error(nabh4_data, model, pair=["pair_style hybrid m3gnet zero 6.0",
                                          f"pair_coeff * * m3gnet {model} Na B H", "pair_coeff 1 1 zero"])
    assert "Pair style m3gnet: pair_style hybrid gives type pair 1 1 to another style" in msg
    assert "hybrid/overlay" in msg
    energy = _energy(nabh4_data, model, pair=["pair_style hybrid/overlay m3gnet zero 6.0",
                                              f"pair_coeff * * m3gnet {model} Na B H", "pair_coeff * * zero"])
    assert energy == pytest.approx(plain_eV, abs=1e-9)


@pytest.mark.parametrize("labels, message", [
    (["H_BH4", "B_BH4", "Na"], "atom type 1 is labelled H_BH4 (element H) but pair_coeff maps it to Na: "
                               "list the elements in type order (H B Na)"),
    (["Na", "H", "B"], "atom type 2 is labelled H (element H) but pair_coeff maps it to B"),
    (["Na", "Br", "H"], "atom type 2 is labelled Br (element Br) but pair_coeff maps it to B"),
    (["N_site", "B", "H"], "atom type 1 is labelled N_site (element N) but pair_coeff maps it to Na"),
])
def test_type_labels_that_contradict_pair_coeff_are_refused(nabh4_data, exported, tmp_path, labels, message):
    model = exported(NABH, "float64")
    from_file = _with_labels(nabh4_data, labels, tmp_path / "labelled.lmp")
    assert f"Pair style m3gnet: {message}" in _error(from_file, model)
    command = "labelmap atom " + " ".join(f"{t} {label}" for t, label in enumerate(labels, 1))
    assert f"Pair style m3gnet: {message}" in _error(nabh4_data, model, after=[command])


@pytest.mark.parametrize("command, message", [
    ("labelmap atom 1 H_BH4", "atom type 1 is labelled H_BH4 (element H) but pair_coeff maps it to Na"),
    ("labelmap atom 3 Na", "atom type 3 is labelled Na (element Na) but pair_coeff maps it to H"),
])
def test_a_partial_label_map_is_checked_too(nabh4_data, exported, plain_eV, command, message):
    """Labels given for some types only (LAMMPS writes no data-file section for them) are checked."""
    model = exported(NABH, "float64")
    assert f"Pair style m3gnet: {message}" in _error(nabh4_data, model, after=[command])
    assert _energy(nabh4_data, model, after=["labelmap atom 2 B_BH4"]) == pytest.approx(plain_eV, abs=1e-9)


@pytest.mark.parametrize("labels", [["Na", "B_BH4", "H_BH4"], ["Na1", "B_B12H12", "H"], ["cation", "anion_b", "Hx"]])
def test_type_labels_that_name_the_mapped_element_or_none_run(nabh4_data, exported, plain_eV, tmp_path, labels):
    data = _with_labels(nabh4_data, labels, tmp_path / "labelled.lmp")
    assert _energy(data, exported(NABH, "float64")) == pytest.approx(plain_eV, abs=1e-9)
