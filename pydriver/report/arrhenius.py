"""Arrhenius fits across runs: which points count, the weighted fit, and sigma (or D) at 300 K.

Per group (structure and mass factors), each run is one point at the temperature its transport
used (the measured production mean when log.lammps had it, else the set point). A point is
excluded, one by one and each with a warning naming the run, when the run is not diffusive, the
value is not positive or not finite, or its uncertainty is undefined (the fit is weighted by the
uncertainties, so a point without one cannot enter it). A group with at least
:data:`MIN_ARRHENIUS_POINTS` distinct temperatures left gets a fit
(:func:`pydriver.analysis.diffusion.fit_arrhenius`); the value at
:data:`EXTRAPOLATION_TEMPERATURE_K` is marked ``extrapolated`` when it lies outside the fitted range.
"""

from __future__ import annotations

import logging

from pathlib import Path

import numpy as np

from pydriver.analysis.diffusion import extrapolate_arrhenius, fit_arrhenius

log = logging.getLogger(__name__)

MIN_ARRHENIUS_POINTS = 3
EXTRAPOLATION_TEMPERATURE_K = 300.0
QUANTITY = {"sigma_T": ("conductivity_mS_cm", "conductivity_std_mS_cm", "mS/cm"),
            "D": ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "cm^2/s")}


def _point(row: dict, mode: str) -> dict:
    key, err_key, _ = QUANTITY[mode]
    value, error = row.get(key), row.get(err_key)
    name = f"{Path(row['run_dir']).name} ({row['temperature_K']:g} K)"
    reason = None
    if row.get("diffusive") is False:
        reason = f"not diffusive: {row.get('not_diffusive_reason')}"
    elif value is None or not np.isfinite(value):
        reason = f"{key} is undefined"
    elif value <= 0:
        reason = f"{key} = {value:.3g} <= 0"
    elif error is None or not np.isfinite(error) or error <= 0:
        reason = f"uncertainty of {key} undefined ({row.get('undefined', {}).get(err_key, 'missing')})"
    return {"run_dir": row["run_dir"], "name": name, "temperature_K": float(row["fit_temperature_K"]),
            "set_temperature_K": float(row["temperature_K"]), "temperature_source": row.get("temperature_source"),
            "value": value, "error": error, "included": reason is None, "excluded_reason": reason,
            "unchecked": row.get("diffusive") is None}


def fit_group(points: list[dict], mode: str = "sigma_T", n_bootstrap: int = 2000, group: str = "") -> dict:
    """Fit the included points of one group; warns (and records) every excluded point by name.

    Returns
    -------
    dict -- ``fit`` (``ea_eV``, ``ea_std_eV``, ``ea_ci95_eV``, ``ln_prefactor``, ...) or None with
    ``fit_reason``; ``at_300K`` (``value``, ``ci95_low``, ``ci95_high``, ``extrapolated``) or None;
    ``warnings`` (list of str).
    """
    warnings = []
    for p in points:
        if not p["included"]:
            message = f"Arrhenius fit {group}: run {p['name']} excluded: {p['excluded_reason']}"
            log.warning(message)
            warnings.append(message)
    for p in points:
        if p["included"] and p["unchecked"]:
            message = (f"Arrhenius fit {group}: run {p['name']} has no diffusive-regime diagnostics (analysed by an "
                       "older pydriver); included unchecked, re-run analyze")
            log.warning(message)
            warnings.append(message)
    used = [p for p in points if p["included"]]
    t = np.array([p["temperature_K"] for p in used])
    out = {"fit": None, "fit_reason": None, "at_300K": None, "warnings": warnings,
           "temperature_source": sorted({str(p["temperature_source"]) for p in used})}
    if np.unique(t).size < MIN_ARRHENIUS_POINTS:
        out["fit_reason"] = (f"{np.unique(t).size} usable temperature(s) of {len(points)} runs; "
                             f"need >= {MIN_ARRHENIUS_POINTS}")
        return out
    v = np.array([p["value"] for p in used], dtype=float)
    err = np.array([p["error"] for p in used], dtype=float)
    fit = fit_arrhenius(t, v, err, mode, n_bootstrap)
    out["fit"] = fit.as_dict()
    ext = extrapolate_arrhenius(fit, EXTRAPOLATION_TEMPERATURE_K)
    ext["extrapolated"] = not t.min() <= EXTRAPOLATION_TEMPERATURE_K <= t.max()
    out["at_300K"] = ext
    name = "conductivity_300K_mS_cm" if mode == "sigma_T" else "diffusivity_300K_cm2_s"
    out["fit"][name] = ext["value"]
    out["fit"][name.replace("_300K", "_300K_ci95_low")] = ext["ci95_low"]
    out["fit"][name.replace("_300K", "_300K_ci95_high")] = ext["ci95_high"]
    return out


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
