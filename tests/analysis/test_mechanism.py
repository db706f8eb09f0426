"""The mechanism sections of analysis.json (sites, hops, reorientation, active.fraction_hops) from a dump."""

import json

import numpy as np
import pytest

from pydriver.analysis import mechanism
from pydriver.analysis.run_analysis import analyze_file
from pydriver.analysis.synthetic import (rotational_diffusion, site_lattice_gas, tetrahedron_offsets,
                                         write_lammps_dump)

DT_FRAME_PS = 0.02  # 20 MD steps of 1 fs
N_NA, N_BH4 = 48, 16


def test_analysis_json_has_the_mechanism_keys(tmp_path):
    n_frames = 601
    na, truth = site_lattice_gas(n_frames, N_NA, DT_FRAME_PS, 0.3, 500.0, 0.0, n_per_edge=4, seed=1)
    box = truth.cell_A[0, 0]  # 12 A
    bh4 = np.vstack([[0.0, 0.0, 0.0], tetrahedron_offsets()])
    centres = (truth.site_frac[truth.site_family == 1][:N_BH4] + 0.25) % 1.0 * box  # between the Na sites
    anions = rotational_diffusion(n_frames, centres, bh4, 0.25, DT_FRAME_PS, seed=2)
    pos = np.concatenate([na, anions], axis=1)
    types = np.array([1] * N_NA + [2, 3, 3, 3, 3] * N_BH4)
    mol = np.array([0] * N_NA + list(np.repeat(np.arange(1, N_BH4 + 1), 5)))
    dump = write_lammps_dump(tmp_path / "traj.dump", pos, types, truth.cell_A, steps=np.arange(n_frames) * 20,
                             mol_ids=mol, columns="image")
    summary = analyze_file(dump, temperature_K=500.0, dt_ps=0.001, type_map="1:Na 2:B_BH4 3:H_BH4",
                           out_dir=tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "analysis.json").read_text())
    for section in ("sites", "hops", "reorientation"):
        assert saved[section] == json.loads(json.dumps(summary[section]))
    assert saved["sites"]["n_sites"] == 64 and saved["sites"]["source"] == "density"
    hops = saved["hops"]
    rate = truth.hop_rate_per_ion_per_ps  # 1.8 per ps: about 20 hops per ion in 12 ps
    assert hops["rate_per_ion_per_ps"] == pytest.approx(rate, rel=0.10)
    assert hops["rate_per_ion_per_ps_std"] > 0 and len(hops["rate_per_ion_per_ps_ci95"]) == 2
    assert hops["correlation_factor"] == pytest.approx(1.0, abs=0.3)  # MSD D over a 12 ps run / jump D
    assert "hops_per_ion" not in hops and "net_hops_per_ion" not in hops
    assert saved["active"]["fraction_hops"] == 1.0 and saved["active"]["hops_min_net"] == 2
    assert len(saved["active"]["fraction_hops_ci68"]) == 2
    bh4_out = saved["reorientation"]["BH4"]
    assert bh4_out["tau_1_ps"] == pytest.approx(2.0, rel=0.25) and bh4_out["tau_1_std_ps"] > 0
    assert bh4_out["tau_2_ps"] == pytest.approx(2.0 / 3.0, rel=0.15) and bh4_out["tau_2_std_ps"] > 0
    assert "c1" not in bh4_out


def test_a_liquid_gets_reasons_not_an_error():
    rng = np.random.default_rng(0)
    ions = np.cumsum(rng.normal(0, 0.5, (2000, 32, 3)), axis=0)  # free walkers: no density maxima
    cells = np.broadcast_to(np.eye(3) * 15.0, (2000, 3, 3))
    out = mechanism.mechanism_summary(mechanism.mechanism(ions, cells, 0.02))
    assert out["sites"]["n_sites"] == 0 and "do not sit on sites" in out["sites"]["reason"]
    assert "no sites" in out["hops"]["reason"] and out["reorientation"] == {}
