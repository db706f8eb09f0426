"""MSD, D with uncertainty, Nernst-Einstein and Arrhenius on data with known answers."""

import numpy as np
import pytest
from scipy import constants

from pydriver.analysis.diffusion import extrapolate_arrhenius, fit_arrhenius, nernst_einstein_conductivity_mS_cm
from pydriver.analysis.msd import collective_msd, msd_fft
from pydriver.analysis.synthetic import random_walk
from pydriver.units import BOLTZMANN_EV_K
from pydriver.analysis.transport import DiffusionAnalysis

D_TRUE_CM2_S = 1e-5
DT_PS = 0.1


def brute_force_msd(r):
    n = r.shape[0]
    return np.array([((r[k:] - r[: n - k]) ** 2).sum(-1).mean(0) for k in range(n)])


def test_fft_msd_equals_direct_average():
    r = random_walk(64, 5, 1e-5, 0.1, seed=2)
    np.testing.assert_allclose(msd_fft(r), brute_force_msd(r), atol=1e-10)


def test_collective_msd_definition():
    r = random_walk(40, 6, 1e-5, 0.1, seed=4)
    total = (r - r[:1]).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(collective_msd(r, np.arange(6)), brute_force_msd(total)[:, 0] / 6, atol=1e-9)


def walk_with_framework(seed, drift=False, n_mobile=64, n_frames=1500):
    rng = np.random.default_rng(seed)
    mobile = random_walk(n_frames, n_mobile, D_TRUE_CM2_S, DT_PS, seed=seed)
    frame = rng.normal(0.0, 0.2, (n_frames, 32, 3)) + rng.uniform(0, 15, (1, 32, 3))
    pos = np.concatenate([mobile, frame], axis=1)
    if drift:  # the whole crystal drifts: a random walk plus a steady velocity
        pos = pos + np.cumsum(rng.normal(0.02, 0.3, (n_frames, 1, 3)), axis=0)
    labels = np.array(["Na"] * n_mobile + ["B"] * 32)
    return pos, labels


@pytest.mark.parametrize("drift", [False, True])
@pytest.mark.parametrize("uncertainty", ["kinisi", "block"])
def test_random_walk_recovers_d_within_uncertainty(drift, uncertainty):
    hits, charge, charge_std = 0, [], []
    for seed in range(6):
        pos, labels = walk_with_framework(seed, drift)
        res = DiffusionAnalysis(pos, np.arange(len(pos)) * DT_PS, labels, labels, np.full(len(pos), 3375.0), 400.0,
                                uncertainty=uncertainty).run().results
        d, s = res["diffusivity_cm2_s"], res["diffusivity_std_cm2_s"]
        assert 0.0 < s < 0.2 * D_TRUE_CM2_S
        assert abs(d - D_TRUE_CM2_S) < 3 * s
        hits += abs(d - D_TRUE_CM2_S) < s
        charge.append(res["charge_diffusivity_cm2_s"])
        charge_std.append(res["charge_diffusivity_std_cm2_s"])
    assert hits >= 3  # a one-sigma interval covers ~68 %
    # independent walkers: charge diffusivity = tracer diffusivity on average (Haven ratio 1); one
    # collective walker per run, so only the mean over runs is tight
    assert abs(np.mean(charge) - D_TRUE_CM2_S) < 3 * np.mean(charge_std) / np.sqrt(len(charge))


def test_without_drift_correction_drift_biases_d():
    pos, labels = walk_with_framework(1, drift=True)
    kw = dict(time_ps=np.arange(len(pos)) * DT_PS, labels=labels, elements=labels,
              volumes_A3=np.full(len(pos), 3375.0), temperature_K=400.0)
    raw = DiffusionAnalysis(pos, drift_correction=False, **kw).run().results["diffusivity_cm2_s"]
    fixed = DiffusionAnalysis(pos, **kw).run().results["diffusivity_cm2_s"]
    assert abs(fixed / D_TRUE_CM2_S - 1) < 0.15 < abs(raw / D_TRUE_CM2_S - 1)


def test_fit_window_validation():
    pos, labels = walk_with_framework(0, n_frames=50)
    with pytest.raises(ValueError, match="fit window"):
        DiffusionAnalysis(pos, np.arange(50) * DT_PS, labels, labels, np.ones(50), 300.0, fit_start_ps=4.0,
                          fit_end_ps=3.0)
    with pytest.raises(ValueError, match="origins"):
        DiffusionAnalysis(pos, np.arange(50) * DT_PS, labels, labels, np.ones(50), 300.0, origins="some")


def test_nernst_einstein_hand_value_and_pymatgen():
    from pymatgen.analysis.diffusion.analyzer import get_conversion_factor
    from pymatgen.core import Lattice, Species, Structure

    # 96 Na in 7000 A^3 at 500 K, D = 1e-6 cm^2/s
    n = 96 / 7000e-24
    expected = n * constants.e**2 * 1e-6 / (constants.k * 500.0) * 1e3
    got = nernst_einstein_conductivity_mS_cm(1e-6, 96, 7000.0, 500.0)
    assert got == pytest.approx(expected, rel=1e-12)
    a = 7000.0 ** (1 / 3)
    s = Structure(Lattice.cubic(a), [Species("Na", 1)] * 96, np.random.default_rng(0).random((96, 3)))
    assert got == pytest.approx(get_conversion_factor(s, Species("Na", 1), 500.0) * 1e-6, rel=1e-9)


def test_arrhenius_exact_points_recover_ea():
    t = np.array([300, 350, 400, 450, 500, 600, 700, 800.0])
    sigma = 1e5 / t * np.exp(-0.25 / (BOLTZMANN_EV_K * t))
    fit = fit_arrhenius(t, sigma, n_bootstrap=200)
    assert fit.ea_eV == pytest.approx(0.25, rel=1e-9)
    ext = extrapolate_arrhenius(fit, 300.0)
    assert ext["value"] == pytest.approx(sigma[0], rel=1e-9)
    d = 1e-3 * np.exp(-0.4 / (BOLTZMANN_EV_K * t))
    assert fit_arrhenius(t, d, mode="D", n_bootstrap=50).ea_eV == pytest.approx(0.4, rel=1e-9)


def test_arrhenius_noisy_points_within_uncertainty():
    rng = np.random.default_rng(7)
    t = np.array([400, 425, 450, 475, 500, 550, 600, 700, 800.0])
    true = 2e4 / t * np.exp(-0.3 / (BOLTZMANN_EV_K * t))
    sigma = true * np.exp(rng.normal(0, 0.1, t.size))
    fit = fit_arrhenius(t, sigma, errors=0.1 * sigma, n_bootstrap=1000)
    assert abs(fit.ea_eV - 0.3) < 3 * fit.ea_std_eV
    assert fit.ea_ci95_eV[0] < 0.3 < fit.ea_ci95_eV[1]
    ext = extrapolate_arrhenius(fit, 300.0)
    assert ext["ci95_low"] < 2e4 / 300 * np.exp(-0.3 / (BOLTZMANN_EV_K * 300)) < ext["ci95_high"]


def test_arrhenius_rejects_bad_input():
    with pytest.raises(ValueError, match="mode"):
        fit_arrhenius([300, 400, 500], [1, 2, 3], mode="lnD")
    with pytest.raises(ValueError, match="positive"):
        fit_arrhenius([300, 400, 500], [1, -2, 3])


def test_from_lammps_dump(tmp_path):
    from pydriver.analysis.synthetic import write_lammps_dump

    pos, labels = walk_with_framework(2, n_frames=300)
    types = np.where(labels == "Na", 1, 2)
    path = write_lammps_dump(tmp_path / "dump.lammpstrj", pos, types, steps=np.arange(300) * 100)
    res = DiffusionAnalysis.from_lammps_dump(path, {1: "Na", 2: "B"}, dt_ps=DT_PS / 100, temperature_K=400.0).run()
    assert abs(res.results["diffusivity_cm2_s"] - D_TRUE_CM2_S) < 3 * res.results["diffusivity_std_cm2_s"]
    with pytest.raises(ValueError, match="type_elements"):
        DiffusionAnalysis.from_lammps_dump(path, {1: "Na"}, dt_ps=0.001, temperature_K=400.0)
