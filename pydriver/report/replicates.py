"""Replicates of one condition pooled: D, its within-run and between-replicate errors, active Na, Na time
per anion slab, MSD.

Runs of one structure (phase), mass factors and set point (within
:data:`pydriver.report.arrhenius.REPLICATE_TOLERANCE_K`) are replicates: other velocity seeds, or
other structure files of the phase (a sweep's ``replicate_files``, e.g. Na orderings). Per condition
with at least two resolved runs this gives

* the pooled D: inverse-variance mean of ``ln D`` with the runs' calibrated log errors
  (``diffusivity_sigma_ln``), its within-run error ``1 / sqrt(sum w)``;
* the between-replicate scatter: the standard deviation of ``ln D`` over the replicates, next to the
  within-run error it should match; a chi^2 test of the scatter against the errors (p < 0.05: the
  replicates disagree, e.g. orderings with different mobility) and the pooled error widened by the
  Birge ratio ``sqrt(chi^2 / dof)`` when above 1 (the rule of :func:`pool_replicates`, which the
  Arrhenius fit uses);
* the pooled active-Na fraction: active ions over all ions of the replicates with its 68 % Jeffreys
  interval (:func:`pydriver.analysis.active.jeffreys_interval`);
* the pooled Na time in each kind's anion slabs (runs with ``sites.slabs``, o-NBH): ion-weighted,
  ``k = sum(fraction x n_ions)`` over ``n = sum(n_ions)`` with its 68 % Jeffreys interval, the
  count each run's own interval uses;
* the pooled MSD of the diffusing species: the ion-weighted mean of the replicates' MSD curves on
  their common lags (``msd.csv``), written as one CSV per condition.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
from scipy import stats

from pydriver.analysis.active import jeffreys_interval
from pydriver.report.arrhenius import pool_log_values, set_point_groups
from pydriver.report.mechanism import slab_kinds
from pydriver.rundir import MSD_TABLE_FILE


def _conditions(rows: list[dict]) -> list[list[dict]]:
    """Rows grouped by (structure, mass factors) and set point within the replicate tolerance."""
    by_group: dict = {}
    for row in rows:
        by_group.setdefault((row["structure"], row["mass_factors"]), []).append(row)
    return [condition for members in by_group.values() for condition in set_point_groups(members, "temperature_K")]


def _usable(row: dict) -> bool:
    d, s = row.get("diffusivity_cm2_s"), row.get("diffusivity_sigma_ln")
    return (row.get("diffusive") is not False and row.get("framework_solid") is not False and d is not None
            and s is not None and np.isfinite(d) and d > 0 and np.isfinite(s) and s > 0)


def pooled_condition(members: list[dict]) -> dict:
    """Pooled numbers of one condition's replicate rows (see the module docstring).

    Returns
    -------
    dict -- ``structure``, ``mass_factors``, ``temperature_K`` (mean set point), ``runs`` (run dirs),
    ``n_runs``, ``n_resolved``; with two or more resolved runs ``diffusivity_cm2_s`` (pooled),
    ``sigma_ln_within`` (pooled within-run log error), ``sigma_ln_between`` (standard deviation of
    ``ln D`` over the replicates), ``sigma_ln`` (pooled error, Birge-widened), ``diffusivity_ci95_cm2_s``,
    ``chi2``, ``chi2_dof``, ``chi2_p``; ``active_fraction`` with ``active_fraction_ci68`` over every
    run that reports its ion counts; and over the runs with anion slabs ``slab_time_<kind>`` with
    ``_ci68`` per anion kind, ``slab_n_ions`` and ``slab_n_runs`` (:func:`pooled_slab_time`).
    """
    out = {"structure": members[0]["structure"], "mass_factors": members[0]["mass_factors"],
           "temperature_K": float(np.mean([m["temperature_K"] for m in members])),
           "runs": [m["run_dir"] for m in members], "n_runs": len(members)}
    used = [m for m in members if _usable(m)]
    out["n_resolved"] = len(used)
    if len(used) >= 2:
        d = [m["diffusivity_cm2_s"] for m in used]
        pool = pool_log_values(d, [m["diffusivity_sigma_ln"] for m in used])
        mean, sigma, dof = pool["mean_ln"], pool["sigma_ln"], pool["dof"]
        # widened by the replicates' own scatter: its dof-limited Student t; else the runs' errors, normal
        t95 = float(stats.t.ppf(0.975, dof)) if pool["chi2"] / dof > 1.0 else float(stats.norm.ppf(0.975))
        out.update({"diffusivity_cm2_s": float(np.exp(mean)), "sigma_ln_within": pool["sigma_ln_within"],
                    "sigma_ln_between": float(np.std(np.log(d), ddof=1)), "sigma_ln": sigma,
                    "diffusivity_ci95_cm2_s": [float(np.exp(mean - t95 * sigma)), float(np.exp(mean + t95 * sigma))],
                    "chi2": pool["chi2"], "chi2_dof": dof, "chi2_p": pool["chi2_p"]})
    counted = [m for m in members if m.get("active_n_ions")]
    if counted:
        k = sum(int(m["active_n_active"]) for m in counted)
        n = sum(int(m["active_n_ions"]) for m in counted)
        out.update({"active_fraction": k / n, "active_fraction_ci68": list(jeffreys_interval(k, n)),
                    "active_n_active": k, "active_n_ions": n})
    out.update(pooled_slab_time(members))
    return out


def pooled_slab_time(members: list[dict]) -> dict:
    """Na time per anion-slab kind of runs pooled by ion: ``slab_time_<kind>`` = sum(fraction x n_ions) /
    sum(n_ions) with its 68 % Jeffreys interval (``_ci68``), ``slab_n_ions``, ``slab_n_runs``; ``{}`` when no
    run has slab numbers. A run without a kind's column (no such slab) counts 0 time there."""
    counted = [m for m in members if m.get("slab_n_ions")]
    kinds = slab_kinds(counted)
    if not counted or not kinds:
        return {}
    n = sum(int(m["slab_n_ions"]) for m in counted)
    out: dict = {"slab_n_ions": n, "slab_n_runs": len(counted)}
    for kind in kinds:
        k = min(float(n), sum(float(m.get(f"slab_time_{kind}") or 0.0) * int(m["slab_n_ions"]) for m in counted))
        out[f"slab_time_{kind}"] = k / n
        out[f"slab_time_{kind}_ci68"] = list(jeffreys_interval(k, n))
    return out


def replicate_conditions(rows: list[dict]) -> list[dict]:
    """:func:`pooled_condition` of every condition that has more than one run (run order kept)."""
    return [pooled_condition(members) for members in _conditions(rows) if len(members) > 1]


def _read_msd(run_dir: Path, column: str) -> tuple[np.ndarray, np.ndarray] | None:
    path = run_dir / MSD_TABLE_FILE
    if not path.is_file():
        return None
    with open(path, newline="") as fh:
        table = list(csv.DictReader(fh))
    if not table or column not in table[0]:
        return None
    return (np.array([float(r["lag_time_ps"]) for r in table]), np.array([float(r[column]) for r in table]))


def write_pooled_msd(condition: dict, rows_by_dir: dict, base: Path, out_dir: Path, species: str = "Na") -> str | None:
    """Write the ion-weighted mean MSD of a condition's replicates on their common lags; returns the file name.

    ``rows_by_dir``: report rows by ``run_dir`` (as in ``condition["runs"]``, relative to ``base``).
    Curves are cut to the shortest replicate; replicates whose lags differ (another dump interval)
    are left out. ``None`` when fewer than two curves remain.
    """
    curves = []
    for run in condition["runs"]:
        msd = _read_msd(base / run, f"msd_A2_{species}")
        if msd is not None:
            curves.append((msd, int(rows_by_dir[run].get("active_n_ions") or 1)))
    if len(curves) < 2:
        return None
    n_lags = min(len(c[0][0]) for c in curves)
    lag = curves[0][0][0][:n_lags]
    same = [(m[1][:n_lags], n) for m, n in curves if np.allclose(m[0][:n_lags], lag, rtol=1e-6, atol=1e-9)]
    if len(same) < 2:
        return None
    weights = np.array([n for _, n in same], dtype=float)
    pooled = (np.array([m for m, _ in same]) * weights[:, None]).sum(axis=0) / weights.sum()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"msd_pooled_{condition['structure']}_{condition['mass_factors']}_"
                                            f"T{condition['temperature_K']:g}") + ".csv"
    with open(out_dir / name, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["lag_time_ps", f"msd_A2_{species}", "n_runs", "n_ions"])
        for t, m in zip(lag, pooled):
            writer.writerow([f"{t:.6g}", f"{m:.8g}", len(same), int(weights.sum())])
    return name
