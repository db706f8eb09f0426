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


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "model file not found: "),
    (lambda d: (d / "model_dir").mkdir(), "is neither an exported model file nor a matgl checkpoint folder (model.json, state.pt, model.pt)"),
])
def test_thermo_cli_bad_model(tmp_path, capsys, make, message):
    make(tmp_path)
    ase.io.write(tmp_path / "NaCl.extxyz", bulk("NaCl", "rocksalt", a=5.6))
    (tmp_path / "spec.yaml").write_text("model: model_dir\nphases:\n  - {name: NaCl, file: NaCl.extxyz}\n")
    assert main(["thermo", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "model_dir" in err[0]


def test_thermo_treatments_qha_anharmonic_and_band(nacl_spec, monkeypatch):
    """The same system with the phonon treatments, QHA for NaCl (5 volumes), an anharmonic block from
    given enthalpies (dH = c (T - T0): closed form), a second NaCl model as an alternative, and the band
    over all of it; cached forces and relaxations make a second run with another floor force-call free."""
    from pydriver.thermo.workflow import load_spec, run
    from pydriver.units import BOLTZMANN_EV_K

    if not (MODELS_DIR / "M3GNet-MP-2021.2.8-PES").is_dir():
        pytest.fail("M3GNet-MP model missing")
    spec = yaml.safe_load((nacl_spec / "spec.yaml").read_text())
    ase.io.write(nacl_spec / "NaCl_b.extxyz", bulk("NaCl", "rocksalt", a=5.75))
    c, n_md = 1e-5, 64
    t_md = [100.0, 300.0, 600.0, 900.0]
    spec["phases"][1]["anharmonic"] = {"n_atoms_md": n_md, "enthalpies": [
        {"T_K": t, "H_eV_per_atom": -3.0 + (3 - 3 / n_md) * BOLTZMANN_EV_K * t + c * (t - 100.0), "H_err_eV_per_atom": 1e-4}
        for t in t_md]}
    spec["phases"].append({"name": "NaCl_b", "file": "NaCl_b.extxyz", "relax": False})
    spec.update(phonons={"mesh": 20.0}, qha={"volume_scales": [0.98, 1.0, 1.02, 1.04, 1.06], "phases": ["NaCl"]},
                band={"alternatives": {"NaCl": ["NaCl_b"]}, "max_temperature_K": 900.0})
    (nacl_spec / "band.yaml").write_text(yaml.safe_dump(spec))
    out = nacl_spec / "band-out"
    result = run(load_spec(nacl_spec / "band.yaml"), out)
    nacl = result["phases"]["NaCl"]
    assert set(nacl["free_energy_treatments_eV"]) == {"dropped", "abs", "floor"}
    assert nacl["phonons"]["mesh_convergence"]["meshes"][-1]["mesh"] == nacl["phonons"]["mesh"]
    qha = nacl["qha"]
    # NaCl's F_vib(300 K) with M3GNet-MP rises from the +4 % to the +6 % point: flagged, and left out of
    # the band (the QHA axis falls back to the harmonic value there)
    assert qha["check"]["static_energy_convex"] and not qha["check"]["F_vib_300K_falling"] and not qha["one_minimum"]
    assert qha["eos"] == "vinet" and len(qha["points"]) == 5
    v300 = float(np.interp(300.0, result["reaction"]["temperatures_K"], qha["volume_A3"]["dropped"]))
    assert qha["points"][1]["volume_A3"] < v300 < qha["points"][-1]["volume_A3"]  # expands, inside the points
    anh = nacl["anharmonic"]
    t = np.array(anh["temperatures_K"])
    expected = np.where((t >= 100) & (t <= 900), -c * t * (np.log(np.maximum(t, 1) / 100.0) + 100.0 / np.maximum(t, 1) - 1),
                        np.nan)
    assert np.allclose(anh["dG_eV_per_atom"], expected, equal_nan=True, atol=1e-12)
    band = result["band"]
    assert band["choices"]["vibrations"] == ["harmonic", "anharmonic"]
    assert band["n_combinations"] == 2 * 3 * 1 * 2
    assert result["reaction"]["contributions_eV_per_fu"]["qha_left_out"] == {
        "NaCl": "volume points in different local minima (qha.check)"}
    r = result["reaction"]
    assert r["sign_change_bracket_K"] is None and r["sign_change_bracket_open_ends"] == [False, False]
    lo, hi, mid = (np.array(band["reaction"][k]) for k in ("dG_min_eV_per_fu", "dG_max_eV_per_fu", "dG_central_eV_per_fu"))
    assert np.all(lo <= mid + 1e-12) and np.all(mid <= hi + 1e-12) and np.all(hi < -3.0)
    contrib = r["contributions_eV_per_fu"]
    assert contrib["static"] == pytest.approx(r["dE_static_eV_per_fu"])
    assert contrib["anharmonic_minus_harmonic"]["300K"] == pytest.approx(2 * float(np.interp(300, t, anh["dG_eV_per_atom"])))
    assert set(band["hull"]["candidates"]) == {"NaCl", "NaCl_b"}
    assert (out / "band.png").stat().st_size > 5000
    saved = json.loads((out / "thermo.json").read_text())
    assert saved["reaction"]["sign_change_bracket_K"] is None and "band" in saved
    # compute time: the points' relaxations and force calls (a 2-atom cell can round to 0.0 s)
    assert nacl["compute_s"] >= 0 and "free_energy_vib_eV" in qha["points"][0]
    assert qha["compute_s"] == pytest.approx(sum(p["compute_s"] for p in qha["points"]), abs=0.2)
    # one more volume point: only it is computed (the others are kept with their F_vib(T) in the record)
    import pydriver.thermo.workflow as workflow

    phonon_tags = []
    real_phonons = workflow._phonons
    monkeypatch.setattr(workflow, "_phonons", lambda phase, structure, tag, *a: phonon_tags.append(tag)
                        or real_phonons(phase, structure, tag, *a))
    spec["qha"]["volume_scales"] = [0.98, 1.0, 1.02, 1.04, 1.06, 1.08]
    (nacl_spec / "band.yaml").write_text(yaml.safe_dump(spec))
    more = run(load_spec(nacl_spec / "band.yaml"), out, plots=False)["phases"]["NaCl"]["qha"]
    assert phonon_tags == ["v1.08"] and len(more["points"]) == 6
    assert more["points"][2]["free_energy_vib_eV"] == qha["points"][2]["free_energy_vib_eV"]
    monkeypatch.undo()
    # another floor: the cached forces and relaxations are reused (a failing calculator shows it; the
    # gas, whose vibrations are not cached, is left out)
    spec["phonons"]["soft_mode_floor_THz"] = 0.3
    spec["phases"] = [p for p in spec["phases"] if p["name"] != "Cl2"]
    del spec["reaction"]
    (nacl_spec / "band.yaml").write_text(yaml.safe_dump(spec))

    class NoForces:
        def get_forces(self, atoms):
            raise AssertionError("force call despite the checkpoints")

        def get_potential_energy(self, atoms):
            raise AssertionError("energy call despite the checkpoints")

    with pytest.raises(AssertionError, match="energy call"):  # the static energy is recomputed: one call
        run(load_spec(nacl_spec / "band.yaml"), out, calc=NoForces(), plots=False)


@pytest.mark.parametrize(("change", "message"), [
    ({"phonon": {}}, "unknown keys"),
    ({"band": {"alternative": {}}}, "unknown keys"),
    ({"phonons": {"floor": 0.3}}, "unknown keys"),
    ({"qha": {"phases": ["nope"]}}, "not phases"),
    ({"band": {"alternatives": {"NaCl": ["nope"]}}}, "not phases"),
])
def test_unknown_spec_keys_refused(nacl_spec, tmp_path, change, message):
    from pydriver.thermo.workflow import load_spec

    spec = yaml.safe_load((nacl_spec / "spec.yaml").read_text())
    spec.update(change)
    for phase in spec["phases"]:
        phase["file"] = str(nacl_spec / phase["file"])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match=message):
        load_spec(tmp_path / "s.yaml")


def test_unknown_phase_and_anharmonic_keys_refused(nacl_spec, tmp_path):
    from pydriver.thermo.workflow import load_spec

    spec = yaml.safe_load((nacl_spec / "spec.yaml").read_text())
    for phase in spec["phases"]:
        phase["file"] = str(nacl_spec / phase["file"])
    spec["phases"][0]["suprcell"] = [2, 2, 2]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="phase Na: unknown keys"):
        load_spec(tmp_path / "s.yaml")
    del spec["phases"][0]["suprcell"]
    spec["phases"][1]["anharmonic"] = {"enthalpies": [{"T_K": 100, "H_eV_per_atom": -3.0}]}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="n_atoms_md"):
        load_spec(tmp_path / "s.yaml")


def test_thermo_json_names_files_relative_to_its_folder(tmp_path):
    from pydriver.thermo.workflow import _spec_for_output

    out = tmp_path / "out"
    spec = {"model": str(tmp_path / "models" / "M"), "phases": [
        {"name": "A", "file": str(tmp_path / "a.extxyz"), "write_relaxed": str(out / "a_relaxed.extxyz"),
         "anharmonic": {"runs": [str(tmp_path / "md" / "run1")], "T0_K": 100}}]}
    written = _spec_for_output(spec, out)
    assert written["model"] == "../models/M"
    assert written["phases"][0]["file"] == "../a.extxyz" and written["phases"][0]["write_relaxed"] == "a_relaxed.extxyz"
    assert written["phases"][0]["anharmonic"] == {"runs": ["../md/run1"], "T0_K": 100}
    assert spec["phases"][0]["file"] == str(tmp_path / "a.extxyz")  # the caller's spec is not changed
