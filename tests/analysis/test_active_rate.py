"""Active Na by MSD >= 21 A^2 and by D resolved above D* = 21 A^2 / (6 x 1 ns), with 68 % intervals."""

import numpy as np
import pytest
from scipy import stats

from pydriver.analysis import active
from pydriver.analysis.msd import msd_fft

DT_PS = 0.02


def ions(n_fast, n_still, d_fast_A2_ps, n_frames, seed=0, vib_A=0.15):
    """Fast ions (Gaussian walk) then vibrating ions, each with independent vibrations of vib_A per component."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, np.sqrt(2 * d_fast_A2_ps * DT_PS), (n_frames, n_fast, 3)), axis=0)
    pos = np.concatenate([walk, np.zeros((n_frames, n_still, 3))], axis=1)
    return pos + rng.normal(0, vib_A, pos.shape) + rng.uniform(0, 20, (1, n_fast + n_still, 3))


def test_d_star_is_the_paper_criterion_as_a_rate():
    assert active.D_THRESHOLD_A2_PS == pytest.approx(21.0 / 6000.0)
    assert active.D_THRESHOLD_A2_PS * 1e-4 == pytest.approx(3.5e-7)


def test_mixed_fast_and_immobile_ions_give_the_known_fractions():
    pos = ions(12, 36, 3.0, 1000)  # 20 ps; fast ions reach 180 A^2 at 10 ps
    lag = np.arange(1000) * DT_PS
    by_msd = active.active_ions(msd_fft(pos), lag)
    by_rate = active.rate_active_ions(pos, DT_PS, 2.0, 10.0)
    assert by_msd["fraction_msd_21A2"] == by_msd["active_fraction"] == 0.25
    assert by_rate["fraction_d_threshold"] == 0.25 and by_rate["n_active_d_threshold"] == 12
    low, high = active.jeffreys_interval(12, 48)
    assert by_rate["fraction_d_threshold_ci68"] == by_msd["fraction_msd_21A2_ci68"] == [low, high]
    assert low < 0.25 < high
    d = np.array(by_rate["ion_diffusivity_cm2_s"]) / 1e-4  # A^2/ps
    assert len(by_rate["ion_diffusivity_std_cm2_s"]) == 48
    assert d[:12].mean() == pytest.approx(3.0, rel=0.25)
    assert np.abs(d[12:]).max() < active.D_THRESHOLD_A2_PS


def test_short_run_counts_ions_that_are_active_on_the_paper_timescale():
    # D = 50 D*: 4.2 A^2 by 4 ps, short of 21 A^2, yet 105 A^2 over 1 ns
    pos = ions(40, 40, 50 * active.D_THRESHOLD_A2_PS, 400, seed=4, vib_A=0.3)  # 8 ps
    assert active.active_ions(msd_fft(pos), np.arange(400) * DT_PS)["fraction_msd_21A2"] == 0.0
    out = active.rate_active_ions(pos, DT_PS, 0.8, 4.0)
    d_A2_ps = np.array(out["ion_diffusivity_cm2_s"]) / 1e-4
    counted = (d_A2_ps > 0) & (np.arange(80) < 40)
    # a single ion's D over 8 ps is uncertain by about 70 %: nearly all, not all, fast ions are resolved
    assert 0.45 <= out["fraction_d_threshold"] <= 0.5
    assert out["n_active_d_threshold"] <= counted.sum()


def test_per_ion_error_is_calibrated_for_random_walkers():
    pos = ions(300, 0, 0.2, 600, seed=7, vib_A=0.0)
    per_ion = active.per_ion_diffusivity(pos, DT_PS, 1.2, 6.0)
    z = (per_ion["d_A2_ps"] - 0.2) / (0.2 * per_ion["walk_relative_std"])  # error at the true D
    assert np.sqrt(np.mean(z**2)) == pytest.approx(1.0, abs=0.1)
    assert np.mean(np.abs(z) < 1) == pytest.approx(0.683, abs=0.08)
    assert np.median(per_ion["vibration_std_A2_ps"]) < 0.1 * 0.2 * per_ion["walk_relative_std"]


def test_vibrational_error_matches_the_spread_of_vibrating_ions():
    pos = ions(0, 200, 0.0, 400, seed=8, vib_A=0.3)
    per_ion = active.per_ion_diffusivity(pos, DT_PS, 0.8, 4.0)
    assert np.median(per_ion["vibration_std_A2_ps"]) == pytest.approx(per_ion["d_A2_ps"].std(), rel=0.15)


def test_random_walk_error_formula_single_step():
    # one-frame lag from n origins: |dr|^2 ~ s^2 chi^2_3, relative std of the mean sqrt(2 / (3 n))
    assert active._random_walk_relative_std(0, 1, 500) == pytest.approx(np.sqrt(2 / 1500))


def test_jeffreys_interval_values_and_errors():
    low, high = active.jeffreys_interval(3, 10)
    assert (low, high) == pytest.approx((stats.beta.ppf(0.16, 3.5, 7.5), stats.beta.ppf(0.84, 3.5, 7.5)))
    assert active.jeffreys_interval(0, 8)[0] == 0.0 and active.jeffreys_interval(8, 8)[1] == 1.0
    assert active.jeffreys_interval(5, 10) == pytest.approx((1 - active.jeffreys_interval(5, 10)[1],
                                                             1 - active.jeffreys_interval(5, 10)[0]))
    with pytest.raises(ValueError, match="0 <= k <= n"):
        active.jeffreys_interval(4, 3)


def test_window_outside_the_run_names_the_options():
    with pytest.raises(ValueError, match="--fit-start-ps"):
        active.per_ion_diffusivity(np.zeros((50, 2, 3)), DT_PS, 0.96, 5.0)
    # a window to the end of the run keeps 3 time origins
    assert active.per_ion_diffusivity(ions(2, 0, 0.5, 50), DT_PS, 0.1, 0.98)["window_ps"] == pytest.approx([0.1, 0.94])
