"""Quasi-harmonic minimisation (pydriver.thermo.qha) on free energies with known minima."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from pydriver.thermo.qha import qha_gibbs, scaled_cell

pytest.importorskip("phonopy")
V0, B0, BP, E0 = 100.0, 0.5, 4.0, -10.0
T = np.arange(0.0, 1001.0, 10.0)


def _vinet(v):
    x = (v / V0) ** (1 / 3)
    return E0 + 2 * B0 * V0 / (BP - 1) ** 2 * (2 - (5 + 3 * BP * (x - 1) - 3 * x) * np.exp(-1.5 * (BP - 1) * (x - 1)))


def test_volume_independent_free_energy_keeps_v0():
    """F(V, T) = f(T): G = E0 + f(T) at V0 for every T (phonopy's Vinet fit, 5 volumes)."""
    vols = np.array([94.0, 97.0, 100.0, 103.0, 106.0])
    f = np.repeat((-1e-4 * T)[:, None], 5, axis=1)
    g, v = qha_gibbs(vols, _vinet(vols), T, f)
    assert np.isnan(g[-1]) and np.isnan(v[-1])  # phonopy's finite differences drop the last T
    assert g[:-1] == pytest.approx(E0 - 1e-4 * T[:-1], abs=1e-6)  # fit tolerance: 6e-8 eV
    assert v[:-1] == pytest.approx(V0, abs=1e-3)


def test_thermal_pressure_expands_the_cell():
    """F = f(T) - c T (V - V0): the minimum is where E'(V) = c T (Vinet), and G = E(V) + F there."""
    from scipy.optimize import brentq

    vols = np.array([94.0, 97.0, 100.0, 103.0, 106.0])
    c = 2e-6
    f = (-1e-4 * T)[:, None] - c * T[:, None] * (vols[None, :] - V0)
    g, v = qha_gibbs(vols, _vinet(vols), T, f)
    for k in (30, 60, 90):
        slope = c * T[k]
        v_exact = brentq(lambda x: (_vinet(x + 1e-6) - _vinet(x - 1e-6)) / 2e-6 - slope, 95.0, 106.0)
        assert v[k] == pytest.approx(v_exact, abs=1e-3)
        assert g[k] == pytest.approx(_vinet(v_exact) - 1e-4 * T[k] - slope * (v_exact - V0), abs=1e-6)
    assert np.all(np.diff(v[:-1]) > 0)


def test_minimum_outside_the_volumes_is_nan():
    """Five volumes (phonopy's Vinet fit): where the thermal pressure pushes the minimum past the largest
    volume, G and V are NaN instead of an extrapolated equation of state."""
    vols = np.array([97.0, 98.5, 100.0, 101.5, 103.0])
    c = 2e-5  # E'(V) = c T: the minimum passes 103 A^3 at a few hundred K
    f = (-1e-4 * T)[:, None] - c * T[:, None] * (vols[None, :] - V0)
    g, v = qha_gibbs(vols, _vinet(vols), T, f)
    finite = np.isfinite(v)
    assert finite[0] and not finite[-2]  # inside at 0 K, outside at 990 K
    assert np.all(v[finite] <= 103.0) and np.all(np.isnan(g[~finite]))
    assert np.all(np.diff(finite.astype(int)) <= 0)  # once outside, it stays outside


def test_three_volumes_parabola():
    """Three volumes: a parabola per T; exact for E + F quadratic in V; outside the points: NaN."""
    vols = np.array([98.0, 100.0, 102.0])
    e = E0 + 0.01 * (vols - V0) ** 2
    shift = np.where(T < 400, 1e-4 * T, 0.05)  # minimum at V0 + shift / 0.02 (outside from 400 K on)
    f = -shift[:, None] * (vols[None, :] - V0)
    g, v = qha_gibbs(vols, e, T, f)
    inside = V0 + shift / 0.02 <= 102.0
    assert v[inside] == pytest.approx((V0 + shift / 0.02)[inside])
    assert g[inside] == pytest.approx((E0 - shift**2 / 0.04)[inside])
    assert np.all(np.isnan(v[~inside]))


def test_bad_inputs_and_scaling():
    with pytest.raises(ValueError, match=">= 3 volumes"):
        qha_gibbs([1.0, 2.0], [0.0, 0.0], T, np.zeros((T.size, 2)))
    with pytest.raises(ValueError, match="eos"):
        qha_gibbs([1.0, 2.0, 3.0, 4.0], [0.0] * 4, T, np.zeros((T.size, 4)), eos="spline")
    atoms = bulk("NaCl", "rocksalt", a=5.69)
    assert scaled_cell(atoms, 1.06).get_volume() == pytest.approx(1.06 * atoms.get_volume())
    assert np.allclose(scaled_cell(atoms, 1.06).get_scaled_positions(), atoms.get_scaled_positions())


def test_points_from_different_minima_are_flagged():
    """qha_fit: a smooth set (Vinet E, F falling with V) is one minimum; a point whose F jumps up or
    whose E breaks convexity (another local minimum) is not, and the check says which."""
    from pydriver.thermo.workflow import qha_fit

    vols = np.array([94.0, 97.0, 100.0, 103.0, 106.0])
    temps = np.array([0.0, 300.0, 600.0])
    f = (-1e-4 * temps)[:, None] - 2e-6 * temps[:, None] * (vols[None, :] - V0)

    def points(e, free):
        return [{"volume_A3": v, "static_energy_eV": float(ei),
                 "free_energy_vib_eV": {"dropped": free[:, i].tolist(), "abs": free[:, i].tolist()}}
                for i, (v, ei) in enumerate(zip(vols, e))]

    good = qha_fit(points(_vinet(vols), f), temps, "vinet")
    assert good["one_minimum"] and good["check"]["static_energy_convex"] and good["check"]["F_vib_300K_falling"]
    jump = f.copy()
    jump[:, 3] += 0.05  # the 103 A^3 point relaxed into a stiffer structure
    bad = qha_fit(points(_vinet(vols), jump), temps, "vinet")
    assert not bad["one_minimum"] and not bad["check"]["F_vib_300K_falling"] and bad["check"]["static_energy_convex"]
    e = _vinet(vols)
    e[4] -= 0.05  # a lower-energy structure at the largest volume
    assert not qha_fit(points(e, f), temps, "vinet")["check"]["static_energy_convex"]
