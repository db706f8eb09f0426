"""`python -m pydriver analyze` and `report` end to end on synthetic run directories."""

import json

import numpy as np
import pytest

from pydriver import rundir
from pydriver.units import BOLTZMANN_EV_K
from pydriver.analysis.synthetic import random_walk, rigid_rotors, write_lammps_dump
from pydriver.cli.main import main

EA_EV, D0_CM2_S = 0.2, 1e-3
N_NA, N_BH4, N_FRAMES, DT_FRAME_PS = 32, 8, 400, 0.1
BH4 = np.array([[0, 0, 0], [0.7, 0.7, 0.7], [0.7, -0.7, -0.7], [-0.7, 0.7, -0.7], [-0.7, -0.7, 0.7]])
TYPES = [{"type": 1, "label": "Na", "element": "Na", "anion": None, "mass_amu": 22.98977},
         {"type": 2, "label": "B_BH4", "element": "B", "anion": "BH4", "mass_amu": 10.811},
         {"type": 3, "label": "H_BH4", "element": "H", "anion": "BH4", "mass_amu": 1.008}]


def make_run(folder, temperature_K, mass_factor=1.0, with_run_json=True, seed=0):
    folder.mkdir(parents=True)
    d = D0_CM2_S * np.exp(-EA_EV / (BOLTZMANN_EV_K * temperature_K))
    rng = np.random.default_rng(seed)
    na = random_walk(N_FRAMES, N_NA, d, DT_FRAME_PS, seed=seed, start_A=rng.uniform(0, 20, (N_NA, 3)))
    centers = rng.uniform(2, 18, (N_BH4, 3))
    anions = rigid_rotors(N_FRAMES, centers, BH4, 1.0 / np.sqrt(mass_factor), DT_FRAME_PS, seed=seed)
    pos = np.concatenate([na, anions], axis=1)
    types = np.array([1] * N_NA + [2, 3, 3, 3, 3] * N_BH4)
    mol = np.array([0] * N_NA + list(np.repeat(np.arange(1, N_BH4 + 1), 5)))
    steps = 1000 + np.arange(N_FRAMES) * 100
    write_lammps_dump(folder / "dump.lammpstrj", pos, types, np.diag([20.0] * 3), steps, mol)
    if with_run_json:
        run = {"format": "pydriver-run/1", "formula": "Na32B8H32", "n_atoms": len(types), "types": TYPES,
               "mass_factors": {"BH4": mass_factor}, "temperature_K": temperature_K, "dt_ps": 0.001,
               "dump_every": 100, "production_start_step": 1000, "dump_file": "dump.lammpstrj"}
        (folder / "run.json").write_text(json.dumps(run))
    return d


def test_analyze_writes_analysis_json(tmp_path):
    d_true = make_run(tmp_path / "r500", 500.0)
    assert main(["analyze", str(tmp_path / "r500"), "--max-frames", "50"]) == 0
    res = json.loads((tmp_path / "r500" / "analysis.json").read_text())
    tr = res["transport"]
    assert abs(tr["diffusivity_cm2_s"] - d_true) < 3 * tr["diffusivity_std_cm2_s"]
    assert tr["fit_start_ps"] == pytest.approx(0.1 * 39.9) and tr["fit_end_ps"] == pytest.approx(0.5 * 39.9)
    assert res["parameters"]["active_threshold_A2"] == 21.0
    assert res["anions"] == {"source": "mol", "counts": {"BH4": N_BH4}}
    assert 0.4 < res["rotation"]["BH4"]["rotation_rate_rad_ps"] <= 1.0
    assert res["msd_at_end_A2"]["H_BH4"] < 4 * 1.1**2  # rotating H stay on their sphere
    for name in ("msd.csv", "analysis.csv", "msd.png", "Na_density.CHGCAR", "Na_density.cube", "cn_BH4.csv"):
        assert (tmp_path / "r500" / name).is_file()
    written = {rundir.ANALYSIS_TABLE_FILE, rundir.MSD_TABLE_FILE, rundir.MSD_PLOT_FILE, rundir.PER_ATOM_FILE,
               rundir.NGP_TABLE_FILE, rundir.VAN_HOVE_TABLE_FILE, rundir.coordination_table_file("BH4"),
               rundir.rdf_table_file("Na-Na"), rundir.rdf_table_file("Na-BH4"), *rundir.density_grid_files("Na"),
               rundir.SITES_TABLE_FILE, rundir.SITE_HOPS_TABLE_FILE, rundir.REORIENTATION_TABLE_FILE,
               rundir.REORIENTATION_PLOT_FILE}
    assert set(res["files"].values()) == written  # every output name comes from pydriver.rundir
    assert {p.name for p in (tmp_path / "r500").iterdir()} == written | {"analysis.json", "dump.lammpstrj", "run.json"}


def test_analyze_without_run_json_needs_options(tmp_path, capsys):
    make_run(tmp_path / "bare", 500.0, with_run_json=False)
    assert main(["analyze", str(tmp_path / "bare")]) == 2
    assert "--temp" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "bare"), "--temp", "500", "--timestep", "0.001",
                 "--types", "1:Na 2:B_BH4 3:H_BH4", "--fit-start", "2", "--fit-end", "10", "--no-plots"]) == 0
    res = json.loads((tmp_path / "bare" / "analysis.json").read_text())
    assert res["transport"]["fit_end_ps"] == 10.0 and res["run"]["metadata_source"] == "options"


def test_report_recovers_activation_energy(tmp_path):
    runs = []
    for i, t in enumerate((400.0, 500.0, 600.0, 800.0)):
        make_run(tmp_path / "runs" / f"T{t:g}", t, seed=i)
        runs.append(str(tmp_path / "runs" / f"T{t:g}"))
    make_run(tmp_path / "runs" / "T500_m5", 500.0, mass_factor=5.0, seed=9)
    runs.append(str(tmp_path / "runs" / "T500_m5"))
    for r in runs:
        # short synthetic walks: lower the end-of-window MSD of a diffusive run from 21 A^2
        assert main(["analyze", r, "--no-plots", "--max-frames", "20", "--diffusive-min-msd", "1"]) == 0
    assert main(["report", str(tmp_path / "runs"), "-o", str(tmp_path / "rep"), "--arrhenius", "D"]) == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    fits = [g["fit"] for g in report["arrhenius"].values() if g["fit"]]
    assert len(fits) == 1
    assert abs(fits[0]["ea_eV"] - EA_EV) < max(3 * fits[0]["ea_std_eV"], 0.02)
    assert len(report["runs"]) == 5
    for name in ("report.md", "report.csv", "arrhenius.png", "active_vs_mass.png", "rotation_vs_mass.png"):
        assert (tmp_path / "rep" / name).is_file()
    rot = {r["mass_factor"]: r["rotation_BH4_rad_ps"] for r in report["runs"] if r["temperature_K"] == 500.0}
    assert rot[5.0] < rot[1.0]  # heavier anions rotate slower


def test_report_without_analyses_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "analysis.json" in capsys.readouterr().err


def test_analyze_help_shows_defaults_from_the_library_and_dt_ps(capsys):
    from pydriver.analysis.active import DEFAULT_ACTIVE_THRESHOLD_A2
    from pydriver.analysis.diagnostics import DEFAULT_MIN_MSD_A2

    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--dt-ps PS MD time step in ps" in text and "--timestep" not in text  # old name still parses
    assert f"active-ion MSD threshold, A^2 (default {DEFAULT_ACTIVE_THRESHOLD_A2})" in text
    assert DEFAULT_MIN_MSD_A2 == 0.0 and "fit window, A^2 (default 0: no gate)" in text
    assert "(default 10% of the run)" in text


def test_analyze_help_names_the_reading_options(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--dump-every N MD steps between frames, for files that carry no step numbers or time stamps" in text
    assert "--until-first-nonfinite if positions become nan or inf" in text


def test_a_keyerror_is_a_bug_not_a_user_error(tmp_path, monkeypatch):
    import pydriver.cli.analyze as analyze_cli

    def broken(*args, **kwargs):
        raise KeyError("internal")
    monkeypatch.setattr(analyze_cli, "analyze_paths", broken)
    with pytest.raises(KeyError):
        main(["analyze", str(tmp_path)])
