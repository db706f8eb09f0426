"""Records and script options of the structure searches (pydriver.structures.search.records, .options)."""

from __future__ import annotations

import argparse
import json

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from pydriver.structures import read_structure
from pydriver.structures.search import describe, energy_report, write_model_files
from pydriver.structures.search.onbh import OnbhSettings
from pydriver.structures.search.options import option_specs, parse_bool, settings_from
from pydriver.structures.search.pyxtal_search import SearchSettings


def test_describe_and_energy_report(example_structures_dir):
    nabh4 = read_structure(example_structures_dir / "NaBH4_relaxed.extxyz")
    record = describe(nabh4)
    # 4 NaBH4 (37.83 g/mol) per cell: density = 4 * 37.83 / (N_A V)
    assert record["density_g_cm3"] == pytest.approx(4 * 37.833 / 6.02214076e23 / (record["volume_A3"] * 1e-24),
                                                    rel=1e-3)
    assert record["space_group"] == "F-43m (216)"
    cu = bulk("Cu", "fcc", a=3.7, cubic=True)
    energy = energy_report(cu, EMT())
    assert energy["energy_per_atom_eV"] == pytest.approx(energy["energy_eV"] / 4)
    assert energy["max_force_eV_A"] == pytest.approx(0.0, abs=1e-9) and energy["pressure_GPa"] < 0


def test_model_files_agree(tmp_path):
    atoms = bulk("NaCl", "rocksalt", a=5.6, cubic=True)
    write_model_files("NaCl", atoms, {"status": "test model", "energy_eV": -1.0}, tmp_path, {"model": "none"})
    xyz, cif = read_structure(tmp_path / "NaCl.extxyz"), read_structure(tmp_path / "NaCl.cif")
    assert xyz.cell.cellpar() == pytest.approx(cif.cell.cellpar()) and len(xyz) == len(cif) == 8
    prov = json.loads((tmp_path / "NaCl.json").read_text())
    assert prov == {"status": "test model", "energy_eV": -1.0, "software": {"model": "none"}}


def test_options_from_settings_fields():
    parser = argparse.ArgumentParser()
    for flag, kwargs in option_specs(OnbhSettings, exclude=("seed",)):
        parser.add_argument(flag, **kwargs)
    assert "--seed" not in parser.format_help() and "--min-na-h-A" in parser.format_help()
    args = parser.parse_args(["--site-sets", "bh4_slabs", "--order-only", "--min-na-h-A", "2.2", "--resume", "x.json"])
    settings = settings_from(OnbhSettings, args, seed=7)
    assert settings == OnbhSettings(seed=7, site_sets=("bh4_slabs",), order_only=True, min_na_h_A=2.2, resume="x.json")
    parser = argparse.ArgumentParser()
    for flag, kwargs in option_specs(SearchSettings):
        parser.add_argument(flag, **kwargs)
    assert settings_from(SearchSettings, parser.parse_args([])) == SearchSettings()
    assert not settings_from(SearchSettings, parser.parse_args(["--keep-symmetry", "false"])).keep_symmetry
    assert parse_bool("Yes") and not parse_bool("0")
    with pytest.raises(ValueError, match="not true or false"):
        parse_bool("maybe")
