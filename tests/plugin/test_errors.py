"""Every bad input gives one clear LAMMPS error naming the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pydriver.lammps.single_point import lammps_single_point
from pydriver.lammps.session import start_lammps
from pydriver.model_file import CHECKSUM_KEY, FORMAT_VERSION
from tests.conftest import NABH_CHECKPOINT
from tests.golden import NABH, golden_frames
from tests.model_damage import damage_entry, largest_tensors

pytestmark = pytest.mark.lammps


@pytest.fixture(scope="module")
def nabh4():
    return next(a for a, _ in golden_frames(NABH) if a.info["name"] == "nabh4_ordered")


def _setup(lmp, units="metal"):
    lmp.commands_list([f"units {units}", "atom_style atomic", "region box block 0 6 0 6 0 6",
                       "create_box 3 box", "create_atoms 1 single 0 0 0", "create_atoms 2 single 3 0 0",
                       "create_atoms 3 single 3 1.2 0", "mass * 1.0"])


def _error_of(commands, units="metal"):
    lmp = start_lammps()
    try:
        _setup(lmp, units)
        with pytest.raises(Exception) as info:
            lmp.commands_list(commands)
        return str(info.value)
    finally:
        lmp.close()


def test_requires_units_metal():
    msg = _error_of(["pair_style m3gnet"], units="real")
    assert "Pair style m3gnet: requires 'units metal'" in msg and "real" in msg


def test_unknown_keyword_and_device():
    assert "unknown keyword 'fast'" in _error_of(["pair_style m3gnet fast yes"])
    assert "device 'tpu' is not cpu, cuda" in _error_of(["pair_style m3gnet device tpu"])


def test_missing_model_file(tmp_path):
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {tmp_path}/none.pt Na B H"])
    assert "cannot open model file" in msg or "cannot load" in msg


def test_element_not_in_model_and_wrong_count(exported):
    model = exported(NABH, "float64")
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {model} Na B Cl"])
    assert "element Cl (atom type 3) not in model M3GNet-r2SCAN-NaBH; it has " in msg
    assert all(el in msg.split("it has ")[1] for el in ("Na", "B", "H"))
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {model} Na B"])
    assert "3 element(s), one per atom type" in msg


def test_foreign_and_wrong_version_files(exported, tmp_path):
    plain = torch.jit.script(torch.nn.Linear(2, 2))
    plain.save(str(tmp_path / "plain.pt"))
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {tmp_path / 'plain.pt'} Na B H"])
    assert "has no metadata.json: not written by `python -m pydriver export`" in msg
    extra = {"metadata.json": ""}
    module = torch.jit.load(str(exported(NABH, "float64")), _extra_files=extra)
    meta = json.loads(extra["metadata.json"])
    meta["format_version"] = 99
    module.save(str(tmp_path / "future.pt"), _extra_files={"metadata.json": json.dumps(meta)})
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {tmp_path / 'future.pt'} Na B H"])
    assert f"format_version 99 but this plugin reads version {FORMAT_VERSION}: re-export it" in msg
    meta["format_version"] = 2  # a file of the previous format: no checksums
    del meta[CHECKSUM_KEY]
    module.save(str(tmp_path / "old.pt"), _extra_files={"metadata.json": json.dumps(meta)})
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {tmp_path / 'old.pt'} Na B H"])
    assert (f"format_version 2 but this plugin reads version {FORMAT_VERSION}: re-export it with "
            "`python -m pydriver export <checkpoint folder> <file>`") in msg
    (tmp_path / "garbage.pt").write_bytes(b"\x00" * 64)
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {tmp_path / 'garbage.pt'} Na B H"])
    assert "cannot load TorchScript file" in msg


@pytest.mark.parametrize("rank", [0, 1])
def test_a_damaged_weight_tensor_is_refused_naming_the_entry(exported, tmp_path, rank):
    path = exported(NABH, "float64")
    entry = largest_tensors(path)[rank]
    bad = damage_entry(path, tmp_path / "damaged.pt", entry)
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {bad} Na B H"])
    assert f"Pair style m3gnet: model file {bad}: archive entry {entry} is damaged (" in msg
    assert "re-export it with `python -m pydriver export" in msg


def test_a_checkpoint_folder_says_export_it_first():
    msg = _error_of(["pair_style m3gnet", f"pair_coeff * * {NABH_CHECKPOINT} Na B H"])
    assert (f"Pair style m3gnet: {NABH_CHECKPOINT} is a matgl checkpoint folder; export it first with "
            f"`python -m pydriver export {NABH_CHECKPOINT} model.pt`") in msg


def test_newton_off_is_rejected(exported, nabh4):
    with pytest.raises(Exception, match="requires newton pair on"):
        lammps_single_point(nabh4, exported(NABH, "float64"), ["Na", "B", "H"], pre_commands=("newton off",))


def test_overlapping_atoms_give_non_finite_energy_error(exported, nabh4):
    atoms = nabh4.copy()
    atoms.positions[1] = atoms.positions[0]  # B on top of Na
    with pytest.raises(Exception, match="non-finite energy"):
        lammps_single_point(atoms, exported(NABH, "float64"), ["Na", "B", "H"])
    assert np.isfinite(lammps_single_point(nabh4, exported(NABH, "float64"), ["Na", "B", "H"]).energy_eV)
