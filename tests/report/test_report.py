"""Report: Arrhenius point selection and fit, names, and the data and labels given to matplotlib."""

import json
import logging

import numpy as np
import pytest

from pydriver.units import BOLTZMANN_EV_K
from pydriver.analysis.labels import mass_factor_label, reduced_formula, run_title, structure_name
from pydriver.report.arrhenius import arrhenius_groups
from pydriver.report.plots import arrhenius_figure, mass_factor_figure

EA_EV, A_MS_CM_K = 0.30, 2e7
TEMPS = (400.0, 500.0, 600.0, 700.0, 800.0)


def sigma(t):
    return A_MS_CM_K / t * np.exp(-EA_EV / (BOLTZMANN_EV_K * t))


def row(t, value, error, diffusive=True, structure="NaBH4", masses="unscaled"):
    return {"run_dir": f"runs/{structure}_T{t:g}", "structure": structure, "mass_factors": masses,
            "temperature_K": t, "fit_temperature_K": t, "temperature_source": "measured",
            "conductivity_mS_cm": value, "conductivity_std_mS_cm": error, "diffusive": diffusive,
            "not_diffusive_reason": None if diffusive else "log-log MSD slope 0.31 outside 0.8-1.2 (caged)",
            "undefined": {} if error is None or np.isfinite(error) else {"conductivity_std_mS_cm": "slope <= 0"}}


def noisy_rows(seed=0, rel=0.08):
    rng = np.random.default_rng(seed)
    return [row(t, sigma(t) * (1 + rel * rng.normal()), rel * sigma(t)) for t in TEMPS]


def test_one_zero_point_among_five_still_fits_the_other_four(caplog):
    rows = noisy_rows()
    rows[1]["conductivity_mS_cm"] = 0.0
    with caplog.at_level(logging.WARNING):
        g = arrhenius_groups(rows, "sigma_T", n_bootstrap=300)["NaBH4, unscaled"]
    assert abs(g["fit"]["ea_eV"] - EA_EV) < 0.03
    assert [p["included"] for p in g["points"]] == [True, False, True, True, True]
    assert "NaBH4_T500 (500 K) excluded: conductivity_mS_cm = 0 <= 0" in caplog.text
    assert g["at_300K"]["extrapolated"] is True
    assert g["at_300K"]["ci95_low"] < sigma(300.0) < g["at_300K"]["ci95_high"]


def test_flagged_and_undefined_points_excluded_one_by_one(caplog):
    rows = noisy_rows(seed=1)
    rows[0] = row(400.0, 10 * sigma(400.0), 0.1 * sigma(400.0), diffusive=False)  # caged: upper bound
    rows[4]["conductivity_std_mS_cm"] = float("nan")
    rows[4]["undefined"] = {"conductivity_std_mS_cm": "MSD slope <= 0"}
    with caplog.at_level(logging.WARNING):
        g = arrhenius_groups(rows, "sigma_T", n_bootstrap=200)["NaBH4, unscaled"]
    reasons = [p["excluded_reason"] for p in g["points"]]
    assert reasons[0].startswith("not diffusive: log-log MSD slope 0.31") and reasons[4].startswith("uncertainty")
    assert abs(g["fit"]["ea_eV"] - EA_EV) < 0.05 and len(g["warnings"]) == 2
    assert "NaBH4_T400 (400 K) excluded: not diffusive" in caplog.text


def test_too_few_points_gives_a_reason_not_a_silent_none():
    g = arrhenius_groups(noisy_rows()[:2], "sigma_T", n_bootstrap=50)["NaBH4, unscaled"]
    assert g["fit"] is None and g["fit_reason"] == "2 usable temperature(s) of 2 runs; need >= 3 distinct set points"


def test_groups_too_short_to_fit_log_one_summary_not_a_warning_per_run(caplog):
    """A sweep of 2 temperatures cannot be fitted: its excluded runs are recorded, and logged as one line."""
    from pydriver.report.arrhenius import unfitted_summary

    rows = [row(t, sigma(t), 0.1 * sigma(t), diffusive=False) for t in (500.0, 600.0)]
    rows += [row(t, sigma(t), 0.1 * sigma(t), masses="BH4 x5") for t in (500.0, 600.0)]
    with caplog.at_level(logging.WARNING, logger="pydriver.report.arrhenius"):
        groups = arrhenius_groups(rows, "sigma_T", n_bootstrap=50)
    assert "excluded" not in caplog.text
    assert len(groups["NaBH4, unscaled"]["warnings"]) == 2 and groups["NaBH4, unscaled"]["n_set_points"] == 2
    level, message = unfitted_summary(groups, "sigma*T")
    assert level == logging.WARNING
    assert message == ("Arrhenius fit of sigma*T: not possible for 2 group(s), too few set temperatures (a fit needs "
                       ">= 3; NaBH4, BH4 x5: 2; NaBH4, unscaled: 2); runs that are no points: not diffusive (2 of 4 "
                       "runs); per run in the report's warnings")
    assert unfitted_summary({"NaBH4, BH4 x5": groups["NaBH4, BH4 x5"]}, "D")[0] == logging.INFO  # none excluded
    assert unfitted_summary(arrhenius_groups(noisy_rows(), "sigma_T", n_bootstrap=50), "sigma*T") is None


def test_weighting_follows_the_uncertainties():
    rows = [row(t, sigma(t), 0.01 * sigma(t)) for t in TEMPS]
    rows[2]["conductivity_mS_cm"] *= 3.0  # one outlier ...
    rows[2]["conductivity_std_mS_cm"] *= 1e3  # ... with a huge error bar barely counts
    g = arrhenius_groups(rows, "sigma_T", n_bootstrap=50)["NaBH4, unscaled"]
    assert g["fit"]["ea_eV"] == pytest.approx(EA_EV, abs=0.002)


def test_arrhenius_figure_labels_and_hollow_excluded_points():
    rows = noisy_rows(seed=3)
    rows[0] = row(400.0, sigma(400.0), 0.1 * sigma(400.0), diffusive=False)
    groups = arrhenius_groups(rows, "sigma_T", n_bootstrap=100)
    fig = arrhenius_figure(groups, "sigma_T")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    fit = groups["NaBH4, unscaled"]["fit"]
    assert f"NaBH4, unscaled: $E_a$ = {fit['ea_eV']:.3f} $\\pm$ {fit['ea_std_eV']:.3f} eV" in labels
    assert any(lab.startswith("σ(300 K, extrapolated): ") and "95% CI" in lab for lab in labels)
    assert "NaBH4, unscaled: excluded from fit" in labels
    hollow = [c for c in ax.containers if c.lines[0].get_markerfacecolor() == "none"]
    assert [list(np.round(1000.0 / h.lines[0].get_xdata(), 6)) for h in hollow] == [[400.0]]
    top = [a for a in fig.axes[0].child_axes if a.get_xlabel() == "T (K)"]
    assert len(top) == 1
    assert ax.get_ylabel() == r"$\sigma T$ (mS K/cm)" and ax.get_yscale() == "log"  # the fitted quantity
    fitted = [line for line in ax.lines if line.get_linestyle() == "-"][0]
    slope = np.polyfit(fitted.get_xdata(), np.log(fitted.get_ydata()), 1)[0]
    assert slope == pytest.approx(-fit["ea_eV"] / (BOLTZMANN_EV_K * 1000.0))  # straight: ln(sigma T) vs 1/T
    assert ax.get_legend().get_texts()[0].get_fontsize() >= 9


def test_arrhenius_legend_names_every_series_group_by_group():
    """Each (structure, mass setting) series has a legend entry with its marker, also without a fit or fitted point."""
    rows = noisy_rows(seed=3) + [row(t, sigma(t), 0.1 * sigma(t), diffusive=False, masses="BH4 x5")
                                 for t in (500.0, 600.0)]
    ax = arrhenius_figure(arrhenius_groups(rows, "sigma_T", n_bootstrap=50), "sigma_T").axes[0]
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0].replace("\n", " ") == ("NaBH4, BH4 x5: no fit (0 usable temperature(s) of 2 runs; need >= 3 "
                                           "distinct set points)")
    assert texts[1] == "NaBH4, BH4 x5: excluded from fit"
    assert texts[2] == "NaBH4, unscaled" and texts[3].startswith("NaBH4, unscaled: $E_a$ = ")
    assert texts[4].startswith("σ(300 K, extrapolated)")
    assert legend.legend_handles[0].get_marker() == "o"  # the series without fitted points: its marker alone


def test_upper_bounds_are_drawn_as_bounds():
    rows = noisy_rows(seed=4)
    rows[0] = row(400.0, sigma(400.0), 0.1 * sigma(400.0), diffusive=False)
    rows[0]["conductivity_upper_bound_95_mS_cm"] = 2 * sigma(400.0)
    groups = arrhenius_groups(rows, "sigma_T", n_bootstrap=100)
    ax = arrhenius_figure(groups, "sigma_T").axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert "NaBH4, unscaled: upper bound (D not resolved, 95 %)" in labels
    bound = [c for c in ax.containers if c.lines[0].get_marker() == "_"]
    assert len(bound) == 1 and bound[0].lines[0].get_ydata()[0] == pytest.approx(2 * sigma(400.0) * 400.0)
    assert "NaBH4, unscaled: excluded from fit" not in labels  # the bound is not also drawn as a point


def test_mass_factor_figure_ticks_fraction_axis_and_distinct_styles():
    series = {"NaBH4, BH4 scaled, 500 K": ([1, 2, 5], [0.2, 0.3, 0.5], None),
              "NaBH4, BH4 scaled, 600 K": ([1, 2, 5], [0.2, 0.3, 0.5], None)}
    fig = mass_factor_figure(series, "active Na fraction", fraction=True)
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [1.0, 2.0, 5.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "5"]
    assert ax.get_ylim() == (0.0, 1.0)
    lines = [c.lines[0] for c in ax.containers]
    assert len({(ln.get_marker(), ln.get_linestyle()) for ln in lines}) == 2
    assert not np.allclose(lines[0].get_xdata(), lines[1].get_xdata())  # overlapping series dodged


@pytest.mark.parametrize("formula, counts, expected", [
    ("Na12B12H48", {"BH4": 12}, "NaBH4"), ("Na6B26H32", {"BH4": 2, "B12H12": 2}, "Na3(BH4)(B12H12)"),
    ("Na8B48H48", {"B12H12": 4}, "Na2B12H12")])
def test_reduced_formula(formula, counts, expected):
    assert reduced_formula(formula, counts) == expected


def test_names_from_the_run_manifest():
    onbh = {"formula": "Na12B52H64", "anion_counts": {"BH4": 4, "B12H12": 4},
            "structure_source": "/x/examples/structures/oNBH.extxyz", "temperature_K": 500.0,
            "mass_factors": {"BH4": 5.0, "B12H12": 1.0}, "measured_temperature_K": 487.2}
    assert structure_name(onbh) == "Na3(BH4)(B12H12) (oNBH)"
    assert run_title(onbh) == "Na3(BH4)(B12H12) (oNBH), 500 K (measured 487 K), BH4 x5"
    nabh4 = {"formula": "Na4B4H16", "anion_counts": {"BH4": 4}, "structure_source": "NaBH4.extxyz"}
    assert structure_name(nabh4) == "NaBH4"
    assert mass_factor_label({"B12H12": 5.0, "BH4": 1.0}, nabh4["anion_counts"]) == ""
    assert mass_factor_label({"B12H12": 2.0, "BH4": 5.0}) == "B12H12 x2, BH4 x5"


def write_analysis(folder, t, masses, value, diffusive=True):
    from pydriver.rundir import AnalysisSummary

    folder.mkdir(parents=True)
    run = {"formula": "Na12B52H64", "anion_counts": {"BH4": 4, "B12H12": 4}, "temperature_K": t,
           "structure_source": "examples/structures/oNBH.extxyz", "mass_factors": masses,
           "measured_temperature_K": t - 3.0, "measured_temperature_std_K": 9.0}
    tr = {"temperature_K": t - 3.0, "temperature_source": "measured", "diffusivity_cm2_s": value / 1e7,
          "diffusivity_std_cm2_s": 0.1 * value / 1e7, "conductivity_mS_cm": value,
          "conductivity_std_mS_cm": 0.1 * value, "charge_diffusivity_cm2_s": value / 2e7,
          "charge_diffusivity_std_cm2_s": None, "haven_ratio": None, "haven_ratio_std": None,
          "undefined": {"haven_ratio": "charge diffusivity -1e-07 cm^2/s <= 0 in the fit window"}}
    diag = {"diffusive": diffusive, "reason": None if diffusive else "log-log MSD slope 0.40 outside 0.8-1.2",
            "loglog_slope": 1.0 if diffusive else 0.4, "msd_end_of_window_A2": 30.0}
    warnings = ["measured mean temperature 409.0 K differs from the set point 500 K by 18.2% (> 3%); the measured "
                "one is used"] if t == 500.0 else []
    summary = AnalysisSummary("test", run, {}, tr, diagnostics=diag, active={"active_fraction": 0.5},
                              warnings=warnings,
                              rotation={"BH4": {"rotation_rate_rad_ps": 1.5, "rotation_rate_std_rad_ps": 0.05},
                                        "B12H12": {"rotation_rate_rad_ps": 0.4, "rotation_rate_std_rad_ps": 0.02}})
    (folder / "analysis.json").write_text(json.dumps(summary.to_dict()))


def test_report_markdown_and_html_name_runs_as_people_do(tmp_path):
    from pydriver.report import build_report

    for t in (450.0, 500.0, 600.0, 700.0):
        write_analysis(tmp_path / "runs" / f"T{t:g}", t, {"BH4": 1.0, "B12H12": 1.0}, sigma(t), diffusive=t > 450)
    write_analysis(tmp_path / "runs" / "T600_m5", 600.0, {"BH4": 5.0, "B12H12": 1.0}, 0.8 * sigma(600.0))
    report = build_report([tmp_path / "runs"], tmp_path / "rep", n_bootstrap=100)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| Na3(BH4)(B12H12) (oNBH) | BH4 x5 | 600 | 597 ± 9 |" in md
    assert "{" not in md and "Na12B52H64" not in md
    assert "| Na3(BH4)(B12H12) (oNBH) | unscaled | 450 | 447 ± 9 | ≤ " in md and "**no**: log-log MSD slope" in md
    row_450 = next(line for line in md.splitlines() if "| unscaled | 450 |" in line).split(" | ")
    # not diffusive: D, sigma and charge D are upper bounds, the Haven ratio (a ratio of two bounds) is not shown
    assert [c.startswith("≤ ") for c in row_450[4:7]] == [True, True, True] and row_450[7] == "n/a (not diffusive)"
    assert "undefined" in md and "charge diffusivity -1e-07" in md  # Haven ratio: undefined, with reason
    assert "| BH4 | 1.5 ± 0.05 |" in md and "| B12H12 | 0.4 ± 0.02 |" in md
    assert "(extrapolated)" in md and "excluded: not diffusive" in md
    assert "- Na3(BH4)(B12H12) (oNBH), unscaled, 500 K: measured mean temperature 409.0 K differs" in md
    settings = md.split("## What each run used", 1)[1].split("\n## ", 1)[0]  # runs by name, not by path
    assert "| T600_m5 | oNBH.extxyz |" in settings and "../" not in settings and "runs/" not in settings
    html = (tmp_path / "rep" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(report["figures"]) == 3
    assert 'src="arrhenius.png"' not in html and "<table>" in html
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())  # strict JSON (no NaN)
    # run folders relative to the report: no path of this machine in a report that is committed or moved
    assert str(tmp_path) not in (tmp_path / "rep" / "report.json").read_text() + (tmp_path / "rep" / "report.csv").read_text()
    assert {(tmp_path / "rep" / r["run_dir"]).resolve() for r in saved["runs"]} == {
        (tmp_path / "runs" / n).resolve() for n in ("T450", "T500", "T600", "T700", "T600_m5")}


def test_runs_without_diagnostics_are_included_with_a_warning():
    rows = noisy_rows(seed=4)
    rows[2]["diffusive"] = None  # analysis.json written before the diagnostics existed
    g = arrhenius_groups(rows, "sigma_T", n_bootstrap=50)["NaBH4, unscaled"]
    assert all(p["included"] for p in g["points"])
    assert g["warnings"] == ["Arrhenius fit NaBH4, unscaled: run NaBH4_T600 (600 K) has no diffusive-regime "
                             "diagnostics (analysed by an older pydriver); included unchecked, re-run analyze"]


def test_a_fit_at_or_below_zero_of_a_run_that_is_not_diffusive_reads_as_zero_not_a_negative_bound():
    from pydriver.report.markdown import bounded

    assert bounded(-5.72e-08, 2.3e-06, "≤ ") == "≈ 0 (fit -5.7e-08 ± 2.3e-06)"  # Na2B12H12 at 298 K in the study
    assert bounded(6.14e-05, 2.0e-05, "≤ ") == "≤ 6.14e-05 ± 2e-05"
    assert bounded(-1e-07, 1e-08, "") == "-1e-07 ± 1e-08"  # diffusive runs are shown as fitted


def test_mass_series_only_where_a_temperature_has_scaled_runs():
    """The study's rotation plot had 21 legend entries: one per run, also for temperatures without any scaled run."""
    from pydriver.report.build import _mass_series

    def row(t, scaled, factor, value, structure="o-NBH"):
        return {"structure": structure, "temperature_K": t, "scaled_anions": scaled, "mass_factor": factor, "v": value}

    rows = [row(523, "none", 1, 5.5), row(700, "none", 1, 6.4), row(950, "none", 1, 7.5), row(950, "B12H12", 5, 4.6),
            row(950, "BH4", 5, 7.2), row(950, "B12H12+BH4", 5, 4.6), row(298, "none", 1, 3.9, "Na2B12H12")]
    series = _mass_series(rows, "v", None)
    assert series == {"o-NBH, B12H12 scaled, 950 K": ([1, 5], [7.5, 4.6], [None, None]),
                      "o-NBH, B12H12 + BH4 scaled, 950 K": ([1, 5], [7.5, 4.6], [None, None]),
                      "o-NBH, BH4 scaled, 950 K": ([1, 5], [7.5, 7.2], [None, None])}


def test_temperature_axis_labels_do_not_crowd():
    from pydriver.report.plots import MIN_TICK_SPACING, temperature_ticks_K

    ticks = temperature_ticks_K((0.95, 3.5))  # the CPU study: 950 K to 298 K
    assert 300.0 in ticks and 1000.0 in ticks
    x = sorted(1000.0 / np.array(ticks))
    assert min(np.diff(x)) >= MIN_TICK_SPACING
    assert temperature_ticks_K((1.9, 2.1)) == [500.0]


def test_a_huge_300K_interval_runs_off_the_axes_and_the_points_stay_readable():
    rows = [row(t, sigma(t) * f, 0.02 * sigma(t)) for t, f in zip((600.0, 750.0, 900.0), (1.0, 0.6, 1.4))]
    g = arrhenius_groups(rows, "sigma_T", n_bootstrap=200)["NaBH4, unscaled"]
    ax = arrhenius_figure({"NaBH4, unscaled": g}, "sigma_T").axes[0]
    low, high = ax.get_ylim()
    values = [sigma(t) * t for t in (600.0, 750.0, 900.0)]
    assert g["at_300K"]["ci95_high"] * 300.0 > high and low > g["at_300K"]["ci95_low"] * 300.0
    assert low < min(values) / 2 and high > max(values) * 2  # the points and the fit are inside


def test_replicate_orderings_share_the_sweep_structure_name():
    """Two relaxed orderings of one phase (different files) are one structure for the report."""
    runs = [{"formula": "Na48B208H256", "anion_counts": {"BH4": 16, "B12H12": 16}, "structure_name": "oNBH",
             "structure_source": f"inputs/oNBH/oNBH_bh4_slabs_r{k}.extxyz"} for k in (2, 3)]
    assert {structure_name(r) for r in runs} == {"Na3(BH4)(B12H12) (oNBH)"}
    assert structure_name({"formula": "Na4B4H16", "anion_counts": {"BH4": 4}, "structure_name": "NaBH4"}) == "NaBH4"
