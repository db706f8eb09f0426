"""Error bars that hold: the transport uncertainties on synthetic crystals with known answers.

A fast, fixed-seed version of ``benchmarks/bench_uncertainty.py`` (the full table is in
docs/analysis.md). The bounds are ones the Gaussian-model (kinisi-style) error fails with the same
seeds and the calibrated default passes.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from pydriver.analysis.msd import msd_fft
from pydriver.analysis.synthetic import hopping_crystal
from pydriver.analysis.uncertainty import (charge_diffusivity, correlated_groups, per_ion_slopes, pivot_quantiles,
                                           tracer_diffusivity)
from pydriver.report.arrhenius import fit_group

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_uncertainty.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_uncertainty", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_hopping_crystal_has_the_diffusivity_it_claims():
    pos, truth = hopping_crystal(2001, 400, 0.05, 0.4, jump_length_A=3.0, vibration_rms_A=0.3, seed=1)
    t = 0.05 * np.arange(2001)
    msd = msd_fft(pos).mean(axis=1)
    slope = np.polyfit(t[200:1000], msd[200:1000], 1)[0]
    assert truth.diffusivity_cm2_s == pytest.approx(0.4 * 9.0 / 6.0 * 1e-4)
    assert slope / 6.0 * 1e-4 == pytest.approx(truth.diffusivity_cm2_s, rel=0.05)
    still, still_truth = hopping_crystal(2001, 400, 0.05, 0.0, vibration_rms_A=0.3, seed=1)
    assert msd_fft(still).mean(axis=1)[100:].mean() == pytest.approx(still_truth.msd_offset_A2, rel=0.03)  # 0.54
    pairs, pair_truth = hopping_crystal(11, 4, 0.1, 5.0, vibration_rms_A=0.0, group_size=2, seed=0)
    assert np.allclose(pairs[:, 0] - pairs[0, 0], pairs[:, 1] - pairs[0, 1]) and pair_truth.haven_ratio == 0.5
    with pytest.raises(ValueError, match="group_size=3 must be >= 1 and divide n_ions=4"):
        hopping_crystal(11, 4, 0.1, 5.0, group_size=3)


def test_few_ion_few_hop_errors_are_calibrated_where_the_gaussian_model_is_not(bench):
    regime = bench.REGIMES[0]  # 12 Na, 8 ps, 4 hops per ion: the regime of the study's small cells
    scores = bench.regime_scores(regime, 120, seed0=500)
    assert 0.8 < scores["rms_z_D_ions"] < 1.2 and 0.58 <= scores["interval_D68"] <= 0.8
    assert scores["interval_D95"] >= 0.88
    assert scores["rms_z_D_kinisi"] > 1.2  # the Gaussian-model error (the old default) is too small here
    assert 0.8 < scores["rms_z_Dq_pivot"] < 1.25 and 0.58 <= scores["interval_Dq68"] <= 0.8
    assert scores["interval_D_resolved"] > 0.95  # 4 hops per ion are always told from zero


def test_arrhenius_uses_every_resolved_temperature_and_its_interval_holds(bench):
    scores = bench.arrhenius_scores(40, seed0=7000)
    assert scores["mean_temperatures_used"] >= 4.8  # 1-10 hops per ion: all resolved (the 21 A^2 gate kept ~2)
    assert scores["n_fitted"] == 40
    assert scores["ea_coverage95"] >= 0.88 and scores["d300_coverage95"] >= 0.88
    assert 0.7 < scores["ea_rms_z"] < 1.3


def test_vibrating_ions_are_an_upper_bound_and_hopping_ions_are_resolved():
    t = 0.02 * np.arange(401)
    window = (t >= 0.8 - 1e-9) & (t <= 4.0 + 1e-9)
    idx = np.flatnonzero(window)
    geometry = (t.size, idx[0], idx[-1] + 1)
    still, _ = hopping_crystal(401, 24, 0.02, 0.0, vibration_rms_A=0.35, seed=3)
    quiet = tracer_diffusivity(per_ion_slopes(t, msd_fft(still), window), window=geometry)
    assert not quiet.resolved and quiet.reason.startswith("D not resolved from zero")
    assert 0 < quiet.upper_bound_95 < 0.01  # A^2/ps: bounded by the vibrational noise
    moving, truth = hopping_crystal(401, 24, 0.02, 1.0 / 8.0, vibration_rms_A=0.35, seed=3)  # one hop per ion
    hop = tracer_diffusivity(per_ion_slopes(t, msd_fft(moving), window), window=geometry)
    assert hop.resolved and hop.ci95[0] < truth.diffusivity_cm2_s * 1e4 < hop.ci95[1]


def test_charge_pivot_is_window_geometry_only_and_undefined_for_no_transport():
    q = pivot_quantiles(401, 40, 201, [0.16, 0.5, 0.84])
    assert 0.3 < q[0] < 0.45 and 0.8 < q[1] < 0.9 and 1.5 < q[2] < 1.8  # one walker: a factor ~4.4 wide
    assert np.allclose(pivot_quantiles(4001, 400, 2001, [0.16, 0.84]), q[[0, 2]], rtol=0.05)  # coarse grid
    iv = charge_diffusivity(1.0, 401, 40, 201)
    assert iv.value == 1.0 and iv.ci68 == pytest.approx((1 / q[2], 1 / q[0]), rel=1e-9)
    nothing = charge_diffusivity(-0.3, 401, 40, 201)
    assert np.isnan(nothing.std) and "no net charge transport resolved" in nothing.reason


def _point(name, temperature_K, value, sigma_ln=0.1, included=True, bound=None):
    return {"run_dir": name, "name": name, "temperature_K": temperature_K, "set_temperature_K": temperature_K,
            "temperature_source": "set point", "value": value, "error": value * sigma_ln, "sigma_ln": sigma_ln,
            "included": included, "excluded_reason": None if included else "not diffusive", "upper_bound": bound,
            "unchecked": False}


def test_replicates_pool_into_one_temperature_and_a_zero_point_leaves_four():
    ea, kb = 0.3, 8.617333262e-5
    d = {t: np.exp(-ea / (kb * t)) for t in (500.0, 600.0, 700.0, 800.0, 900.0)}
    points = [_point(f"T{t:g}", t, v) for t, v in d.items() if t != 500.0]
    points.append(_point("T500", 500.0, 0.0, included=False, bound=2 * d[500.0]))
    points.append(_point("T600b", 602.0, d[600.0] * 1.02))  # a replicate 2 K away
    out = fit_group(points, mode="D", n_bootstrap=200)
    assert out["fit"]["ea_eV"] == pytest.approx(ea, abs=0.01)
    assert [p["n_replicates"] for p in out["temperatures"]] == [2, 1, 1, 1]
    assert out["upper_bounds"] == [{"name": "T500", "temperature_K": 500.0, "upper_bound": 2 * d[500.0]}]
    few = fit_group([_point("a", 600.0, 1.0), _point("b", 601.0, 1.1), _point("c", 700.0, 2.0)], mode="D")
    assert few["fit"] is None and few["fit_reason"].startswith("2 usable temperature(s) of 3 runs")


def test_concerted_ions_are_grouped_and_their_error_holds(bench):
    """Pairs that hop together are found and jackknifed as pairs; independent ions stay single."""
    pos, _ = hopping_crystal(801, 24, 0.025, 0.5, vibration_rms_A=0.3, group_size=2, seed=3)
    labels = correlated_groups(pos, 80)
    assert labels.max() + 1 == 12 and all(labels[i] == labels[i + 1] for i in range(0, 24, 2))
    pos, _ = hopping_crystal(801, 24, 0.025, 0.5, vibration_rms_A=0.3, seed=3)
    assert correlated_groups(pos, 80).max() + 1 == 24
    slopes = np.random.default_rng(0).gamma(2.0, 3.0, 12)
    single = tracer_diffusivity(slopes)
    assert tracer_diffusivity(slopes, groups=np.arange(12)).sigma_ln == pytest.approx(single.sigma_ln)
    pairs = tracer_diffusivity(np.repeat(slopes[:6], 2), groups=np.repeat(np.arange(6), 2))
    assert pairs.dof == 5 and pairs.method == "ions (6 groups of concerted ions)"
    assert pairs.sigma_ln == pytest.approx(tracer_diffusivity(slopes[:6]).sigma_ln)  # a pair counts once
    regime = next(r for r in bench.REGIMES if r.group_size == 2)
    scores = bench.regime_scores(regime, 40, seed0=7)
    assert 0.8 < scores["rms_z_D_ions"] < 1.25 and scores["interval_D68"] >= 0.55
