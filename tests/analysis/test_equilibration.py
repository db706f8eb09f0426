"""Equilibration detection, drift test and statistical errors on synthetic thermo series."""

import numpy as np
import pytest

from pydriver.analysis import equilibration as eq

N_ROWS, DT_PS, EVERY = 2000, 0.002, 50  # rows every 0.1 ps, 200 ps


def ar1(rng, n, phi, sigma):
    """Stationary AR(1) series with marginal std ``sigma``: g = (1 + phi) / (1 - phi)."""
    x = np.empty(n)
    x[0] = rng.normal(0, sigma)
    noise = rng.normal(0, sigma * np.sqrt(1 - phi**2), n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return x


def records(temp, volume, pe, start_step=1000):
    steps = start_step + EVERY * np.arange(len(temp))
    return [{"Step": float(s), "Temp": t, "Volume": v, "PotEng": e} for s, t, v, e in zip(steps, temp, volume, pe)]


def test_detects_the_end_of_a_relaxation_and_reports_means_with_errors():
    rng = np.random.default_rng(1)
    t_row = np.arange(N_ROWS)
    relax = 300.0 * np.exp(-t_row / 60.0)  # volume relaxes over the first ~300 rows (30 ps)
    volume = 1000.0 + relax + ar1(rng, N_ROWS, 0.8, 5.0)
    pe = -500.0 + 0.02 * relax + ar1(rng, N_ROWS, 0.5, 0.3)
    temp = 700.0 + ar1(rng, N_ROWS, 0.6, 30.0)
    out = eq.thermo_equilibration(records(temp, volume, pe), DT_PS, production_start_step=1000)
    assert 150 <= out["equilibrated_from_step"] / EVERY - 20 <= 500  # rows 150-500: where relax < 1 sigma
    assert out["equilibrated_from_ps"] == pytest.approx((out["equilibrated_from_step"] - 1000) * DT_PS)
    assert out["drift_warnings"] == []
    n = out["n_equilibrated_rows"]
    assert out["volume_mean_A3"] == pytest.approx(1000.0, abs=3 * out["volume_sem_A3"] + 0.5)
    # AR(1), phi = 0.6: g = 4, sem = 30 sqrt(4 / n)
    assert out["temperature_statistical_inefficiency"] == pytest.approx(4.0, rel=0.3)
    assert out["temperature_sem_K"] == pytest.approx(30.0 * np.sqrt(4.0 / n), rel=0.2)
    assert out["temperature_mean_K"] == pytest.approx(700.0, abs=3 * out["temperature_sem_K"])


def test_volume_drift_in_production_is_warned():
    rng = np.random.default_rng(2)
    t_ps = np.arange(N_ROWS) * EVERY * DT_PS
    volume = 1000.0 + 0.2 * t_ps + ar1(rng, N_ROWS, 0.8, 5.0)  # +40 A^3 (4 %) over 200 ps
    out = eq.thermo_equilibration(records(700 + ar1(rng, N_ROWS, 0.5, 20), volume,
                                          -500 + ar1(rng, N_ROWS, 0.5, 0.3)), DT_PS)
    assert out["drift"]["volume"]["significant"] is True
    assert out["drift"]["volume"]["slope_per_ps"] == pytest.approx(0.2, rel=0.25)
    assert len(out["drift_warnings"]) == 1 and out["drift_warnings"][0].startswith("volume still drifts")
    assert out["drift"]["potential_energy"]["significant"] is False


def test_no_drift_false_alarm_rate_is_about_the_stated_level():
    rng = np.random.default_rng(3)
    alarms = sum(eq.drift(np.arange(400) * 0.1, ar1(rng, 400, 0.5, 1.0))["significant"] for _ in range(200))
    assert alarms <= 8  # 1 % two-sided level; 7 of 200 with this seed (g of the residuals slightly low)


def test_short_and_constant_series():
    assert eq.thermo_equilibration([], DT_PS) == {}
    short = eq.thermo_equilibration(records([700.0] * 5, [1000.0] * 5, [-5.0] * 5), DT_PS)
    assert short["n_rows"] == 5 and "not tested" in short["drift_warnings"][0]
    flat = eq.thermo_equilibration(records([700.0] * 20, [1000.0] * 20, [-5.0] * 20), DT_PS)  # NVT-like
    assert flat["equilibrated_from_ps"] == 0.0 and flat["volume_sem_A3"] == 0.0 and flat["drift"] == {}
