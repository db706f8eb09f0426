"""Graph building from real-world inputs: bonded data files, sparse atom IDs, NULL in pair_coeff."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from ase.data import atomic_masses, atomic_numbers
from ase.io.lammpsdata import write_lammps_data

from pydriver.lammps.single_point import lammps_single_point
from pydriver.lammps.session import start_lammps
from tests.golden import NABH, golden_frames

pytestmark = pytest.mark.lammps
ELEMENTS = ["Na", "B", "H"]


@pytest.fixture(scope="module")
def nabh4():
    return next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_triclinic")


def _typed(atoms):
    typed = atoms.copy()
    typed.set_array("type", np.array([ELEMENTS.index(s) + 1 for s in atoms.get_chemical_symbols()]))
    return typed


def _run0(setup: list[str], model: Path) -> tuple[float, np.ndarray]:
    """Energy (eV) and forces sorted by atom ID after ``run 0``."""
    lmp = start_lammps()
    try:
        lmp.commands_list(setup)
        lmp.commands_list([f"mass {t} {atomic_masses[atomic_numbers[el]]}" for t, el in enumerate(ELEMENTS, 1)])
        lmp.commands_list(["pair_style m3gnet", f"pair_coeff * * {model} {' '.join(ELEMENTS)}", "run 0"])
        nlocal = int(lmp.extract_global("nlocal"))
        ids = np.asarray(lmp.numpy.extract_atom("id"))[:nlocal]
        forces = np.asarray(lmp.numpy.extract_atom("f"))[:nlocal][np.argsort(ids)].copy()
        return float(lmp.get_thermo("pe")), forces
    finally:
        lmp.close()


def _bonded_setup(atoms, tmp_path: Path, special: str | None) -> list[str]:
    data = tmp_path / "data.full"
    write_lammps_data(data, _typed(atoms), masses=False, units="metal", atom_style="full", force_skew=True)
    cmds = ["units metal", "atom_style full", "boundary p p p",
            f"read_data {data} extra/bond/types 1 extra/bond/per/atom 4 extra/special/per/atom 12",
            "bond_style zero", "bond_coeff 1"]
    if special:
        cmds.append(special)
    # bond the first B to its H neighbours (IDs of the 24-atom cell: B then H follow Na)
    b_id = next(i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "B") + 1
    d = atoms.get_distances(b_id - 1, range(len(atoms)), mic=True)
    for h in [i for i in np.argsort(d) if atoms[i].symbol == "H"][:4]:
        cmds.append(f"create_bonds single/bond 1 {b_id} {h + 1}")
    return cmds


def test_bonds_with_default_special_bonds_are_rejected(exported, nabh4, tmp_path):
    model = exported(NABH, "float64")
    with pytest.raises(Exception, match=r"special_bonds 1-2 factors lj 0 coul 0 remove .*add 'special_bonds lj/coul 1 1 1'"):
        _run0(_bonded_setup(nabh4, tmp_path, None), model)


@pytest.mark.parametrize("special", ["special_bonds lj/coul 1 1 1", "special_bonds lj 0.5 0.5 0.5 coul 0 0 0"])
def test_bonds_kept_in_the_list_match_atomic(exported, nabh4, tmp_path, special):
    """Pairs kept (factor 1) or only flagged (other factors) in the neighbour list are all bonds."""
    model = exported(NABH, "float64")
    ref = lammps_single_point(nabh4, model, ELEMENTS)
    energy, forces = _run0(_bonded_setup(nabh4, tmp_path, special), model)
    assert energy == pytest.approx(ref.energy_eV, abs=1e-9)
    assert np.abs(forces - ref.forces_eV_A).max() < 1e-9


@pytest.mark.parametrize("atom_map", [None, "atom_modify map hash"])
def test_sparse_atom_ids(exported, nabh4, tmp_path, atom_map):
    """IDs near 2^31: the old tag -> index array would need 8 GB; results must not change."""
    model = exported(NABH, "float64")
    ref_e, ref_f = _run0(_atomic_setup(nabh4, tmp_path, None, None), model)
    ids = 2_000_000_000 - 1000 * np.arange(len(nabh4))[::-1]
    energy, forces = _run0(_atomic_setup(nabh4, tmp_path, ids, atom_map), model)
    assert energy == pytest.approx(ref_e, abs=1e-9)
    assert np.abs(forces - ref_f).max() < 1e-9  # ids increase with the original order


def _atomic_setup(atoms, tmp_path: Path, ids, atom_map: str | None) -> list[str]:
    data = tmp_path / "data.atomic"
    write_lammps_data(data, _typed(atoms), masses=False, units="metal", atom_style="atomic", force_skew=True)
    if ids is not None:
        text = data.read_text()
        head, body = text.split("Atoms # atomic")
        lines = body.strip("\n").splitlines()
        new = [re.sub(r"^\s*(\d+)", lambda m: str(ids[int(m.group(1)) - 1]), ln) for ln in lines]
        data.write_text(head + "Atoms # atomic\n\n" + "\n".join(new) + "\n")
    cmds = ["units metal", "atom_style atomic", "boundary p p p"]
    if atom_map:
        cmds.append(atom_map)
    return cmds + [f"read_data {data}"]


def test_null_in_pair_coeff_is_a_clear_error(exported):
    lmp = start_lammps()
    try:
        lmp.commands_list(["units metal", "atom_style atomic", "region box block 0 6 0 6 0 6",
                           "create_box 3 box", "create_atoms 1 single 0 0 0", "mass * 1.0",
                           "pair_style m3gnet"])
        with pytest.raises(Exception, match="NULL for atom type 3 is not supported"):
            lmp.command(f"pair_coeff * * {exported(NABH, 'float64')} Na B NULL")
    finally:
        lmp.close()
