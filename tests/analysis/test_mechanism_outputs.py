"""Mechanism options reach mechanism(); sites.csv, site_hops.csv and reorientation.csv hold the numbers of analysis.json."""

import csv
import json

import numpy as np
import pytest

from pydriver.analysis import mechanism, run_analysis
from pydriver.analysis.options import AnalysisOptions
from pydriver.analysis.run_analysis import analyze_file
from pydriver.analysis.synthetic import rotational_diffusion, site_lattice_gas, tetrahedron_offsets, write_lammps_dump
from pydriver.cli.main import main

DT_FRAME_PS = 0.02
N_NA, N_BH4, N_FRAMES = 48, 8, 301


@pytest.fixture(scope="module")
def lattice_dump(tmp_path_factory):
    """48 Na hopping on a 4x4x4 simple-cubic site lattice (12 A cell) and 8 BH4 in rotational diffusion, 6 ps."""
    folder = tmp_path_factory.mktemp("mech_out")
    na, truth = site_lattice_gas(N_FRAMES, N_NA, DT_FRAME_PS, 0.3, 500.0, 0.0, n_per_edge=4, seed=3)
    box = truth.cell_A[0, 0]
    bh4 = np.vstack([[0.0, 0.0, 0.0], tetrahedron_offsets()])
    centres = (truth.site_frac[truth.site_family == 1][:N_BH4] + 0.25) % 1.0 * box
    anions = rotational_diffusion(N_FRAMES, centres, bh4, 0.5, DT_FRAME_PS, seed=4)
    pos = np.concatenate([na, anions], axis=1)
    types = np.array([1] * N_NA + [2, 3, 3, 3, 3] * N_BH4)
    mol = np.array([0] * N_NA + list(np.repeat(np.arange(1, N_BH4 + 1), 5)))
    return write_lammps_dump(folder / "traj.dump", pos, types, truth.cell_A, steps=np.arange(N_FRAMES) * 20,
                             mol_ids=mol, columns="image")


TEXT_COLUMNS = ("slab",)


def _read_csv(path) -> dict:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([r[k] if k in TEXT_COLUMNS else float(r[k]) for r in rows]) for k in rows[0]}


def test_options_reach_mechanism_and_are_recorded(lattice_dump, tmp_path, monkeypatch):
    seen = {}
    real = mechanism.mechanism

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(run_analysis.mechanism, "mechanism", spy)
    opts = AnalysisOptions(min_net_hops=3, coupling_window_ps=0.3, reorientation_fit_start_ps=0.1, plots=False)
    analyze_file(lattice_dump, opts, temperature_K=500.0, dt_ps=0.001, type_map="1:Na 2:B_BH4 3:H_BH4",
                 out_dir=tmp_path)
    assert seen["min_net_hops"] == 3 and seen["coupling_window_ps"] == 0.3
    assert seen["reorientation_fit_start_ps"] == 0.1 and seen["sites_file"] is None
    saved = json.loads((tmp_path / "analysis.json").read_text())
    params = saved["parameters"]
    assert (params["min_net_hops"], params["coupling_window_ps"], params["reorientation_fit_start_ps"],
            params["sites_file"]) == (3, 0.3, 0.1, None)
    assert saved["active"]["hops_min_net"] == 3
    assert saved["reorientation"]["BH4"]["fit_start_ps"] == 0.1
    assert saved["coupling"]["BH4"]["window_ps"] == pytest.approx(0.3)
    assert not (tmp_path / "reorientation.png").exists()  # plots off


def test_a_missing_sites_file_is_an_error_naming_it(lattice_dump, tmp_path):
    opts = AnalysisOptions(sites_file=str(tmp_path / "nope.cif"), plots=False)
    with pytest.raises(FileNotFoundError, match="nope.cif"):
        analyze_file(lattice_dump, opts, temperature_K=500.0, dt_ps=0.001, type_map="1:Na 2:B_BH4 3:H_BH4",
                     out_dir=tmp_path)


def test_cli_flags_fill_the_options(monkeypatch, tmp_path):
    seen = {}

    def fake(paths, opts, out_dir, **kwargs):
        seen["opts"] = opts
        return iter(())

    monkeypatch.setattr("pydriver.cli.analyze.analyze_paths", fake)
    assert main(["analyze", str(tmp_path), "--sites-file", "sites.cif", "--min-net-hops", "4",
                 "--coupling-window", "0.25", "--reorientation-fit-start", "0.15"]) == 0
    opts = seen["opts"]
    assert (opts.sites_file, opts.min_net_hops, opts.coupling_window_ps, opts.reorientation_fit_start_ps) == (
        "sites.cif", 4, 0.25, 0.15)
    main(["analyze", str(tmp_path)])
    assert seen["opts"].to_dict() == AnalysisOptions().to_dict()  # defaults stated once


def test_site_and_reorientation_tables_hold_the_numbers_of_analysis_json(lattice_dump, tmp_path):
    summary = analyze_file(lattice_dump, temperature_K=500.0, dt_ps=0.001, type_map="1:Na 2:B_BH4 3:H_BH4",
                           out_dir=tmp_path)
    files = summary["files"]
    assert (files["sites_csv"], files["site_hops_csv"], files["reorientation_csv"], files["reorientation_png"]) == (
        "sites.csv", "site_hops.csv", "reorientation.csv", "reorientation.png")
    sites = _read_csv(tmp_path / "sites.csv")
    saved = json.loads((tmp_path / "analysis.json").read_text())
    n = saved["sites"]["n_sites"]
    assert n == 64 and sites["site"].tolist() == list(range(n))
    np.testing.assert_allclose(sites["occupancy"], saved["sites"]["occupancy_per_site"], rtol=1e-6)
    np.testing.assert_allclose(sites["occupancy_std"], saved["sites"]["occupancy_std_per_site"], rtol=1e-6)
    np.testing.assert_allclose(np.c_[sites["frac_a"], sites["frac_b"], sites["frac_c"]], saved["sites"]["frac"],
                               atol=1e-7)
    assert np.all(sites["family"] == -1)  # found from the density: no families
    assert "slabs" not in saved["sites"] and set(sites["slab"]) == {""}  # one anion kind: no slabs
    assert not any(k.startswith("cn_") for k in sites)
    hops = _read_csv(tmp_path / "site_hops.csv")
    assert hops["n_hops"].sum() == saved["hops"]["n_hops"] == sites["n_departures"].sum()
    # the residences of all sites together are the run's mean residence (time on sites / hops out of them)
    occupied = sites["residence_time_ps"] * sites["n_departures"]
    assert occupied.sum() / sites["n_departures"].sum() == pytest.approx(saved["hops"]["residence_time_ps"], rel=0.02)
    reo = _read_csv(tmp_path / "reorientation.csv")
    assert set(reo) == {"lag_time_ps", "c1_BH4", "c2_BH4"}
    assert reo["lag_time_ps"][1] == pytest.approx(DT_FRAME_PS) and reo["c1_BH4"][0] == pytest.approx(1.0)
    tau_2 = saved["reorientation"]["BH4"]["tau_2_ps"]  # C_2 = exp(-6 D_r t), D_r = 0.5 /ps
    assert tau_2 == pytest.approx(1 / 3, rel=0.2)
    lag = reo["lag_time_ps"]
    at = int(np.searchsorted(lag, tau_2))
    assert reo["c2_BH4"][at] == pytest.approx(np.exp(-1.0), abs=0.08)


def test_a_sites_file_is_laid_on_the_run_anions(example_structures_dir):
    """The run's frame differs from the file's by an origin shift (drift removal, box origin): the
    file's sites follow the anion framework, not the file's absolute coordinates."""
    from ase.io import read

    from pydriver.analysis.mechanism import _anion_centres_frac, _sites_from_file

    path = example_structures_dir / "NaBH4_relaxed.extxyz"
    atoms = read(path)
    cell = np.asarray(atoms.cell[:])
    shift_A = np.array([0.31, -0.22, 0.17])
    boron = atoms.positions[np.array(atoms.get_chemical_symbols()) == "B"] + shift_A
    frames = np.repeat(boron[None], 3, axis=0)
    centres = _anion_centres_frac({"BH4": {"centres_A": frames}}, np.repeat(cell[None], 3, 0), None)
    found, info = _sites_from_file(path, "Na", cell, centres)
    na = atoms.get_scaled_positions()[np.array(atoms.get_chemical_symbols()) == "Na"]
    expected = (na + shift_A @ np.linalg.inv(cell)) % 1.0
    d = found.frac[:, None, :] - expected[None]
    d -= np.round(d)
    assert np.abs(d).sum(-1).min(axis=1).max() < 1e-6  # every site moved with the anions
    np.testing.assert_allclose(info["shift_A"], shift_A, atol=1e-6)
    assert info["anion_rms_A"] < 1e-6


def test_site_table_names_each_site_slab_and_anion_coordination(tmp_path):
    """With anion slabs (sites.slabs) sites.csv gains the slab kind and the anion counts of each site."""
    from pydriver.analysis.run_output import site_table, write_csv

    slabs = {"kind_per_site": ["BH4", "B12H12", "BH4"],
             "coordination_per_site": {"BH4": [4, 1, 3], "B12H12": [2, 4, 2]}}
    mech = {"sites": {"n_sites": 3, "frac": [[0.1, 0.05, 0.2], [0.5, 0.25, 0.5], [0.7, 0.55, 0.1]],
                      "occupied_time_ps": [1.0, 2.0, 0.5], "core_radius_A": [0.9] * 3,
                      "occupancy_per_site": [0.4, 0.8, 0.2], "occupancy_std_per_site": [0.1] * 3, "slabs": slabs},
            "hop_events": None}
    columns = site_table(mech, np.eye(3) * 10.0)
    assert list(columns)[-3:] == ["slab", "cn_B12H12", "cn_BH4"]
    table = _read_csv(write_csv(tmp_path / "sites.csv", columns))
    assert table["slab"].tolist() == ["BH4", "B12H12", "BH4"]
    assert table["cn_BH4"].tolist() == [4, 1, 3] and table["cn_B12H12"].tolist() == [2, 4, 2]
    mech["sites"]["slabs"] = {"reason": "slabs need two anion kinds; the structure has ['BH4']"}
    columns = site_table(mech, np.eye(3) * 10.0)
    assert columns["slab"].tolist() == ["", "", ""] and not any(k.startswith("cn_") for k in columns)
