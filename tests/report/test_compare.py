"""Comparisons of conditions from a report.json: levels, ratios, differences, fractions, verdicts (synthetic reports)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pydriver.report import compare, levels
from pydriver.report.arrhenius import fit_group
from pydriver.units import BOLTZMANN_EV_K

ONBH = "Na3(BH4)(B12H12) (oNBH)"
Z = stats.norm.ppf(0.975)


def run(t, d=None, sigma_ln=0.1, structure=ONBH, mass="unscaled", name=None, q95=Z, **extra) -> dict:
    """A report row: D with its log error and a 95 % interval of quantile ``q95``; sigma = 1e4 x D."""
    row = {"run_dir": name or f"{structure}-{mass}-{t}-{d}", "structure": structure, "mass_factors": mass,
           "temperature_K": float(t), "fit_temperature_K": float(t), "diffusive": d is not None,
           "framework_solid": True, "active_n_ions": 48}
    if d is not None:
        row.update({"diffusivity_cm2_s": d, "diffusivity_std_cm2_s": d * sigma_ln, "diffusivity_sigma_ln": sigma_ln,
                    "diffusivity_ci95_cm2_s": [d * math.exp(-q95 * sigma_ln), d * math.exp(q95 * sigma_ln)],
                    "conductivity_mS_cm": 1e4 * d, "conductivity_std_mS_cm": 1e4 * d * sigma_ln,
                    "conductivity_ci95_mS_cm": [1e4 * d * math.exp(-q95 * sigma_ln), 1e4 * d * math.exp(q95 * sigma_ln)]})
    row.update(extra)
    return row


def report(*rows, **sections) -> dict:
    return {"runs": list(rows), "replicates": [], "arrhenius": {}, "hop_rate_arrhenius": {}, **sections}


def test_ratio_of_two_single_runs_is_the_log_difference_with_errors_in_quadrature():
    rep = report(run(750, 2e-5, 0.1), run(750, 1e-5, 0.2, mass="BH4 x5"))
    a = levels.transport_level(rep, ONBH, "unscaled", 750)
    b = levels.transport_level(rep, ONBH, "BH4 x5", 750)
    assert math.isinf(a.dof) and a.n_used == 1 and a.ci95() == pytest.approx((2e-5 / math.exp(Z * 0.1),
                                                                                2e-5 * math.exp(Z * 0.1)))
    c = compare.ratio(a, b)
    s = math.sqrt(0.1**2 + 0.2**2)
    assert c["estimate"] == pytest.approx(2.0)
    assert c["ci95"] == pytest.approx([2 * math.exp(-Z * s), 2 * math.exp(Z * s)])
    assert c["sigma"] == pytest.approx(s) and c["dof"] is None and c["bound"] is None
    assert compare.verdict(c, 1.5, ">") == compare.NOT_RESOLVED  # 2 [1.29, 3.10]: includes 1.5
    assert compare.verdict(c, 1.0, ">") == compare.SUPPORTED and compare.verdict(c, 1.0, "<") == compare.CONTRADICTED


def test_one_run_keeps_the_degrees_of_freedom_of_its_own_interval():
    t5 = stats.t.ppf(0.975, 5)
    level = levels.transport_level(report(run(600, 1e-5, 0.3, q95=t5)), ONBH, "unscaled", 600)
    assert level.dof == pytest.approx(5.0, rel=1e-6)
    assert level.ci95() == pytest.approx((1e-5 * math.exp(-t5 * 0.3), 1e-5 * math.exp(t5 * 0.3)))


def test_welch_satterthwaite_degrees_of_freedom():
    assert compare.welch_dof(0.1, math.inf, 0.2, math.inf) == math.inf
    assert compare.welch_dof(0.1, 4, 0.1, 4) == pytest.approx(8.0)
    assert compare.welch_dof(0.1, math.inf, 0.2, 3) == pytest.approx((0.05**2) / (0.2**4 / 3))


def test_replicates_come_from_the_reports_pooling_and_widened_ones_use_student_t():
    rows = [run(750, 1e-5, 0.1, name="a"), run(752, 3e-5, 0.1, name="b")]
    pooled = {"structure": ONBH, "mass_factors": "unscaled", "temperature_K": 751.0, "n_resolved": 2,
              "diffusivity_cm2_s": 1.7e-5, "sigma_ln": 0.55, "chi2": 6.0, "chi2_dof": 1}
    level = levels.transport_level(report(*rows, replicates=[pooled]), ONBH, "unscaled", 750)
    assert (level.value, level.sigma, level.dof, level.n_used) == (1.7e-5, 0.55, 1.0, 2)  # report's numbers, t(1)
    # without the report's entry: pooled here by the same rule (inverse-variance mean, Birge-widened)
    own = levels.transport_level(report(*rows), ONBH, "unscaled", 750)
    w_mean = math.exp((math.log(1e-5) + math.log(3e-5)) / 2)
    chi2 = 2 * (math.log(3) / 2) ** 2 / 0.01
    assert own.value == pytest.approx(w_mean) and own.sigma == pytest.approx(0.1 / math.sqrt(2) * math.sqrt(chi2))
    assert own.dof == 1.0


def test_a_condition_that_is_not_diffusive_bounds_the_ratio_from_one_side():
    rep = report(run(600, 1e-5, 0.1), run(600, structure="NaBH4", diffusivity_cm2_s=2e-8,
                                             diffusivity_upper_bound_95_cm2_s=1e-7, conductivity_mS_cm=2e-4,
                                             conductivity_upper_bound_95_mS_cm=1e-3))
    onbh = levels.transport_level(rep, ONBH, "unscaled", 600, "sigma")
    nabh4 = levels.transport_level(rep, "NaBH4", "unscaled", 600, "sigma")
    assert nabh4.bound == "upper" and nabh4.value == 1e-3 and nabh4.ci95() == (None, 1e-3)
    c = compare.ratio(onbh, nabh4)
    assert c["bound"] == "lower" and c["estimate"] is None
    assert c["ci95"] == pytest.approx([0.1 * math.exp(-Z * 0.1) / 1e-3, None])
    assert compare.verdict(c, 10.0, ">") == compare.SUPPORTED
    reverse = compare.ratio(nabh4, onbh)
    assert reverse["bound"] == "upper" and reverse["ci95"][0] is None
    assert reverse["ci95"][1] == pytest.approx(1e-3 / (0.1 * math.exp(-Z * 0.1)))
    both = compare.ratio(nabh4, nabh4)
    assert both["ci95"] == [None, None] and compare.verdict(both, 1.0, ">") == compare.NOT_RESOLVED


def test_older_analyses_without_the_bound_column_bound_d_by_value_plus_1_96_std():
    row = run(700, structure="NaBH4", diffusivity_cm2_s=-1e-6, diffusivity_std_cm2_s=2e-6)
    level = levels.transport_level(report(row), "NaBH4", "unscaled", 700)
    assert level.bound == "upper" and level.value == pytest.approx(Z * 2e-6)


def test_melted_or_missing_conditions_have_no_number_and_no_verdict():
    rep = report(run(700, 1e-5, framework_solid=False))
    melted = levels.transport_level(rep, ONBH, "unscaled", 700)
    assert melted.value is None and "framework not solid" in melted.reason
    absent = levels.transport_level(rep, ONBH, "unscaled", 900)
    c = compare.ratio(melted, absent)
    assert c["ci95"] == [None, None] and "no runs" in c["reason"] and compare.verdict(c, 1, ">") == compare.NOT_RESOLVED


def _arrhenius_group(ea_eV, ln_a, temps, sigma_ln, mode="sigma_T", noise=None):
    """An Arrhenius group as the report writes it, from exact (or perturbed) points."""
    noise = np.zeros(len(temps)) if noise is None else np.asarray(noise)
    points = []
    for t, e in zip(temps, noise):
        ln_y = ln_a - ea_eV / (BOLTZMANN_EV_K * t) + e  # ln(sigma T) or ln D
        value = math.exp(ln_y) / t if mode == "sigma_T" else math.exp(ln_y)
        points.append({"run_dir": f"r{t}", "name": f"r{t} ({t} K)", "temperature_K": float(t),
                       "set_temperature_K": float(t), "temperature_source": "set point", "value": value,
                       "error": value * sigma_ln, "sigma_ln": sigma_ln, "included": True, "excluded_reason": None,
                       "upper_bound": None, "unchecked": False})
    return {"structure": ONBH, "mass_factors": "unscaled", "mode": mode, "points": points,
            **fit_group(points, mode, 200, "test")}


def test_arrhenius_line_at_a_temperature_and_its_covariance():
    group = _arrhenius_group(0.3, 10.0, [600.0, 750.0, 900.0], 0.1)
    rep = report(arrhenius={f"{ONBH}, unscaled": group})
    level = levels.arrhenius_line_level(rep, ONBH, "unscaled", 500.0)
    assert level.value == pytest.approx(math.exp(10.0 - 0.3 / (BOLTZMANN_EV_K * 500.0)) / 500.0, rel=1e-9)
    x = 1.0 / np.array([600.0, 750.0, 900.0])
    design = np.column_stack([x, np.ones(3)])
    cov = np.linalg.inv(design.T @ design / 0.01)  # exact points: chi^2 = 0, not scaled
    g = np.array([1 / 500.0, 1.0])
    assert level.sigma == pytest.approx(math.sqrt(g @ cov @ g), rel=1e-9)
    assert math.isinf(level.dof) and level.reason == "extrapolated from 600-900 K" and level.n_used == 3
    ea = levels.ea_level(rep, ONBH, "unscaled")
    assert ea.value == pytest.approx(0.3) and ea.sigma == pytest.approx(math.sqrt(cov[0, 0]) * BOLTZMANN_EV_K)
    group["fit"] = {**group["fit"], "ea_eV": 0.5}
    with pytest.raises(ValueError, match="refit Ea"):
        levels.arrhenius_line_level(rep, ONBH, "unscaled", 500.0)


def test_scattered_arrhenius_points_give_student_t_on_n_minus_2():
    group = _arrhenius_group(0.3, 10.0, [600.0, 700.0, 800.0, 900.0], 0.05, mode="D", noise=[0.2, -0.2, 0.2, -0.2])
    assert group["fit"]["birge_ratio"] > 1
    rep = report(arrhenius={f"{ONBH}, unscaled": group})
    assert levels.arrhenius_line_level(rep, ONBH, "unscaled", 700.0).dof == 2.0
    assert levels.ea_level(rep, ONBH, "unscaled").dof == pytest.approx(2.0, rel=1e-6)


def test_difference_of_activation_energies():
    a = levels.Level("Ea a", 0.30, 0.02, "linear")
    b = levels.Level("Ea b", 0.25, 0.03, "linear", dof=1.0)
    c = compare.difference(a, b)
    s = math.hypot(0.02, 0.03)
    dof = s**4 / (0.03**4 / 1.0)
    q = stats.t.ppf(0.975, dof)
    assert c["estimate"] == pytest.approx(0.05) and c["dof"] == pytest.approx(dof)
    assert c["ci95"] == pytest.approx([0.05 - q * s, 0.05 + q * s])
    assert compare.equivalence_verdict(c, 0.05) == compare.NOT_RESOLVED
    tight = compare.difference(levels.Level("a", 0.30, 0.001, "linear"), levels.Level("b", 0.29, 0.001, "linear"))
    assert compare.equivalence_verdict(tight, 0.05) == compare.SUPPORTED
    far = compare.difference(levels.Level("a", 0.50, 0.01, "linear"), levels.Level("b", 0.29, 0.01, "linear"))
    assert compare.equivalence_verdict(far, 0.05) == compare.CONTRADICTED
    missing = compare.difference(levels.Level("a", None, scale="linear", reason="no fit"), b)
    assert missing["ci95"] == [None, None] and compare.equivalence_verdict(missing, 0.05) == compare.NOT_RESOLVED
    with pytest.raises(ValueError, match="linear"):
        compare.difference(levels.Level("D", 1.0, 0.1), b)


def _jeffreys95(k, n):
    lo = 0.0 if k == 0 else stats.beta.ppf(0.025, k + 0.5, n - k + 0.5)
    hi = 1.0 if k == n else stats.beta.ppf(0.975, k + 0.5, n - k + 0.5)
    return lo, hi


def test_mobile_fractions_pool_replicate_counts_and_differ_by_the_mover_interval():
    heavy = [run(750, 1e-5, mass="BH4 x5", name=f"h{i}", fraction_hops=f, active_fraction=0.0,
                 active_fraction_d_threshold=0.5) for i, f in enumerate((10 / 48, 6 / 48))]
    light = [run(750, 1e-5, name=f"l{i}", fraction_hops=f, active_fraction=0.0, active_fraction_d_threshold=0.5)
             for i, f in enumerate((20 / 48, 18 / 48))]
    rep = report(*heavy, *light)
    a = levels.fraction_counts(rep, ONBH, "BH4 x5", 750, "hops")
    b = levels.fraction_counts(rep, ONBH, "unscaled", 750, "hops")
    assert (a["k"], a["n"], a["n_used"]) == (16, 96, 2) and (b["k"], b["n"]) == (38, 96)
    c = compare.fraction_difference(a, b)
    (la, ua), (lb, ub) = _jeffreys95(16, 96), _jeffreys95(38, 96)
    pa, pb = 16 / 96, 38 / 96
    assert c["estimate"] == pytest.approx(pa - pb)
    assert c["ci95"] == pytest.approx([pa - pb - math.hypot(pa - la, ub - pb), pa - pb + math.hypot(ua - pa, pb - lb)])
    assert c["a"]["k"] == 16 and c["a"]["ci95"] == pytest.approx([la, ua])
    assert compare.verdict(c, 0.0, "<") == compare.SUPPORTED
    none = compare.fraction_difference(levels.fraction_counts(rep, ONBH, "unscaled", 750, "msd_21A2"),
                                       levels.fraction_counts(rep, ONBH, "BH4 x5", 750, "msd_21A2"))
    assert none["estimate"] == 0.0 and none["ci95"][0] < 0 < none["ci95"][1]
    missing = levels.fraction_counts(report(run(750, 1e-5)), ONBH, "unscaled", 750, "hops")
    assert missing["k"] is None and "no hops counts" in missing["reason"]
    with pytest.raises(ValueError, match="definition"):
        levels.fraction_counts(rep, ONBH, "unscaled", 750, "msd")


def test_reorientation_times_pool_and_unresolved_ones_are_lower_bounds():
    key = "reorientation_B12H12_tau_1"
    heavy = [run(750, 1e-5, mass="B12H12 x5", name=f"h{i}", **{f"{key}_ps": None, f"{key}_std_ps": None,
                                                                  f"{key}_lower_bound_ps": lb})
             for i, lb in enumerate((9.0, 7.0))]
    light = [run(750, 1e-5, name=f"l{i}", **{f"{key}_ps": tau, f"{key}_std_ps": 0.2 * tau}) for i, tau in
             enumerate((2.0, 2.0))]
    rep = report(*heavy, *light)
    slow = levels.reorientation_level(rep, ONBH, "B12H12 x5", 750, "B12H12", 1)
    fast = levels.reorientation_level(rep, ONBH, "unscaled", 750, "B12H12", 1)
    assert slow.bound == "lower" and slow.value == 7.0  # the smaller of the two lower bounds
    assert fast.value == pytest.approx(2.0) and fast.sigma == pytest.approx(0.2 / math.sqrt(2)) and fast.n_used == 2
    c = compare.ratio(slow, fast)
    assert c["bound"] == "lower" and c["ci95"][0] == pytest.approx(7.0 / (2.0 * math.exp(Z * 0.2 / math.sqrt(2))))


def test_coupling_factor_error_comes_from_its_95_percent_interval():
    rep = report(run(750, 1e-5, coupling_BH4_factor=1.5,
                     coupling_BH4_factor_ci95=[1.5 * math.exp(-Z * 0.3), 1.5 * math.exp(Z * 0.3)]))
    level = levels.coupling_level(rep, ONBH, "unscaled", 750, "BH4")
    assert level.value == 1.5 and level.sigma == pytest.approx(0.3)


def test_hop_rates_come_from_the_hop_rate_groups_pooled_points():
    points = [{"run_dir": "a", "set_temperature_K": 750.0, "included": True, "upper_bound": None},
              {"run_dir": "b", "set_temperature_K": 750.0, "included": True, "upper_bound": None}]
    group = {"points": points, "temperatures": [{"set_temperature_K": 750.0, "value": 1.2, "sigma_ln": 0.07,
                                                 "n_replicates": 2, "chi2": 0.5}]}
    rep = report(run(750, 1e-5, name="a"), run(750, 1e-5, name="b"),
                 hop_rate_arrhenius={f"{ONBH}, unscaled": group})
    level = levels.hop_rate_level(rep, ONBH, "unscaled", 750)
    assert (level.value, level.sigma, level.n_used, level.unit) == (1.2, 0.07, 2, "1/ps") and math.isinf(level.dof)
    none = {"points": [{**points[0], "included": False, "upper_bound": 0.05, "excluded_reason": "no hops in the run"}],
            "temperatures": []}
    bound = levels.hop_rate_level(report(run(750, 1e-5, name="a"), hop_rate_arrhenius={f"{ONBH}, unscaled": none}),
                                  ONBH, "unscaled", 750)
    assert bound.bound == "upper" and bound.value == 0.05


def test_a_phase_named_twice_is_refused():
    rep = report(run(600, 1e-5, structure="Na3(BH4)(B12H12) (oNBH_r2)"),
                 run(600, 1e-5, structure="Na3(BH4)(B12H12) (oNBH_r3)"), run(600, 1e-6, structure="NaBH4"))
    assert levels.find_structure(rep, "NaBH4") == "NaBH4" and levels.find_structure(rep, "Na2B12H12") is None
    with pytest.raises(ValueError, match="not replicates of one phase"):
        levels.find_structure(rep, "Na3(BH4)(B12H12)")


def test_verdicts_with_open_ends():
    assert compare.verdict({"ci95": [12.0, None]}, 10.0, ">") == compare.SUPPORTED
    assert compare.verdict({"ci95": [None, 0.5]}, 1.0, ">") == compare.CONTRADICTED
    assert compare.verdict({"ci95": [None, 5.0]}, 1.0, ">") == compare.NOT_RESOLVED
    assert compare.verdict({"ci95": [0.2, 0.8]}, 1.0, "<") == compare.SUPPORTED
    with pytest.raises(ValueError, match="direction"):
        compare.verdict({"ci95": [0.2, 0.8]}, 1.0, "=")
