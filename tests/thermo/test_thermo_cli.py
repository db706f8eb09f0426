"""``python -m pydriver thermo`` end to end on a cheap system: Na (bcc) + Cl2 (gas) -> NaCl with the
universal M3GNet-MP model; hulls, reaction dG(T), JSON and plots."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.build import bulk

from pydriver.cli.main import main
from pydriver.thermo.hull import energies_above_hull, reaction_free_energy, sign_change_temperature
from tests.conftest import MODELS_DIR

pytest.importorskip("phonopy")


def test_hull_and_reaction_helpers():
    g = {"A": -1.0, "B": -2.0, "AB": -4.0, "A2B": -3.0}
    comps = {"A": "Na", "B": "Cl", "AB": "NaCl", "A2B": "Na2Cl"}
    above = energies_above_hull(g, comps)
    assert above["AB"] == pytest.approx(0.0) and above["A"] == pytest.approx(0.0)
    # Na2Cl: hull at x(Cl) = 1/3 is 1/3 Na + 2/3 NaCl per... = (E_Na + E_NaCl) / 3 atoms = -5/3 eV/atom
    assert above["A2B"] == pytest.approx(-1.0 - (-5.0 / 3.0))
    dg = reaction_free_energy({"AB": np.array([-4.0, -3.0]), "A": -1.0, "B": -2.0}, {"AB": 1, "A": -1, "B": -1})
    assert np.allclose(dg, [-1.0, 0.0])
    assert sign_change_temperature([0, 100, 200], [-1.0, -0.5, 0.5]) == pytest.approx(150.0)
    assert sign_change_temperature([0, 100], [-1.0, -0.5]) is None


@pytest.fixture(scope="module")
def nacl_spec(tmp_path_factory, exported):
    folder = tmp_path_factory.mktemp("thermo-nacl")
    ase.io.write(folder / "Na.extxyz", bulk("Na", "bcc", a=4.2))
    ase.io.write(folder / "NaCl.extxyz", bulk("NaCl", "rocksalt", a=5.69))
    ase.io.write(folder / "Cl2.extxyz", Atoms("Cl2", positions=[[0, 0, 0], [0, 0, 2.0]], cell=[12] * 3, pbc=True))
    model = exported("M3GNet-MP-2021.2.8-PES", "float64")
    spec = {"model": str(model), "temperatures_K": [300, 650], "min_width_A": 6.0,
            "phases": [{"name": "Na", "file": "Na.extxyz"}, {"name": "NaCl", "file": "NaCl.extxyz"},
                       {"name": "Cl2", "file": "Cl2.extxyz", "gas": {"geometry": "linear", "symmetry_number": 2}}],
            "target": "NaCl", "reaction": {"NaCl": 1, "Na": -1, "Cl2": -0.5}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    return folder


def test_thermo_cli_end_to_end(nacl_spec, capsys):
    if not (MODELS_DIR / "M3GNet-MP-2021.2.8-PES").is_dir():
        pytest.fail("M3GNet-MP model missing")
    out = nacl_spec / "out"
    assert main(["-q", "thermo", str(nacl_spec / "spec.yaml"), "--out", str(out)]) == 0
    result = json.loads((out / "thermo.json").read_text())
    assert result["complete"]
    for name in ("hull_static.png", "hull_300K.png", "hull_650K.png", "dG.png"):
        assert (out / name).stat().st_size > 1000
    hulls = result["e_above_hull_eV_atom"]
    assert set(hulls) == {"static", "300K", "650K"}
    assert all(h["NaCl"] == pytest.approx(0.0, abs=1e-9) for h in hulls.values())
    nacl = result["phases"]["NaCl"]
    assert nacl["phonons"]["n_imaginary_gamma"] == 0
    assert nacl["phonons"]["supercell"] == [2, 2, 2] and min(nacl["phonons"]["supercell_widths_A"]) > 6.0
    reaction = result["reaction"]
    # formation free energy of NaCl from Na + 1/2 Cl2: about -3.5 to -4.3 eV per formula unit, less
    # negative at higher T (the gas loses entropy when it condenses)
    assert -4.5 < reaction["dE_static_eV_per_fu"] < -3.0
    assert reaction["dG_eV_per_fu"]["650K"] > reaction["dG_eV_per_fu"]["300K"]
    assert reaction["sign_change_K"] is None
    assert all(p["S_config_kB_per_atom"] == {"ideal": None, "orderings": None, "used": None}
               for p in result["phases"].values())  # no occupancy data: ordered phases
    assert reaction["dG_config_eV_per_fu"] == {"300K": 0.0, "650K": 0.0}
    assert result["phases"]["NaCl"]["relaxation"]["optimizer"] == "FIRE+BFGS"  # the structures' relaxation helper
    cl2 = result["phases"]["Cl2"]["gas"]
    assert 1.9 < cl2["bond_length_A"] < 2.1 and len(cl2["vib_energies_eV"]) == 1
    assert "above hull" in capsys.readouterr().out


def test_thermo_cli_missing_spec(tmp_path, capsys):
    assert main(["thermo", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
