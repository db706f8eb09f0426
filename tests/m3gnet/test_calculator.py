"""The ASE calculator over exported models vs golden reference data, and checkpoint loading errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from pydriver.m3gnet.calculator import M3GNetCalculator
from pydriver.m3gnet.checkpoint import CheckpointError, load_checkpoint
from pydriver.m3gnet.export import export_checkpoint
from pydriver.model_file import read_metadata
from tests.conftest import MODELS_DIR
from tests.golden import CHECKPOINTS, TOL, golden_frames


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_calculator_matches_reference(exported, checkpoint, dtype):
    calc = M3GNetCalculator(exported(checkpoint, dtype))
    tol = TOL[dtype]
    for atoms, ref in golden_frames(checkpoint):
        atoms.calc = calc
        n = len(atoms)
        assert abs(atoms.get_potential_energy() - ref["energy"]) / n < tol["energy_eV_atom"]
        assert np.abs(atoms.get_forces() - np.array(ref["forces"])).max() < tol["force_eV_A"]
        assert np.abs(atoms.get_stress(voigt=False) - np.array(ref["stress"])).max() < tol["stress_eV_A3"]
        assert atoms.get_potential_energies().sum() == pytest.approx(atoms.get_potential_energy(), abs=1e-6)


#: matgl 1.3.0 DGL reference (``../shared/tools/reference_calc.py``, corrected indexing, float64) for a Na-Na
#: pair in a 30 A box at r = 4.999 and 5.001 A: energy (eV) and the force on the second atom along x (eV/A)
NA_PAIR_REFERENCE = {4.999: (-5.1505611059604846, -0.5185445563103419), 5.001: (-5.150043129295625, 0.0)}


def test_force_jump_at_the_cutoff_of_a_non_smooth_checkpoint(exported):
    """M3GNet-r2SCAN-NaBH (``use_smooth`` false) has a radial basis that vanishes at the 5 A cutoff with a
    non-zero slope: the energy is continuous there, the force is not (an isolated Na-Na pair: -0.52 eV/A
    just inside, 0 outside). The exported model reproduces the reference on both sides; a smooth
    checkpoint (MatPES, ``use_smooth`` true) has no jump."""
    from ase import Atoms

    calc = M3GNetCalculator(exported("M3GNet-r2SCAN-NaBH", "float64"))
    for r, (energy, force) in NA_PAIR_REFERENCE.items():
        pair = Atoms("Na2", positions=[[0, 0, 0], [r, 0, 0]], cell=[30, 30, 30], pbc=True, calculator=calc)
        assert pair.get_potential_energy() == pytest.approx(energy, abs=1e-9)
        assert pair.get_forces()[1, 0] == pytest.approx(force, abs=1e-9)
    smooth = M3GNetCalculator(exported("M3GNet-MatPES-r2SCAN-v2025.1-PES", "float64"))
    inside = Atoms("Na2", positions=[[0, 0, 0], [4.999, 0, 0]], cell=[30, 30, 30], pbc=True, calculator=smooth)
    assert abs(inside.get_forces()[1, 0]) < 1e-4


def test_metadata_contract(exported):
    meta = read_metadata(exported(CHECKPOINTS[0], "float64"))
    assert meta["format"] == "pydriver-m3gnet" and meta["format_version"] == 3
    assert meta["elements"] == ["H", "B", "Na"]
    assert (meta["cutoff_A"], meta["threebody_cutoff_A"], meta["nblocks"]) == (5.0, 4.0, 3)
    assert meta["dtype"] == "float64" and len(meta["source_sha256"]) == 64
    assert meta["model_name"] == "M3GNet-r2SCAN-NaBH"


def test_tolerant_loading_drops_unknown_kwargs(caplog):
    """NaBH has calc_site_wise, MP/MatPES calc_magmom (+debug_mode): dropped, logged at DEBUG only (they do not
    change energies or forces; a warning on every export would be noise)."""
    with caplog.at_level("DEBUG", logger="pydriver.m3gnet.checkpoint"):
        ckpt = load_checkpoint(MODELS_DIR / "M3GNet-r2SCAN-NaBH")
    assert ckpt.dropped_kwargs == ["calc_site_wise"]
    assert [r.levelname for r in caplog.records if "calc_site_wise" in r.getMessage()] == ["DEBUG"]
    assert load_checkpoint(MODELS_DIR / "M3GNet-MatPES-r2SCAN-v2025.1-PES").dropped_kwargs == [
        "calc_magmom", "debug_mode"]


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_checkpoint(tmp_path)
    src = MODELS_DIR / "M3GNet-r2SCAN-NaBH"
    bad = tmp_path / "not_m3gnet"
    shutil.copytree(src, bad)
    meta = json.loads((bad / "model.json").read_text())
    meta["@class"] = "MEGNet"
    (bad / "model.json").chmod(0o644)
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="expected a matgl 'Potential'"):
        load_checkpoint(bad)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(src, corrupt)
    (corrupt / "state.pt").chmod(0o644)
    (corrupt / "state.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(corrupt)
    other = tmp_path / "other_model"
    shutil.copytree(src, other)
    kwargs = torch.load(other / "model.pt", weights_only=True)
    kwargs["model"]["@class"] = "CHGNet"
    (other / "model.pt").chmod(0o644)
    torch.save(kwargs, other / "model.pt")
    with pytest.raises(CheckpointError, match="only M3GNet"):
        load_checkpoint(other)


def test_read_metadata_rejects_foreign_files(tmp_path):
    plain = torch.jit.script(torch.nn.Linear(2, 2))
    plain.save(str(tmp_path / "plain.pt"))
    with pytest.raises(ValueError, match="no metadata.json"):
        read_metadata(tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a TorchScript zip archive"):
        read_metadata(MODELS_DIR / "M3GNet-r2SCAN-NaBH" / "model.json")


def test_export_rejects_bad_options(tmp_path):
    with pytest.raises(ValueError, match="dtype"):
        export_checkpoint(MODELS_DIR / "M3GNet-r2SCAN-NaBH", tmp_path / "m.pt", dtype="float16")
    with pytest.raises(ValueError, match="device"):
        export_checkpoint(MODELS_DIR / "M3GNet-r2SCAN-NaBH", tmp_path / "m.pt", device="tpu")
