"""Anion reorientation on rigid anions with known answers: rotational diffusion (Debye) and C3 jumps."""

import numpy as np
import pytest

from pydriver.analysis import reorientation
from pydriver.analysis.molecules import Molecules
from pydriver.analysis.synthetic import (icosahedron_offsets, orientation_jumps, rotational_diffusion,
                                         tetrahedron_offsets)

DT_PS = 0.02
BOX_A = 20.0


def bh4(n_mol):
    offsets = np.vstack([[0.0, 0.0, 0.0], tetrahedron_offsets()])
    elements = np.array(["B", "H", "H", "H", "H"] * n_mol)
    masses = np.where(elements == "B", 10.81, 1.008)
    mols = Molecules([np.arange(5 * i, 5 * i + 5) for i in range(n_mol)], ["BH4"] * n_mol, "mol")
    return offsets, elements, masses, mols


def centres(n_mol, seed=0):
    return np.random.default_rng(seed).uniform(0.0, BOX_A, (n_mol, 3))


def cells(n_frames):
    return np.broadcast_to(np.eye(3) * BOX_A, (n_frames, 3, 3))


def within(entry, key, exact, rel=0.10):
    low, high = entry[f"{key}_ci95_ps"]
    return entry[f"{key}_ps"] == pytest.approx(exact, rel=rel) and low <= exact <= high


def test_rotational_diffusion_gives_the_debye_times():
    d_r = 0.25  # rad^2/ps: tau_1 = 2 ps, tau_2 = 0.667 ps
    offsets, elements, masses, mols = bh4(32)
    pos = rotational_diffusion(2001, centres(32), offsets, d_r, DT_PS, seed=11)
    pos = pos % BOX_A  # wrapped: bonds cross the cell boundary
    out = reorientation.anion_reorientation(pos, cells(2001), mols, elements, masses, DT_PS)["BH4"]
    assert out["vectors"] == "B-H" and out["n_anions"] == 32 and out["n_vectors_per_anion"] == 4
    assert within(out, "tau_1", 1 / (2 * d_r)) and within(out, "tau_2", 1 / (6 * d_r))
    assert out["tau_ratio"] == pytest.approx(3.0, rel=0.10)
    lag = out["lag_time_ps"]
    assert out["c1"][50] == pytest.approx(np.exp(-2 * d_r * lag[50]), abs=0.03)
    assert out["c2"][50] == pytest.approx(np.exp(-6 * d_r * lag[50]), abs=0.03)


def test_b12_cage_uses_centre_to_vertex_vectors():
    d_r = 0.1
    cage = icosahedron_offsets(1.70)
    offsets = np.vstack([cage, cage * 2.89 / 1.70])  # 12 B then 12 H on the same axes
    n_mol = 24
    elements = np.array((["B"] * 12 + ["H"] * 12) * n_mol)
    masses = np.where(elements == "B", 10.81, 1.008)
    mols = Molecules([np.arange(24 * i, 24 * i + 24) for i in range(n_mol)], ["B12H12"] * n_mol, "mol")
    pos = rotational_diffusion(2001, centres(n_mol, 1), offsets, d_r, DT_PS, seed=3) % BOX_A
    out = reorientation.anion_reorientation(pos, cells(2001), mols, elements, masses, DT_PS)["B12H12"]
    assert out["vectors"] == "centre-B" and out["n_vectors_per_anion"] == 12
    assert within(out, "tau_1", 1 / (2 * d_r)) and within(out, "tau_2", 1 / (6 * d_r))


def test_tau_intervals_cover_the_truth():
    d_r = 0.25
    offsets, elements, masses, mols = bh4(16)
    hits = np.zeros(2)
    n_runs = 12
    for seed in range(n_runs):
        pos = rotational_diffusion(1001, centres(16), offsets, d_r, DT_PS, seed=500 + seed)
        out = reorientation.anion_reorientation(pos, cells(1001), mols, elements, masses, DT_PS)["BH4"]
        for i, (key, exact) in enumerate((("tau_1", 2.0), ("tau_2", 2.0 / 3.0))):
            low, high = out[f"{key}_ci95_ps"]
            hits[i] += low <= exact <= high
    # 95 % intervals (measured over 200 runs in docs/analysis.md)
    assert np.all(hits >= n_runs - 2), hits


def test_tetrahedral_jumps_give_their_rate_and_equal_times():
    rate = 0.5  # jumps per anion per ps; C3 jumps: C_1 = C_2 = exp(-k t)
    offsets, elements, masses, mols = bh4(32)
    pos, jumps = orientation_jumps(2001, centres(32), offsets, rate, DT_PS, order=3, seed=2)
    out = reorientation.anion_reorientation(pos, cells(2001), mols, elements, masses, DT_PS)["BH4"]
    low, high = out["event_rate_per_anion_per_ps_ci95"]
    assert out["event_rate_per_anion_per_ps"] == pytest.approx(rate, rel=0.10) and low <= rate <= high
    assert out["n_events"] == pytest.approx(jumps.sum(), rel=0.02)  # two jumps within one frame look like one
    assert out["cone_deg"] == pytest.approx(0.35 * 109.47, abs=0.1)
    assert within(out, "tau_1", 1 / rate) and within(out, "tau_2", 1 / rate)
    assert out["tau_ratio"] == pytest.approx(1.0, abs=0.1)


def test_librating_anions_make_no_events_and_slow_ones_only_a_bound():
    offsets, elements, masses, mols = bh4(8)
    pos = rotational_diffusion(1001, centres(8), offsets, 0.002, DT_PS, seed=1)  # tau_1 = 250 ps >> 20 ps
    out = reorientation.anion_reorientation(pos, cells(1001), mols, elements, masses, DT_PS)["BH4"]
    assert out["n_events"] == 0 and out["event_rate_per_anion_per_ps"] == 0.0
    assert out["tau_1_ps"] is None and "lower bound" in out["tau_1_reason"]
    assert 5.0 < out["tau_1_lower_bound_ps"] < 250.0 * 1.5


def test_tau_summary_says_what_was_not_measured_and_why():
    fast = "fewer than 3 lags between 0.2 ps and C < 0.1: the anions turn faster than the frames resolve"
    entry = {"tau_1_ps": None, "tau_1_lower_bound_ps": None, "tau_1_reason": fast,
             "tau_2_ps": None, "tau_2_lower_bound_ps": None, "tau_2_reason": fast}
    assert reorientation.tau_summary(entry) == f"tau_1, tau_2 not measured ({fast})"
    entry.update(tau_1_ps=0.5234, tau_2_lower_bound_ps=40.0)
    assert reorientation.tau_summary(entry) == "tau_1 0.523 ps, tau_2 > 40 ps"
