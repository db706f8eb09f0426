"""Mechanism in the report: the per-run table holds analysis.json's numbers; the hop-rate Arrhenius fit; the figures."""

import json
import logging

import numpy as np
import pytest

from pydriver.report.mechanism import hop_rate_groups
from pydriver.report.plots import _slab_spans, coupling_profile_figure, site_occupancy_figure, slab_profile_figure
from pydriver.rundir import AnalysisSummary
from pydriver.units import BOLTZMANN_EV_K

EA_HOP_EV, NU0_PER_PS = 0.25, 40.0
TEMPS = (450.0, 500.0, 600.0, 700.0, 800.0)


def hop_rate(t):
    return NU0_PER_PS * np.exp(-EA_HOP_EV / (BOLTZMANN_EV_K * t))


def hop_row(t, rate, std, n_hops=100, hops_reason=None, structure="NaBH4", ci95=None):
    return {"run_dir": f"runs/{structure}_T{t:g}", "structure": structure, "mass_factors": "unscaled",
            "temperature_K": t, "fit_temperature_K": t, "temperature_source": "measured", "n_hops": n_hops,
            "hops_reason": hops_reason, "hop_rate_per_ion_per_ps": rate, "hop_rate_per_ion_per_ps_std": std,
            "hop_rate_per_ion_per_ps_ci95": ci95, "framework_solid": True}


def test_hop_rate_arrhenius_recovers_the_activation_energy(caplog):
    rng = np.random.default_rng(7)
    rows = [hop_row(t, hop_rate(t) * (1 + 0.05 * rng.normal()), 0.05 * hop_rate(t)) for t in TEMPS]
    rows.append(hop_row(400.0, 0.0, 0.0, n_hops=0, ci95=[0.0, 0.003]))  # no hops: a bound, not a point
    rows.append(hop_row(420.0, None, None, n_hops=None, hops_reason="no sites: the ions do not sit on sites"))
    with caplog.at_level(logging.WARNING):
        g = hop_rate_groups(rows, n_bootstrap=200)["NaBH4, unscaled"]
    fit = g["fit"]
    assert fit["ea_eV"] == pytest.approx(EA_HOP_EV, abs=0.02)
    assert fit["ea_ci95_eV"][0] < EA_HOP_EV < fit["ea_ci95_eV"][1] and fit["mode"] == "hop_rate"
    assert fit["hop_rate_300K_per_ps"] == pytest.approx(hop_rate(300.0), rel=0.3)
    assert g["at_300K"]["ci95_low"] < hop_rate(300.0) < g["at_300K"]["ci95_high"]
    reasons = {p["set_temperature_K"]: p["excluded_reason"] for p in g["points"]}
    assert reasons[400.0] == "no hops in the run" and reasons[420.0].startswith("no hop numbers: no sites")
    assert g["upper_bounds"] == [{"name": "NaBH4_T400 (400 K)", "temperature_K": 400.0, "upper_bound": 0.003}]
    assert "NaBH4_T400 (400 K) excluded: no hops in the run" in caplog.text
    assert sum(p["included"] for p in g["points"]) == len(TEMPS)


def test_exact_rates_give_the_exact_energy():
    rows = [hop_row(t, hop_rate(t), 0.05 * hop_rate(t)) for t in TEMPS]
    fit = hop_rate_groups(rows, n_bootstrap=50)["NaBH4, unscaled"]["fit"]
    assert fit["ea_eV"] == pytest.approx(EA_HOP_EV, abs=1e-9)
    assert np.exp(fit["ln_prefactor"]) == pytest.approx(NU0_PER_PS, rel=1e-9)


PROFILE = {"time_since_event_ps": [0.0, 0.1, 0.2, 0.3], "hop_rate_ratio": [3.1, 2.9, None, 1.0],
           "hop_rate_ratio_ci95": [[2.5, 3.8], [2.2, 3.7], None, [0.7, 1.4]], "n_hops": [30, 25, 0, 10],
           "baseline_hops": 200}


def mechanism_sections(t):
    """Mechanism sections of one analysis.json: 4 sites, hops Arrhenius in T, BH4 resolved, B12H12 a lower bound."""
    rate = hop_rate(t)
    return {
        "sites": {"n_sites": 4, "source": "density", "occupancy_per_site": [0.9, 0.8, 0.2, 0.1],
                  "occupancy_std_per_site": [0.05, 0.06, 0.04, 0.03], "family": None},
        "hops": {"n_hops": 120, "rate_per_ion_per_ps": rate, "rate_per_ion_per_ps_std": 0.05 * rate,
                 "rate_per_ion_per_ps_ci95": [0.9 * rate, 1.1 * rate], "back_jump_probability": 0.74,
                 "back_jump_probability_ci95": [0.54, 0.88], "correlation_factor": 0.25,
                 "correlation_factor_std": 0.17},
        "reorientation": {
            "BH4": {"tau_1_ps": 0.58, "tau_1_std_ps": 0.21, "tau_2_ps": 0.34, "tau_2_std_ps": 0.05,
                    "tau_1_lower_bound_ps": 0.09, "tau_2_lower_bound_ps": 0.15},
            "B12H12": {"tau_1_ps": None, "tau_1_std_ps": None, "tau_1_lower_bound_ps": 17.6, "tau_2_ps": None,
                       "tau_2_std_ps": None, "tau_2_lower_bound_ps": 6.2}},
        "coupling": {"BH4": {"enhancement_factor": 0.87, "enhancement_factor_ci95": [0.38, 2.0],
                             "n_hops_exposed": 20, "n_hops_unexposed": 100, "profile": PROFILE}}}


def write_analysis(folder, t, mass_factor=1.0):
    folder.mkdir(parents=True)
    run = {"formula": "Na12B52H64", "anion_counts": {"BH4": 4, "B12H12": 4}, "temperature_K": t,
           "structure_source": "examples/structures/oNBH.extxyz", "mass_factors": {"BH4": mass_factor}}
    d = 1e-6 * np.exp(-0.3 / (BOLTZMANN_EV_K * t)) * 1e3
    tr = {"temperature_K": t, "temperature_source": "set point", "diffusivity_cm2_s": d,
          "diffusivity_std_cm2_s": 0.1 * d, "conductivity_mS_cm": d * 1e6, "conductivity_std_mS_cm": 0.1 * d * 1e6}
    sections = mechanism_sections(t)
    if mass_factor != 1.0:
        sections["reorientation"]["BH4"]["tau_1_ps"] *= mass_factor ** 0.5
    summary = AnalysisSummary("test", run, {}, tr, diagnostics={"diffusive": True},
                              active={"active_fraction": 0.5, "fraction_hops": 0.08,
                                      "fraction_hops_ci68": [0.04, 0.2]}, extra=sections)
    (folder / "analysis.json").write_text(json.dumps(summary.to_dict()))


def test_report_has_the_mechanism_table_hop_arrhenius_and_figures(tmp_path):
    from pydriver.report import build_report

    for t in (500.0, 600.0, 700.0):
        write_analysis(tmp_path / "runs" / f"T{t:g}", t)
    write_analysis(tmp_path / "runs" / "T600_m4", 600.0, mass_factor=4.0)
    report = build_report([tmp_path / "runs"], tmp_path / "rep", n_bootstrap=100)
    md = (tmp_path / "rep" / "report.md").read_text()
    row_600 = next(line for line in md.splitlines() if line.startswith("| Na3(BH4)(B12H12) (oNBH) | unscaled | 600 |")
                   and "0.74 [0.54, 0.88]" in line)
    cells = [c.strip() for c in row_600.strip("|").split("|")]
    rate = hop_rate(600.0)
    assert cells[3:9] == ["4", "120", f"{rate:.3g} ± {0.05 * rate:.2g}", "0.74 [0.54, 0.88]", "0.25 ± 0.17",
                          "0.08 [0.04, 0.20]"]
    # anion kinds sorted: B12H12 (lower bounds) then BH4; then the coupling factor of BH4
    assert cells[9:] == ["> 17.6", "> 6.2", "0.58 ± 0.21", "0.34 ± 0.05", "0.87 [0.38, 2.00]"]
    g = report["hop_rate_arrhenius"]["Na3(BH4)(B12H12) (oNBH), unscaled"]
    assert g["fit"]["ea_eV"] == pytest.approx(EA_HOP_EV, abs=1e-6)
    msd_ea = report["arrhenius"]["Na3(BH4)(B12H12) (oNBH), unscaled"]["fit"]["ea_eV"]
    hop_line = next(line for line in md.splitlines() if line.startswith("| Na3(BH4)(B12H12) (oNBH), unscaled | 3 of 3 |")
                    and "±" in line and "1/ps" not in line and f"{EA_HOP_EV:.3f} ± " in line)
    assert f"{msd_ea:.3f} ± " in hop_line  # the MSD Ea next to the hop-rate one
    assert set(report["figures"]) >= {"hop_rate_arrhenius", "reorientation_vs_mass", "coupling_profile",
                                      "site_occupancy"}
    for name in report["figures"].values():
        assert (tmp_path / "rep" / name).stat().st_size > 10_000
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert saved["runs"][0]["site_occupancy"]["occupancy"] == [0.9, 0.8, 0.2, 0.1]


def test_coupling_profile_figure_draws_the_ratios_and_their_intervals():
    fig = coupling_profile_figure({"oNBH, 600 K, BH4": {**PROFILE, "n_hops_total": 120}})
    ax = fig.axes[0]
    steps = [p for p in ax.patches]  # ax.stairs makes one StepPatch
    assert len(steps) == 1
    np.testing.assert_allclose(steps[0].get_data().values, [3.1, 2.9, np.nan, 1.0])
    np.testing.assert_allclose(steps[0].get_data().edges, [0.0, 0.1, 0.2, 0.3, 0.4])
    labels = ax.get_legend_handles_labels()[1]
    assert labels[0] == "oNBH, 600 K, BH4 (120 hops)"
    assert ax.get_xlabel().endswith("(ps)") and "hop rate" in ax.get_ylabel()


def test_site_occupancy_figure_sorts_sites_and_colours_families():
    fig = site_occupancy_figure({"run A": {"occupancy": [0.1, 0.9, 0.5], "std": [0.01, 0.02, 0.03],
                                           "family": [0, 1, 0]}})
    ax = fig.axes[0]
    heights = {round(b.get_x() + b.get_width() / 2): b.get_height() for b in ax.patches}
    assert heights == {0: 0.9, 1: 0.5, 2: 0.1}
    assert ax.get_legend_handles_labels()[1] == ["family 0", "family 1"]
    assert "3 sites, 1.5 Na on sites" in ax.get_title()


def test_mechanism_table_has_the_na_time_in_each_anion_slab():
    from pydriver.report.markdown import _mechanism_table
    from pydriver.report.mechanism import mechanism_columns

    sections = mechanism_sections(600.0)
    sections["sites"]["slabs"] = {"n_ions": 48, "fraction_time": {"B12H12": 0.45, "BH4": 0.55},
                                  "fraction_time_ci68": {"B12H12": [0.38, 0.52], "BH4": [0.48, 0.62]}}
    cols = mechanism_columns(sections, {})
    assert (cols["slab_n_ions"], cols["slab_time_BH4"], cols["slab_time_BH4_ci68"]) == (48, 0.55, [0.48, 0.62])
    without = mechanism_columns(mechanism_sections(500.0), {})
    assert not any(k.startswith("slab") for k in without)
    flat = mechanism_columns({"sites": {"n_sites": 4, "slabs": {"reason": "no slabs"}}}, {})
    assert flat["slabs_reason"] == "no slabs" and "slab_time_BH4" not in flat
    rows = [{**hop_row(t, 1.0, 0.1), **c} for t, c in ((600.0, cols), (500.0, without))]
    head, _, with_slabs, no_slabs = _mechanism_table(rows)
    assert head.endswith("| Na time in B12H12 slabs (68 % CI) | Na time in BH4 slabs (68 % CI) |")
    assert with_slabs.endswith("| 0.45 [0.38, 0.52] | 0.55 [0.48, 0.62] |") and no_slabs.endswith("| - | - |")


def test_slab_profile_figure_shades_the_slabs_and_draws_run_and_first_frame():
    layers = [{"kind": k, "frac": f} for k, f in (("BH4", 0.05), ("B12H12", 0.3), ("B12H12", 0.45), ("BH4", 0.95))]
    spans = _slab_spans(layers, [0.2, 0.6])
    assert sorted(spans) == [(0.0, 0.2, "BH4"), (0.2, 0.6, "B12H12"), (0.6, 1.0, "BH4")]
    run = np.zeros(10)
    run[[0, 4]] = 0.5
    first = np.zeros(10)
    first[0] = 1.0
    fig = slab_profile_figure({"oNBH, 600 K": {"n_bins": 10, "ion_frames": run.tolist(), "first_frame": first.tolist(),
                                               "layers": layers, "boundaries_frac": [0.2, 0.6], "stacking_axis": "b",
                                               "fraction_time": {"B12H12": 0.5, "BH4": 0.5}}})
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["BH4 slabs", "B12H12 slabs", "first analysed frame", "whole run"]
    whole = next(line for line in ax.get_lines() if line.get_label() == "whole run")
    assert max(whole.get_ydata()) == pytest.approx(5.0)  # 0.5 of the ion-frames in a bin of width 0.1
    assert "B12H12 0.50, BH4 0.50" in ax.get_title() and ax.get_xlabel().endswith("along b")
