"""Arrhenius fits across runs: which points count, replicates pooled, the weighted fit, sigma (or D) at 300 K.

Per group (structure and mass factors), each run is one point at the temperature its transport
used (the measured production mean when log.lammps had it, else the set point). A point is
excluded, one by one and each with a warning naming the run, when its framework did not stay solid
(``diagnostics.framework_solid`` false), its D is not resolved from zero (it then enters the report
as an upper bound, not the fit), the value is not positive or not finite, or its uncertainty is
undefined. Runs whose set points lie within :data:`REPLICATE_TOLERANCE_K` of each other are
replicates of one temperature: their ``ln`` values are pooled (inverse-variance mean; a chi^2 test
of their scatter against their errors widens the pooled error by the Birge ratio when they
disagree). A group with at least :data:`MIN_ARRHENIUS_POINTS` distinct temperatures left gets a
weighted fit (:func:`pydriver.analysis.diffusion.fit_arrhenius`, log-scale errors); the value at
:data:`EXTRAPOLATION_TEMPERATURE_K` is marked ``extrapolated`` when it lies outside the fitted
range. Interval coverage is measured in ``benchmarks/bench_uncertainty.py`` (docs/analysis.md).
"""

from __future__ import annotations

import logging

from pathlib import Path

import numpy as np
from scipy import stats

from pydriver.analysis.diffusion import extrapolate_arrhenius, fit_arrhenius

log = logging.getLogger(__name__)

MIN_ARRHENIUS_POINTS = 3
EXTRAPOLATION_TEMPERATURE_K = 300.0
REPLICATE_TOLERANCE_K = 5.0  # set points closer than this are one temperature
QUANTITY = {"sigma_T": ("conductivity_mS_cm", "conductivity_std_mS_cm", "mS/cm", "conductivity_upper_bound_95_mS_cm"),
            "D": ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "cm^2/s", "diffusivity_upper_bound_95_cm2_s")}


def _point(row: dict, mode: str) -> dict:
    key, err_key, _, bound_key = QUANTITY[mode]
    value, error = row.get(key), row.get(err_key)
    name = f"{Path(row['run_dir']).name} ({row['temperature_K']:g} K)"
    reason = None
    upper_bound = None
    sigma_ln = row.get("diffusivity_sigma_ln")  # the same relative error for D and Nernst-Einstein sigma
    if row.get("framework_solid") is False:
        reason = f"framework not solid: {row.get('framework_reason')}"
    elif row.get("diffusive") is False:
        reason = f"not diffusive: {row.get('not_diffusive_reason')}"
        upper_bound = row.get(bound_key)
    elif value is None or not np.isfinite(value):
        reason = f"{key} is undefined"
    elif value <= 0:
        reason = f"{key} = {value:.3g} <= 0"
    elif error is None or not np.isfinite(error) or error <= 0:
        reason = f"uncertainty of {key} undefined ({row.get('undefined', {}).get(err_key, 'missing')})"
    if sigma_ln is None or not np.isfinite(sigma_ln) or sigma_ln <= 0:
        sigma_ln = (error / value) if (reason is None and value and error) else None
    return {"run_dir": row["run_dir"], "name": name, "temperature_K": float(row["fit_temperature_K"]),
            "set_temperature_K": float(row["temperature_K"]), "temperature_source": row.get("temperature_source"),
            "value": value, "error": error, "sigma_ln": sigma_ln, "included": reason is None,
            "excluded_reason": reason, "upper_bound": upper_bound, "unchecked": row.get("diffusive") is None}


def set_point_groups(items: list[dict], key: str, tolerance_K: float = REPLICATE_TOLERANCE_K) -> list[list[dict]]:
    """``items`` sorted by their set point ``item[key]`` (K) and cut into replicate groups: an item joins
    the current group when its set point lies within ``tolerance_K`` of the group's first one."""
    groups: list[list[dict]] = []
    for item in sorted(items, key=lambda i: i[key]):
        if groups and item[key] - groups[-1][0][key] <= tolerance_K:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def pool_log_values(values, sigma_ln) -> dict:
    """Inverse-variance mean of ``ln value`` with a chi^2 check of the scatter against the errors.

    Parameters
    ----------
    values : (n,) positive values (e.g. D of replicate runs); sigma_ln : (n,) their log errors.

    Returns
    -------
    dict -- ``mean_ln``, ``sigma_ln_within`` (``1 / sqrt(sum w)``, ``w = sigma_ln^-2``),
    ``sigma_ln`` (times the Birge ratio ``sqrt(chi^2 / dof)`` when above 1), ``chi2``, ``dof``
    (``n - 1``), ``chi2_p`` (``None`` for one value).
    """
    y = np.log(np.asarray(values, dtype=float))
    w = 1.0 / np.square(np.asarray(sigma_ln, dtype=float))
    mean = float((w * y).sum() / w.sum())
    within = float(1.0 / np.sqrt(w.sum()))
    chi2 = float((w * (y - mean) ** 2).sum())
    dof = y.size - 1
    birge = float(np.sqrt(chi2 / dof)) if dof > 0 else 1.0
    return {"mean_ln": mean, "sigma_ln_within": within, "sigma_ln": within * max(1.0, birge), "chi2": chi2,
            "dof": dof, "chi2_p": float(stats.chi2.sf(chi2, dof)) if dof > 0 else None}


def pool_replicates(points: list[dict], tolerance_K: float = REPLICATE_TOLERANCE_K) -> list[dict]:
    """Included points grouped by set point (within ``tolerance_K``), pooled in log scale.

    Returns
    -------
    list of dicts with ``temperature_K`` (mean measured), ``set_temperature_K``, ``value`` (exp of
    the inverse-variance mean of ``ln value``), ``sigma_ln`` (pooled, times the Birge ratio when the
    replicates scatter more than their errors), ``n_replicates``, ``chi2``, ``chi2_p``.
    """
    groups = set_point_groups([p for p in points if p["included"]], "set_temperature_K", tolerance_K)
    pooled = []
    for members in groups:
        pool = pool_log_values([m["value"] for m in members], [m["sigma_ln"] for m in members])
        pooled.append({"temperature_K": float(np.mean([m["temperature_K"] for m in members])),
                       "set_temperature_K": float(np.mean([m["set_temperature_K"] for m in members])),
                       "value": float(np.exp(pool["mean_ln"])), "sigma_ln": pool["sigma_ln"],
                       "n_replicates": len(members), "chi2": pool["chi2"] if pool["dof"] else None,
                       "chi2_p": pool["chi2_p"], "runs": [m["name"] for m in members]})
    return pooled


#: key of the 300 K value in a fit, per quantity fitted (``hop_rate``: ln of the hop rate, fitted as ``D``)
AT_300K_KEYS = {"sigma_T": "conductivity_300K_mS_cm", "D": "diffusivity_300K_cm2_s",
                "hop_rate": "hop_rate_300K_per_ps"}


def fit_group(points: list[dict], mode: str = "sigma_T", n_bootstrap: int = 2000, group: str = "") -> dict:
    """Fit the included points of one group; warns (and records) every excluded point by name.

    ``mode``: ``sigma_T`` fits ``ln(sigma T)``; ``D`` and ``hop_rate`` fit ``ln value`` (the 300 K
    value is recorded under :data:`AT_300K_KEYS`).

    A group with fewer than :data:`MIN_ARRHENIUS_POINTS` set points cannot be fitted whatever is
    excluded: its exclusions are recorded, not logged one by one (:func:`unfitted_summary` gives one line).

    Returns
    -------
    dict -- ``fit`` (``ea_eV``, ``ea_std_eV``, ``ea_ci95_eV``, ``ln_prefactor``, ...) or None with
    ``fit_reason``; ``at_300K`` (``value``, ``ci95_low``, ``ci95_high``, ``extrapolated``) or None;
    ``temperatures`` (the pooled points fitted); ``n_set_points`` (distinct set points of all runs);
    ``upper_bounds`` (runs whose D is not resolved); ``warnings`` (list of str).
    """
    warnings = []
    n_set_points = len(set_point_groups(points, "set_temperature_K"))
    for p in points:
        if not p["included"]:
            message = f"Arrhenius fit {group}: run {p['name']} excluded: {p['excluded_reason']}"
            if n_set_points >= MIN_ARRHENIUS_POINTS:  # else no fit either way: one line (unfitted_summary)
                log.warning(message)
            warnings.append(message)
    for p in points:
        if p["included"] and p["unchecked"]:
            message = (f"Arrhenius fit {group}: run {p['name']} has no diffusive-regime diagnostics (analysed by an "
                       "older pydriver); included unchecked, re-run analyze")
            log.warning(message)
            warnings.append(message)
    pooled = pool_replicates(points)
    for p in pooled:
        if p["chi2_p"] is not None and p["chi2_p"] < 0.05:
            message = (f"Arrhenius fit {group}: the {p['n_replicates']} replicates at {p['set_temperature_K']:g} K "
                       f"disagree beyond their errors (chi^2 p = {p['chi2_p']:.3f}); pooled error widened")
            log.warning(message)
            warnings.append(message)
    out = {"fit": None, "fit_reason": None, "at_300K": None, "warnings": warnings, "temperatures": pooled,
           "n_set_points": n_set_points,
           "upper_bounds": [{"name": p["name"], "temperature_K": p["temperature_K"], "upper_bound": p["upper_bound"]}
                            for p in points if p["upper_bound"] is not None],
           "temperature_source": sorted({str(p["temperature_source"]) for p in points if p["included"]})}
    if len(pooled) < MIN_ARRHENIUS_POINTS:
        out["fit_reason"] = (f"{len(pooled)} usable temperature(s) of {len(points)} runs; "
                             f"need >= {MIN_ARRHENIUS_POINTS} distinct set points")
        return out
    t = np.array([p["temperature_K"] for p in pooled])
    v = np.array([p["value"] for p in pooled], dtype=float)
    fit = fit_arrhenius(t, v, mode="sigma_T" if mode == "sigma_T" else "D", n_bootstrap=n_bootstrap,
                        log_errors=[p["sigma_ln"] for p in pooled])
    out["fit"] = {**fit.as_dict(), "mode": mode}
    ext = extrapolate_arrhenius(fit, EXTRAPOLATION_TEMPERATURE_K)
    ext["extrapolated"] = not t.min() <= EXTRAPOLATION_TEMPERATURE_K <= t.max()
    out["at_300K"] = ext
    name = AT_300K_KEYS[mode]
    out["fit"][name] = ext["value"]
    out["fit"][name.replace("_300K", "_300K_ci95_low")] = ext["ci95_low"]
    out["fit"][name.replace("_300K", "_300K_ci95_high")] = ext["ci95_high"]
    return out


def unfitted_summary(groups: dict, quantity: str) -> tuple[int, str] | None:
    """One log line for the groups of :func:`arrhenius_groups` (or the hop-rate groups) with too few set
    points to fit, in place of a warning per excluded run: ``(level, message)``, ``None`` when every
    group has enough. WARNING when runs were excluded (their reasons counted by kind: the text before
    the first colon), else INFO.

    ``quantity`` names the fitted quantity in the message (``sigma*T``, ``D``, ``hop rate``).
    """
    short = {label: g for label, g in groups.items() if g.get("n_set_points", MIN_ARRHENIUS_POINTS)
             < MIN_ARRHENIUS_POINTS}
    if not short:
        return None
    listed = "; ".join(f"{label}: {g['n_set_points']}" for label, g in short.items())
    message = (f"Arrhenius fit of {quantity}: not possible for {len(short)} group(s), too few set temperatures "
               f"(a fit needs >= {MIN_ARRHENIUS_POINTS}; {listed})")
    points = [p for g in short.values() for p in g["points"]]
    kinds: dict[str, int] = {}
    for p in points:
        if not p["included"]:
            kind = str(p["excluded_reason"]).split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    if not kinds:
        return logging.INFO, message
    counted = ", ".join(f"{kind} ({n} of {len(points)} runs)" for kind, n in kinds.items())
    return logging.WARNING, f"{message}; runs that are no points: {counted}; per run in the report's warnings"


def arrhenius_groups(rows: list[dict], mode: str = "sigma_T", n_bootstrap: int = 2000) -> dict:
    """Arrhenius fit per (structure, mass factors) group: ``{"NaBH4, unscaled": {...}}``."""
    if mode not in QUANTITY:
        raise ValueError(f"Arrhenius mode {mode!r}; allowed {tuple(QUANTITY)}")
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["structure"], row["mass_factors"]), []).append(row)
    out = {}
    for (structure, masses), members in sorted(groups.items()):
        members = sorted(members, key=lambda r: r["fit_temperature_K"])
        label = f"{structure}, {masses}"
        points = [_point(r, mode) for r in members]
        entry = {"structure": structure, "mass_factors": masses, "mode": mode, "unit": QUANTITY[mode][2],
                 "points": points, "temperature_K": [p["temperature_K"] for p in points],
                 "value": [p["value"] for p in points], "error": [p["error"] for p in points]}
        entry.update(fit_group(points, mode, n_bootstrap, label))
        out[label] = entry
    return out
