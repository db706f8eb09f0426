"""Rotation-hop coupling: an injected enhancement of hops after a neighbour turns is recovered, none found otherwise."""

import numpy as np
import pytest

from pydriver.analysis import mechanism
from pydriver.analysis.molecules import Molecules
from pydriver.analysis.synthetic import coupled_hops_and_jumps

DT_PS = 0.02


def analyse(factor, seed):
    """96 ions, 60 ps, 216 BH4 jumping at 0.1 /ps; hops 0.3 /ps, times ``factor`` for 0.5 ps after a neighbour jumps."""
    ions, anions, truth = coupled_hops_and_jumps(3001, 96, DT_PS, 0.3, 0.1, factor, window_ps=0.5, seed=seed)
    positions = np.concatenate([ions, anions], axis=1)
    n_anions = anions.shape[1] // 5
    elements = np.array(["Na"] * 96 + ["B", "H", "H", "H", "H"] * n_anions)
    masses = np.select([elements == "Na", elements == "B"], [22.99, 10.81], 1.008)
    mols = Molecules([96 + np.arange(5 * i, 5 * i + 5) for i in range(n_anions)], ["BH4"] * n_anions, "mol")
    cells = np.broadcast_to(truth.cell_A, (3001, 3, 3))
    mech = mechanism.mechanism(ions, cells, DT_PS, mols, positions, elements, masses)
    return mechanism.mechanism_summary(mech)["coupling"]["BH4"], truth


def test_injected_coupling_is_recovered():
    out, truth = analyse(3.0, seed=0)
    assert out["cutoff_A"] == 4.0 and out["window_ps"] == pytest.approx(0.5)  # Na-BH4 cutoff; 2.6 A vs 5.0 A
    low, high = out["enhancement_factor_ci95"]
    assert out["enhancement_factor"] == pytest.approx(3.0, rel=0.10) and low <= 3.0 <= high
    profile = np.array(out["profile"]["hop_rate_ratio"], dtype=float)
    assert profile[:5].mean() == pytest.approx(3.0, rel=0.15)  # 0-0.5 ps after a neighbour turned
    assert profile[5:].mean() == pytest.approx(1.0, abs=0.15)  # later: baseline
    assert out["event_rate_ratio_before_hop"] > 1.2 and out["event_rate_ratio_after_hop"] == pytest.approx(1, abs=0.1)


def test_no_coupling_is_found_where_none_was_injected():
    out, truth = analyse(1.0, seed=1)
    low, high = out["enhancement_factor_ci95"]
    assert low <= 1.0 <= high and out["enhancement_factor"] == pytest.approx(1.0, abs=0.10)
    assert out["event_rate_ratio_before_hop"] == pytest.approx(1.0, abs=0.1)
    assert out["exposed_time_fraction"] == pytest.approx(1 - np.exp(-8 * 0.1 * 0.5), abs=0.05)  # 8 neighbours
