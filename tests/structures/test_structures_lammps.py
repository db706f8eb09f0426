"""LAMMPS reads our data files back correctly (boxes, triclinic rotation, labels, molecules)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from pydriver.structures import prepare_system, read_lammps_data
from pydriver.structures.builders import nabh4_cubic
from tests.builders import nabh4_primitive


def lammps_roundtrip(plain_lammps, system, tmp_path):
    system.write_data(tmp_path / "data.lmp")
    lmp = plain_lammps()
    for cmd in ("units metal", "atom_style full", f"read_data {tmp_path / 'data.lmp'}",
                f"write_data {tmp_path / 'lammps.lmp'}"):
        lmp.command(cmd)
    return read_lammps_data(tmp_path / "lammps.lmp")


@pytest.mark.parametrize("swap", [False, True], ids=["right-handed", "left-handed"])
def test_triclinic_roundtrip(plain_lammps, tmp_path, swap):
    system = prepare_system(nabh4_primitive(swap))
    assert system.replication == (3, 3, 3) and system.box.is_triclinic
    box = system.box
    assert abs(box.xy_A) <= box.lx_A / 2 + 1e-9 and abs(box.xz_A) <= box.lx_A / 2 + 1e-9
    assert abs(box.yz_A) <= box.ly_A / 2 + 1e-9
    data = lammps_roundtrip(plain_lammps, system, tmp_path)
    assert np.allclose(data["box"].cell, box.cell, atol=1e-6)
    # same crystal: all minimum-image distances agree with the original supercell
    back = Atoms(system.atoms.get_chemical_symbols(), positions=data["positions_A"], cell=data["box"].cell, pbc=True)
    assert np.allclose(back.get_all_distances(mic=True), system.atoms.get_all_distances(mic=True), atol=1e-5)
    assert abs(back.get_volume() - system.atoms.get_volume()) < 1e-4
    # anions whole in unwrapped coordinates (x + image . cell): every B-H bond 1.21 A without wrapping
    unwrapped = data["positions_A"] + data["images"] @ data["box"].cell
    for mol in range(1, data["molecule_ids"].max() + 1):
        members = np.flatnonzero(data["molecule_ids"] == mol)
        assert np.allclose(np.linalg.norm(unwrapped[members[1:]] - unwrapped[members[0]], axis=1), 1.21, atol=1e-5)


def test_labels_molecules_masses_from_lammps(plain_lammps, tmp_path):
    system = prepare_system(nabh4_cubic(), replication=(1, 1, 1))
    data = lammps_roundtrip(plain_lammps, system, tmp_path)
    assert data["labels"] == {1: "Na", 2: "B_BH4", 3: "H_BH4"}
    assert data["masses_amu"] == pytest.approx({1: 22.98976928, 2: 10.81, 3: 1.008})
    assert data["type_ids"].tolist() == system.type_ids.tolist()
    assert data["molecule_ids"].tolist() == [0] * 4 + [m for m in range(1, 5) for _ in range(5)]
    assert not system.box.is_triclinic
