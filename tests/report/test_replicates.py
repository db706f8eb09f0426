"""Replicates of one condition: pooled D, within-run vs between-replicate errors, chi^2, active Na, MSD."""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.report.markdown import report_markdown
from pydriver.report.replicates import pooled_condition, replicate_conditions, write_pooled_msd


def row(t, d, sigma_ln, run, structure="oNBH", n_active=3, n_ions=12, **extra):
    return {"run_dir": run, "structure": structure, "mass_factors": "unscaled", "temperature_K": t,
            "diffusivity_cm2_s": d, "diffusivity_sigma_ln": sigma_ln, "diffusive": True, "framework_solid": True,
            "active_n_active": n_active, "active_n_ions": n_ions, **extra}


def test_consistent_replicates_pool_to_the_inverse_variance_mean():
    rows = [row(523, 1e-6, 0.2, "a"), row(524, 1.2e-6, 0.2, "b"), row(525, 0.9e-6, 0.4, "c"),
            row(700, 5e-6, 0.2, "d")]  # 700 K has one run: no replicates
    (c,) = replicate_conditions(rows)
    w = np.array([25.0, 25.0, 6.25])
    y = np.log([1e-6, 1.2e-6, 0.9e-6])
    assert c["runs"] == ["a", "b", "c"] and c["n_resolved"] == 3
    assert c["diffusivity_cm2_s"] == pytest.approx(np.exp((w * y).sum() / w.sum()))
    assert c["sigma_ln_within"] == pytest.approx(1 / np.sqrt(w.sum()))
    assert c["sigma_ln_between"] == pytest.approx(np.std(y, ddof=1))
    assert c["chi2_dof"] == 2 and c["chi2_p"] > 0.5 and c["sigma_ln"] == c["sigma_ln_within"]  # not widened
    assert c["active_fraction"] == pytest.approx(9 / 36) and c["active_fraction_ci68"][0] < 0.25 < c[
        "active_fraction_ci68"][1]


def test_replicates_that_disagree_widen_the_pooled_error_by_the_birge_ratio():
    c = pooled_condition([row(600, 1e-6, 0.05, "a"), row(600, 3e-6, 0.05, "b"), row(600, 1e-6, 0.05, "c")])
    assert c["chi2_p"] < 0.05
    assert c["sigma_ln"] == pytest.approx(c["sigma_ln_within"] * np.sqrt(c["chi2"] / 2))
    lo, hi = c["diffusivity_ci95_cm2_s"]
    assert lo < 1e-6 and hi > 1.9e-6  # the widened interval spans the replicates


def test_unresolved_or_melted_runs_do_not_enter_the_pooled_d():
    rows = [row(600, 1e-6, 0.2, "a"), row(600, 1e-6, 0.2, "b", diffusive=False),
            row(600, 1e-6, 0.2, "c", framework_solid=False)]
    c = pooled_condition(rows)
    assert c["n_runs"] == 3 and c["n_resolved"] == 1 and "diffusivity_cm2_s" not in c
    text = report_markdown([], {}, {}, "D", [c])
    assert "n/a (< 2 resolved runs)" in text and "| oNBH | unscaled | 600 | 3 (1) |" in text


def test_pooled_msd_is_the_ion_weighted_mean_on_common_lags(tmp_path):
    for name, slope, n_lags in (("a", 1.0, 5), ("b", 2.0, 4)):
        (tmp_path / name).mkdir()
        lines = ["lag_time_ps,msd_A2_Na"] + [f"{0.1 * i:g},{slope * i:g}" for i in range(n_lags)]
        (tmp_path / name / "msd.csv").write_text("\n".join(lines) + "\n")
    rows = [row(600, 1e-6, 0.2, "a", n_ions=12), row(600, 1e-6, 0.2, "b", n_ions=4)]
    (c,) = replicate_conditions(rows)
    name = write_pooled_msd(c, {r["run_dir"]: r for r in rows}, tmp_path, tmp_path)
    table = np.loadtxt(tmp_path / name, delimiter=",", skiprows=1)
    assert table.shape == (4, 4)  # cut to the shorter run
    assert table[:, 1] == pytest.approx((12 * 1.0 + 4 * 2.0) / 16 * np.arange(4))
    assert set(table[:, 2]) == {2} and set(table[:, 3]) == {16}


def test_na_time_per_anion_slab_pools_by_ion_with_a_jeffreys_interval():
    from pydriver.analysis.active import jeffreys_interval

    slab = lambda b12, n: {"slab_n_ions": n, "slab_time_B12H12": b12, "slab_time_BH4": 1.0 - b12,  # noqa: E731
                           "slab_time_B12H12_ci68": [0.0, 1.0], "slab_time_BH4_ci68": [0.0, 1.0]}
    rows = [row(600, 1e-6, 0.2, "a", **slab(0.40, 48)), row(600, 1e-6, 0.2, "b", **slab(0.52, 12)),
            row(600, 1e-6, 0.2, "c")]  # c: analysed without slabs, left out of the slab pool
    c = pooled_condition(rows)
    k = 0.40 * 48 + 0.52 * 12
    assert (c["slab_n_ions"], c["slab_n_runs"]) == (60, 2)
    assert c["slab_time_B12H12"] == pytest.approx(k / 60) and c["slab_time_BH4"] == pytest.approx(1 - k / 60)
    assert c["slab_time_B12H12_ci68"] == pytest.approx(list(jeffreys_interval(k, 60)))
    text = report_markdown([], {}, {}, "D", [c])
    assert "| pooled Na time in B12H12 slabs (68 % CI) | pooled Na time in BH4 slabs (68 % CI) | pooled MSD |" in text
    lo, hi = c["slab_time_BH4_ci68"]
    assert f"| {1 - k / 60:.2f} [{lo:.2f}, {hi:.2f}] | - |" in text
    assert "slab_n_ions" not in pooled_condition(rows[2:] * 2)  # no run with slabs: no slab numbers
    assert "pooled Na time in" not in report_markdown([], {}, {}, "D", [pooled_condition(rows[2:] * 2)])
