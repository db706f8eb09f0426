"""The mechanism in the report: per-run columns (hops, reorientation, coupling, anion slabs), and the hop-rate Arrhenius fit.

:func:`mechanism_columns` flattens the ``sites``, ``hops``, ``reorientation`` and ``coupling``
sections of an ``analysis.json`` (docs/analysis.md, "Mechanism") into report-row columns:
``hop_rate_per_ion_per_ps`` with ``_std`` and ``_ci95``, ``back_jump_probability`` with ``_ci95``,
``correlation_factor`` with ``_std``, ``fraction_hops`` with ``_ci68``, per anion kind
``reorientation_<kind>_tau_<l>_ps`` with ``_std_ps`` and ``_lower_bound_ps``, and
``coupling_<kind>_factor`` with ``_ci95``; in runs with anion slabs (``sites.slabs``, o-NBH) per
anion kind ``slab_time_<kind>`` (fraction of the Na time in that kind's slabs) with ``_ci68`` and
``slab_n_ions`` (the ions it counts, for pooling), or ``slabs_reason`` when the anions form no
slabs; the occupancy per site and each kind's coupling time profile ride along as small dicts for
the figures.

:func:`hop_rate_groups` fits ``ln(hop rate)`` against 1/T per group (structure and mass factors)
with the weighted, replicate-pooling fit of :func:`pydriver.report.arrhenius.fit_group`: a second
activation energy that does not go through the MSD. Every run with a hop rate counts, diffusive or
not (a hop rate is a count, resolved whenever hops were seen); a run is left out, with its reason,
when its framework is not solid, no sites were found (no hop numbers), or it made no hop (then the
95 % Poisson upper limit of its rate is drawn as an upper bound).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pydriver.report.arrhenius import fit_group

HOP_RATE_KEY = "hop_rate_per_ion_per_ps"
HOP_RATE_UNIT = "1/ps"
#: legend text of runs without hops in the hop-rate Arrhenius plot
NO_HOPS_BOUND_LABEL = "upper bound (no hops, 95 %)"


def mechanism_columns(sections: dict, active: dict) -> dict:
    """Report-row columns of the mechanism sections (``sections``: the ``analysis.json`` dict; ``active``: its
    ``active`` section). Runs analysed without the mechanism give ``None`` values."""
    sites, hops = sections.get("sites") or {}, sections.get("hops") or {}
    out = {"n_sites": sites.get("n_sites"), "sites_reason": sites.get("reason"), "n_hops": hops.get("n_hops"),
           "hops_reason": hops.get("reason"), HOP_RATE_KEY: hops.get("rate_per_ion_per_ps"),
           f"{HOP_RATE_KEY}_std": hops.get("rate_per_ion_per_ps_std"),
           f"{HOP_RATE_KEY}_ci95": hops.get("rate_per_ion_per_ps_ci95"),
           "back_jump_probability": hops.get("back_jump_probability"),
           "back_jump_probability_ci95": hops.get("back_jump_probability_ci95"),
           "correlation_factor": hops.get("correlation_factor"),
           "correlation_factor_std": hops.get("correlation_factor_std"),
           "fraction_hops": active.get("fraction_hops"), "fraction_hops_ci68": active.get("fraction_hops_ci68"),
           "site_occupancy": None, "coupling_profiles": {}}
    if sites.get("occupancy_per_site") is not None:
        out["site_occupancy"] = {"occupancy": sites["occupancy_per_site"],
                                 "std": sites.get("occupancy_std_per_site"), "family": sites.get("family")}
    out.update(slab_columns(sites.get("slabs") or {}))
    for kind, entry in (sections.get("reorientation") or {}).items():
        for l in (1, 2):
            prefix = f"reorientation_{kind}_tau_{l}"
            out[f"{prefix}_ps"] = entry.get(f"tau_{l}_ps")
            out[f"{prefix}_std_ps"] = entry.get(f"tau_{l}_std_ps")
            out[f"{prefix}_lower_bound_ps"] = entry.get(f"tau_{l}_lower_bound_ps")
    for kind, entry in (sections.get("coupling") or {}).items():
        out[f"coupling_{kind}_factor"] = entry.get("enhancement_factor")
        out[f"coupling_{kind}_factor_ci95"] = entry.get("enhancement_factor_ci95")
        if entry.get("profile"):
            out["coupling_profiles"][kind] = {**entry["profile"], "n_hops_total":
                                              (entry.get("n_hops_exposed") or 0) + (entry.get("n_hops_unexposed") or 0)}
    return out


def slab_columns(slabs: dict) -> dict:
    """Report-row columns of ``sites.slabs``: ``slab_time_<kind>`` with ``_ci68`` per anion kind,
    ``slab_n_ions`` and, where the analysis has it, ``slab_profile`` (the density profile along the stacking
    axis with the layers and slab boundaries, for the figure); ``slabs_reason`` when the anions form no slabs; nothing without the section."""
    if slabs.get("reason"):
        return {"slabs_reason": slabs["reason"]}
    if not slabs.get("fraction_time"):
        return {}
    out = {"slab_n_ions": slabs.get("n_ions")}
    for kind, value in sorted(slabs["fraction_time"].items()):
        out[f"slab_time_{kind}"] = value
        out[f"slab_time_{kind}_ci68"] = (slabs.get("fraction_time_ci68") or {}).get(kind)
    if slabs.get("profile"):
        out["slab_profile"] = {"stacking_axis": slabs.get("stacking_axis"), "spacing_A": slabs.get("spacing_A"),
                               "layers": slabs.get("layers"), "boundaries_frac": slabs.get("boundaries_frac"),
                               "fraction_time": slabs["fraction_time"], **slabs["profile"]}
    return out


def slab_kinds(rows: list[dict]) -> list[str]:
    """Anion kinds with a ``slab_time_<kind>`` column in any row (or pooled condition), sorted."""
    return anion_kinds(rows, "slab_time_", "_ci68")


def anion_kinds(rows: list[dict], prefix: str = "reorientation_", suffix: str = "_tau_1_ps") -> list[str]:
    """Anion kinds that have a column ``<prefix><kind><suffix>`` in any row, sorted."""
    return sorted({k[len(prefix):-len(suffix)] for r in rows for k in r if k.startswith(prefix) and k.endswith(suffix)})


def hop_rate_point(row: dict) -> dict:
    """One run as a point of the hop-rate Arrhenius fit (the keys of :func:`pydriver.report.arrhenius.fit_group`)."""
    value, error = row.get(HOP_RATE_KEY), row.get(f"{HOP_RATE_KEY}_std")
    reason, upper_bound = None, None
    if row.get("framework_solid") is False:
        reason = f"framework not solid: {row.get('framework_reason')}"
    elif row.get("hops_reason"):
        reason = f"no hop numbers: {row['hops_reason']}"
    elif value is None or not np.isfinite(value):
        reason = "no hop rate (analysed without the mechanism: re-run analyze)"
    elif value <= 0:
        reason = "no hops in the run"
        ci95 = row.get(f"{HOP_RATE_KEY}_ci95")
        upper_bound = ci95[1] if ci95 and ci95[1] and np.isfinite(ci95[1]) else None
    elif error is None or not np.isfinite(error) or error <= 0:
        reason = "uncertainty of the hop rate undefined"
    return {"run_dir": row["run_dir"], "name": f"{Path(row['run_dir']).name} ({row['temperature_K']:g} K)",
            "temperature_K": float(row["fit_temperature_K"]), "set_temperature_K": float(row["temperature_K"]),
            "temperature_source": row.get("temperature_source"), "value": value, "error": error,
            "sigma_ln": error / value if reason is None else None, "included": reason is None,
            "excluded_reason": reason, "upper_bound": upper_bound, "unchecked": False}


def hop_rate_groups(rows: list[dict], n_bootstrap: int = 2000) -> dict:
    """Hop-rate Arrhenius fit per (structure, mass factors) group: ``{"NaBH4, unscaled": {...}}``.

    Returns
    -------
    dict label -> ``structure``, ``mass_factors``, ``mode`` (``hop_rate``), ``unit`` (1/ps), ``points``
    (:func:`hop_rate_point`), ``bound_label`` and the result of :func:`fit_group` (``fit`` with
    ``ea_eV``, ``ea_std_eV``, ``ea_ci95_eV``, ``hop_rate_300K_per_ps``; or ``fit_reason``). Groups
    with no hop numbers at all are left out.
    """
    groups: dict = {}
    for row in rows:
        if row.get(HOP_RATE_KEY) is not None or row.get("hops_reason"):
            groups.setdefault((row["structure"], row["mass_factors"]), []).append(row)
    out = {}
    for (structure, masses), members in sorted(groups.items()):
        label = f"{structure}, {masses}"
        points = [hop_rate_point(r) for r in sorted(members, key=lambda r: r["fit_temperature_K"])]
        entry = {"structure": structure, "mass_factors": masses, "mode": "hop_rate", "unit": HOP_RATE_UNIT,
                 "points": points, "bound_label": NO_HOPS_BOUND_LABEL}
        entry.update(fit_group(points, "hop_rate", n_bootstrap, f"hop rate, {label}"))
        out[label] = entry
    return out
