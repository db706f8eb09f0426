"""Gibbs-Helmholtz integration of MD enthalpies (pydriver.thermo.anharmonic) against closed forms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pydriver.rundir import MANIFEST_FILE, RUN_FORMAT
from pydriver.thermo.anharmonic import anharmonic_correction, gibbs_helmholtz, md_enthalpy
from pydriver.units import BOLTZMANN_EV_K, EV_A3_TO_BAR

T_MD = np.array([700.0, 100.0, 200.0, 400.0, 900.0])  # any order


def test_linear_enthalpy_closed_form():
    """H = a + b T: G(T) = G0 T / T0 - a (T / T0 - 1) - b T ln(T / T0), exactly (piecewise-linear H)."""
    a, b, g0, t0 = -5.0, 3e-4, -5.02, 100.0
    t_out = np.array([50.0, 100.0, 150.0, 333.0, 900.0, 950.0])
    g, g_err = gibbs_helmholtz(T_MD, a + b * T_MD, None, t0, g0, t_out)
    exact = g0 * t_out / t0 - a * (t_out / t0 - 1) - b * t_out * np.log(t_out / t0)
    assert np.isnan(g[0]) and np.isnan(g[-1])  # no extrapolation
    assert g[1:-1] == pytest.approx(exact[1:-1], rel=1e-12, abs=1e-12)
    assert np.all(g_err[1:-1] == 0.0)
    # dG/dT = -S and G + T S = H: check H at 333 K numerically from G(T)
    h = 1e-3
    gp, gm = gibbs_helmholtz(T_MD, a + b * T_MD, None, t0, g0, [333.0 + h, 333.0 - h])[0]
    s = -(gp - gm) / (2 * h)
    assert g[3] + 333.0 * s == pytest.approx(a + b * 333.0, abs=1e-7)


def test_reference_inside_the_range_and_errors():
    """T0 need not be the lowest sample; errors of independent samples propagate as T sqrt(sum W^2 s^2)."""
    t = np.array([100.0, 300.0])
    h = np.array([1.0, 1.0])
    # constant H = 1 from T0 = 300 down to 100: G(T) = T [G0/T0 - (1/T0 - 1/T)]
    g, _ = gibbs_helmholtz(t, h, None, 300.0, 0.5, [100.0, 200.0])
    assert g == pytest.approx([100 * (0.5 / 300 - (1 / 300 - 1 / 100)), 200 * (0.5 / 300 - (1 / 300 - 1 / 200))])
    # one segment: W = [(t2 (1/t1 - 1/T) - ln(T/t1)) / (t2 - t1), (ln(T/t1) - t1 (1/t1 - 1/T)) / (t2 - t1)]
    sig = np.array([0.01, 0.02])
    _, err = gibbs_helmholtz(t, h, sig, 100.0, 0.0, [300.0])
    inv, lr = 1 / 100 - 1 / 300, np.log(3.0)
    w = np.array([300 * inv - lr, lr - 100 * inv]) / 200
    assert err[0] == pytest.approx(300 * np.sqrt(np.sum(w**2 * sig**2)), rel=1e-12)
    with pytest.raises(ValueError, match="T0"):
        gibbs_helmholtz(t, h, None, 50.0, 0.0, [100.0])
    with pytest.raises(ValueError, match="at least two"):
        gibbs_helmholtz([100.0], [1.0], None, 100.0, 0.0, [100.0])
    with pytest.raises(ValueError, match="distinct"):
        gibbs_helmholtz([100.0, 100.0], [1.0, 2.0], None, 100.0, 0.0, [100.0])


def test_anharmonic_correction():
    """A classical harmonic crystal gives dG = 0 (with any energy offset, aligned at T0); an extra
    dH = c (T - T0) gives dG = -c T [ln(T/T0) + T0/T - 1]."""
    n, e0, t0 = 64, -4.5, 100.0
    dof = 3 - 3 / n
    harmonic = e0 + dof * BOLTZMANN_EV_K * T_MD
    out = anharmonic_correction(T_MD, harmonic + 0.002, None, n, t0, [100.0, 500.0, 900.0], static_energy_eV_per_atom=e0)
    assert out["dG_eV_per_atom"] == pytest.approx([0.0, 0.0, 0.0], abs=1e-14)
    assert out["offset_at_T0_eV_per_atom"] == pytest.approx(0.002)
    # not aligned: the offset enters as offset (1 - T / T0)
    raw = anharmonic_correction(T_MD, harmonic + 0.002, None, n, t0, [500.0], static_energy_eV_per_atom=e0,
                                align_at_T0=False)
    assert raw["dG_eV_per_atom"][0] == pytest.approx(0.002 * (1 - 500 / t0))
    c = 2e-5
    out = anharmonic_correction(T_MD, harmonic + c * (T_MD - t0), None, n, t0, [400.0, 900.0])
    t = np.array([400.0, 900.0])
    assert out["dG_eV_per_atom"] == pytest.approx(-c * t * (np.log(t / t0) + t0 / t - 1), rel=1e-10)
    assert np.all(np.array(out["dG_eV_per_atom"]) < 0)  # extra enthalpy with T = extra entropy: G lower
    with pytest.raises(ValueError, match="static_energy"):
        anharmonic_correction(T_MD, harmonic, None, n, t0, [400.0], align_at_T0=False)


def test_md_enthalpy_from_a_run(tmp_path):
    """TotEng + Press * Volume per atom over the production rows, from run.json + log.lammps."""
    run = tmp_path / "oNBH_T300"
    run.mkdir()
    manifest = {"format": RUN_FORMAT, "temperature_K": 300.0, "dt_ps": 0.001, "types": [], "n_atoms": 128,
                "production_start_step": 100}
    (run / MANIFEST_FILE).write_text(json.dumps(manifest))
    rng = np.random.default_rng(1)
    rows = ["Step Temp TotEng Press Volume"]
    etot = -680.0 + rng.normal(0, 0.1, 41)
    for k in range(41):
        rows.append(f"{50 * k} 300 {etot[k]:.10f} 1000.0 1300.0")
    (run / "log.lammps").write_text("\n".join(rows) + "\nLoop time of 1 on 1 procs\n")
    out = md_enthalpy(run)
    h = (etot[2:] + 1000.0 * 1300.0 / EV_A3_TO_BAR) / 128  # rows from step 100
    assert out["n_rows"] == 39 and out["temperature_K"] == 300.0
    assert out["H_eV_per_atom"] == pytest.approx(h.mean(), rel=1e-12)
    assert out["H_err_eV_per_atom"] == pytest.approx(h.std(ddof=1) / np.sqrt(39), rel=0.5)
    with pytest.raises(FileNotFoundError, match="run.json"):
        md_enthalpy(tmp_path)
