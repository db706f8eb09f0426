"""``report.md``: runs with every value and uncertainty, rotation rates, Arrhenius fits, warnings, figures."""

from __future__ import annotations

from pathlib import PurePath

import numpy as np

from pydriver.report.arrhenius import QUANTITY
from pydriver.report.mechanism import HOP_RATE_KEY, anion_kinds, slab_kinds

UNDEFINED = "undefined"


def _num(value, spec: str = ".3g") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return UNDEFINED
    return format(value, spec)


def _pm(value, error, spec: str = ".3g", err_spec: str = ".2g") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return UNDEFINED
    return f"{format(value, spec)} ± {_num(error, err_spec)}"


def bounded(value, error, bound: str, spec: str = ".3g", err_spec: str = ".2g") -> str:
    """``value ± error`` with the upper-bound mark of a run that is not diffusive; a fitted value <= 0 there
    (no net displacement beyond vibration) reads ``≈ 0 (fit -5.7e-08 ± 2.3e-06)``, not a negative bound."""
    if bound and value is not None and np.isfinite(value) and value <= 0:
        return f"≈ 0 (fit {value:.2g} ± {_num(error, err_spec)})"
    return f"{bound}{_pm(value, error, spec, err_spec)}"


def _temperature(r: dict) -> str:
    if r.get("measured_temperature_K") is None:
        return f"{r['temperature_K']:g} (set point)"
    return f"{r['measured_temperature_K']:.0f} ± {_num(r.get('measured_temperature_std_K'), '.0f')}"


def _fraction(value, interval) -> str:
    """``0.25 [0.18, 0.33]``: an active fraction with its 68 % interval (bare value for older analyses)."""
    if value is None:
        return UNDEFINED
    return f"{value:.2f}" + (f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def framework_mark(r: dict) -> str:
    """The framework column: ``solid``, ``**no**: <reason>`` or ``unknown`` (analysed before the check)."""
    return {True: "solid", None: "unknown (re-run analyze)"}.get(r.get("framework_solid"),
                                                               f"**no**: {r.get('framework_reason')}")


def _runs_table(rows: list[dict]) -> list[str]:
    lines = ["| structure | mass factors | T set (K) | T measured (K) | D (cm²/s) | σ (mS/cm) | charge D (cm²/s) "
             "| Haven ratio | log-log slope of MSD − offset | MSD at fit end (Å²) | diffusive | active Na fraction "
             "(MSD ≥ 21 Å², 68 % CI) | active Na fraction (D > D*, 68 % CI) | framework |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        bound = "≤ " if r["diffusive"] is False else ""
        # a ratio of two upper bounds bounds nothing: not shown for runs that are not diffusive
        haven = "n/a (not diffusive)" if r["diffusive"] is False else _pm(r['haven_ratio'], r['haven_ratio_std'])
        diffusive = {True: "yes", None: "unknown (no diagnostics: re-run analyze)"}.get(
            r["diffusive"], f"**no**: {r['not_diffusive_reason']}")
        lines.append(
            f"| {r['structure']} | {r['mass_factors']} | {r['temperature_K']:g} | {_temperature(r)} | "
            f"{bounded(r['diffusivity_cm2_s'], r['diffusivity_std_cm2_s'], bound)} | "
            f"{bounded(r['conductivity_mS_cm'], r['conductivity_std_mS_cm'], bound)} | "
            f"{bounded(r['charge_diffusivity_cm2_s'], r['charge_diffusivity_std_cm2_s'], bound)} | "
            f"{haven} | {_num(r.get('loglog_slope_minus_offset'), '.2f')} | "
            f"{_num(r.get('msd_end_of_window_A2'), '.3g')} | {diffusive} | "
            f"{_fraction(r['active_fraction'], r.get('active_fraction_ci68'))} | "
            f"{_fraction(r.get('active_fraction_d_threshold'), r.get('active_fraction_d_threshold_ci68'))} | "
            f"{framework_mark(r)} |")
    hot = [r for r in rows if r.get("temperature_warning")]
    if hot:
        lines += ["", "Temperature warnings:", ""]
        lines += [f"- {r['structure']}, {r['mass_factors']}, {r['temperature_K']:g} K: {r['temperature_warning']}"
                  for r in hot]
    drifting = [(r, w) for r in rows for w in r.get("thermo_drift_warnings") or []]
    if drifting:
        lines += ["", "Equilibration warnings:", ""]
        lines += [f"- {r['structure']}, {r['mass_factors']}, {r['temperature_K']:g} K: {w}" for r, w in drifting]
    reasons = [(r, k, why) for r in rows for k, why in r.get("undefined", {}).items()]
    if reasons:
        lines += ["", "Undefined values:", ""] + [f"- {r['structure']}, {r['mass_factors']}, {r['temperature_K']:g} K, "
                                                  f"`{k}`: {why}" for r, k, why in reasons]
    return lines


def _rotation_table(rows: list[dict]) -> list[str]:
    entries = [(r, k[len("rotation_"):-len("_rad_ps")]) for r in rows for k in r
               if k.startswith("rotation_") and k.endswith("_rad_ps") and "_std_" not in k]
    if not entries:
        return ["No anions (no rotation rates)."]
    lines = ["| structure | mass factors | T set (K) | anion | rotation rate (rad/ps) |", "|---|---|---|---|---|"]
    for r, kind in entries:
        lines.append(f"| {r['structure']} | {r['mass_factors']} | {r['temperature_K']:g} | {kind} | "
                     f"{_pm(r[f'rotation_{kind}_rad_ps'], r[f'rotation_{kind}_std_rad_ps'])} |")
    return lines


def _arrhenius_table(groups: dict, mode: str) -> list[str]:
    unit = QUANTITY[mode][2]
    quantity = "σ" if mode == "sigma_T" else "D"
    lines = [f"| group | runs used | Ea (eV) | Ea 95% CI (eV) | {quantity}(300 K) ({unit}) | 95% CI at 300 K | "
             "T used |", "|---|---|---|---|---|---|---|"]
    for name, g in groups.items():
        used = sum(p["included"] for p in g["points"])
        source = " / ".join(g.get("temperature_source") or []) or "-"
        fit = g["fit"]
        if fit is None:
            lines.append(f"| {name} | {used} of {len(g['points'])} | no fit: {g['fit_reason']} | | | | {source} |")
            continue
        ext = g["at_300K"]
        mark = " (extrapolated)" if ext["extrapolated"] else ""
        t = [p["temperature_K"] for p in g["points"] if p["included"]]
        lines.append(f"| {name} | {used} of {len(g['points'])} ({min(t):.0f}-{max(t):.0f} K) | "
                     f"{fit['ea_eV']:.3f} ± {fit['ea_std_eV']:.3f} | {fit['ea_ci95_eV'][0]:.3f} to "
                     f"{fit['ea_ci95_eV'][1]:.3f} | {ext['value']:.3g}{mark} | {ext['ci95_low']:.3g} to "
                     f"{ext['ci95_high']:.3g}{mark} | {source} |")
    return lines


def _interval(value, interval, spec: str = ".2f") -> str:
    """``0.74 [0.54, 0.88]``: a value with its interval (bare value without one)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return UNDEFINED
    if not interval or any(v is None for v in interval):
        return format(value, spec)
    return f"{format(value, spec)} [{format(interval[0], spec)}, {format(interval[1], spec)}]"


def _tau(r: dict, kind: str, l: int) -> str:
    """A reorientation time ± its error, ``> bound`` when slower than the run, or ``-`` without that anion."""
    prefix = f"reorientation_{kind}_tau_{l}"
    if f"{prefix}_ps" not in r:
        return "-"
    if r[f"{prefix}_ps"] is not None:
        return _pm(r[f"{prefix}_ps"], r.get(f"{prefix}_std_ps"))
    bound = r.get(f"{prefix}_lower_bound_ps")
    return f"> {bound:.3g}" if bound is not None else UNDEFINED


def _slab_cell(r: dict, kind: str) -> str:
    """Na time in one kind's anion slabs with its 68 % interval; ``-`` for a run without slab numbers."""
    key = f"slab_time_{kind}"
    return _interval(r[key], r.get(f"{key}_ci68")) if r.get(key) is not None else "-"


def _mechanism_table(rows: list[dict]) -> list[str]:
    """Per run: sites, hops, back jumps, correlation factor, hop-active Na, tau_1/tau_2 and coupling per anion kind,
    Na time in each kind's anion slabs."""
    used = [r for r in rows if r.get(HOP_RATE_KEY) is not None or r.get("hops_reason") or r.get("n_sites")]
    if not used:
        return ["No mechanism numbers (runs analysed without them: re-run analyze)."]
    kinds = anion_kinds(rows)
    coupled = anion_kinds(rows, "coupling_", "_factor")
    slabs = slab_kinds(rows)
    head = ["structure", "mass factors", "T set (K)", "sites", "hops", "hop rate per Na (1/ps)",
            "back-jump probability (95 % CI)", "correlation factor", "active Na by hops (68 % CI)"]
    head += [f"{kind} τ{l} (ps)" for kind in kinds for l in (1, 2)]
    head += [f"{kind} coupling factor (95 % CI)" for kind in coupled]
    head += [f"Na time in {kind} slabs (68 % CI)" for kind in slabs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in used:
        if r.get("hops_reason"):
            hop_cells = [str(r.get("n_sites") or 0), f"n/a: {r['hops_reason']}", "-", "-", "-", "-"]
        else:
            hop_cells = [str(r.get("n_sites")), _num(r.get("n_hops"), "d"),
                         _pm(r.get(HOP_RATE_KEY), r.get(f"{HOP_RATE_KEY}_std")),
                         _interval(r.get("back_jump_probability"), r.get("back_jump_probability_ci95")),
                         _pm(r.get("correlation_factor"), r.get("correlation_factor_std"), ".2f", ".2f"),
                         _fraction(r.get("fraction_hops"), r.get("fraction_hops_ci68"))]
        cells = [r["structure"], r["mass_factors"], f"{r['temperature_K']:g}", *hop_cells]
        cells += [_tau(r, kind, l) for kind in kinds for l in (1, 2)]
        cells += [_interval(r.get(f"coupling_{kind}_factor"), r.get(f"coupling_{kind}_factor_ci95"))
                  if f"coupling_{kind}_factor" in r else "-" for kind in coupled]
        cells += [_slab_cell(r, kind) for kind in slabs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _hop_arrhenius_table(hop_groups: dict, groups: dict) -> list[str]:
    """Ea from the hop rate next to the Ea of the MSD fit of the same group."""
    lines = ["| group | runs used | Ea from hop rate (eV) | 95 % CI (eV) | Ea from MSD (eV) | hop rate at 300 K "
             "(1/ps, 95 % CI) |", "|---|---|---|---|---|---|"]
    for name, g in hop_groups.items():
        used = sum(p["included"] for p in g["points"])
        msd_fit = (groups.get(name) or {}).get("fit")
        msd = f"{msd_fit['ea_eV']:.3f} ± {msd_fit['ea_std_eV']:.3f}" if msd_fit else "no fit"
        fit = g["fit"]
        if fit is None:
            lines.append(f"| {name} | {used} of {len(g['points'])} | no fit: {g['fit_reason']} | | {msd} | |")
            continue
        ext = g["at_300K"]
        mark = " (extrapolated)" if ext["extrapolated"] else ""
        lines.append(f"| {name} | {used} of {len(g['points'])} | {fit['ea_eV']:.3f} ± {fit['ea_std_eV']:.3f} | "
                     f"{fit['ea_ci95_eV'][0]:.3f} to {fit['ea_ci95_eV'][1]:.3f} | {msd} | {ext['value']:.3g} "
                     f"[{ext['ci95_low']:.2g}, {ext['ci95_high']:.2g}]{mark} |")
    return lines


def _settings_table(rows: list[dict]) -> list[str]:
    """What each run actually used (``run.json``): structure file, seed, pressure, time step, length, precision;
    each run named by its directory's name (``run_dir`` is relative to the report folder)."""
    lines = ["| run | structure file | seed | P (bar) | barostat | dt (fs) | production (ps) | model dtype | model sha256 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {PurePath(r['run_dir']).name} | {r.get('structure_file') or '?'} | {_num(r.get('seed'), 'd')} | "
                     f"{_num(r.get('pressure_bar'), 'g')} | {r.get('barostat') or '?'} | {_num(r.get('dt_fs'), 'g')} | "
                     f"{_num(r.get('production_ps'), '.3g')} | {r.get('model_dtype') or '?'} | "
                     f"{r.get('model_sha256') or '?'} |")
    return lines


def _replicates_table(conditions: list[dict]) -> list[str]:
    """One line per condition with replicates: pooled D, within-run vs between-replicate log errors, chi^2,
    active Na, Na time in each kind's anion slabs (conditions with slab numbers), pooled MSD."""
    slabs = slab_kinds(conditions)
    head = ["structure", "mass factors", "T set (K)", "runs (resolved)", "pooled D (cm²/s, 95 % CI)",
            "σ(ln D) within runs", "σ(ln D) between replicates", "χ² p", "pooled active Na (68 % CI)"]
    head += [f"pooled Na time in {kind} slabs (68 % CI)" for kind in slabs] + ["pooled MSD"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in conditions:
        if "diffusivity_cm2_s" in c:
            lo, hi = c["diffusivity_ci95_cm2_s"]
            pooled = f"{c['diffusivity_cm2_s']:.3g} [{lo:.2g}, {hi:.2g}]"
            within, between, p = f"{c['sigma_ln_within']:.2f}", f"{c['sigma_ln_between']:.2f}", f"{c['chi2_p']:.2f}"
            if c["chi2_p"] < 0.05:
                p += " (replicates disagree; error widened)"
        else:
            pooled, within, between, p = "n/a (< 2 resolved runs)", "-", "-", "-"
        active = _fraction(c.get("active_fraction"), c.get("active_fraction_ci68"))
        slab_cells = "".join(f"{_slab_cell(c, kind)} | " for kind in slabs)
        lines.append(f"| {c['structure']} | {c['mass_factors']} | {c['temperature_K']:g} | {c['n_runs']} "
                     f"({c['n_resolved']}) | {pooled} | {within} | {between} | {p} | {active} | {slab_cells}"
                     f"{c.get('msd_csv') or '-'} |")
    return lines


def report_markdown(rows: list[dict], groups: dict, figures: dict, mode: str,
                    conditions: list[dict] | None = None, hop_groups: dict | None = None) -> str:
    """The text of ``report.md`` (``conditions``: :func:`pydriver.report.replicates.replicate_conditions`;
    ``hop_groups``: :func:`pydriver.report.mechanism.hop_rate_groups`)."""
    rows = sorted(rows, key=lambda r: (r["structure"], r["mass_factor"], r["temperature_K"]))
    fit_kind = "ln(σT)" if mode == "sigma_T" else "ln D"
    lines = ["# Transport report", "",
             f"{len(rows)} runs. Nernst-Einstein conductivities and Arrhenius fits use the measured mean temperature "
             "of the production run (log.lammps) where it is known, else the set point. Values of runs that are "
             "not diffusive are upper bounds (≤) and are left out of the fits; so are runs whose framework is not "
             "solid (column framework: the anion lattice melted or diffused, or the cell changed shape). Active Na: "
             "MSD ≥ 21 Å² over the run, and own D resolved above D* = 21 Å² / (6 × 1 ns), the paper's criterion "
             "as a rate. Uncertainties are one standard deviation unless marked as 95% intervals.", "",
             "## Runs", ""]
    lines += _runs_table(rows)
    if conditions:
        lines += ["", "## Replicates", "",
                  "Runs of one structure, mass factors and set point (other seeds or structure files) pooled: "
                  "inverse-variance mean of ln D; the scatter between replicates next to the runs' own errors, "
                  "and a χ² test of one against the other. Active Na and Na time per anion slab: ion counts summed "
                  "over the replicates.", ""] + _replicates_table(conditions)
    lines += ["", "## What each run used", ""] + _settings_table(rows)
    lines += ["", "## Anion rotation", ""] + _rotation_table(rows)
    lines += ["", f"## Arrhenius fits ({fit_kind} vs 1/T, weighted by the uncertainties)", ""]
    lines += _arrhenius_table(groups, mode)
    lines += ["", "## Mechanism: hops, reorientation, coupling", "",
              "Hops between Na sites found in each run (rate ± standard error); back jumps: second hop of a pair "
              "returning to the site the first left (1/6 for uncorrelated hops on a simple-cubic lattice); "
              "correlation factor: MSD D over the random-walk D of the jumps; active Na by hops: ions with at least "
              "k net hops. τ1, τ2: decay times of C1(t), C2(t) of the anions' bond (BH4) or centre-vertex (B12H12) "
              "vectors (> x: slower than the run resolves, a lower bound). Coupling factor: hop rate of Na next to "
              "an anion that just reoriented over the rate otherwise (1: no coupling). Na time in K slabs (runs "
              "whose anions stack in layers of one kind, o-NBH): fraction of the Na-frames in the slabs of anion kind "
              "K, 68 % Jeffreys interval over ions.", ""]
    lines += _mechanism_table(rows)
    if hop_groups:
        lines += ["", "## Arrhenius fits of the hop rate (ln rate vs 1/T): a second, independent Ea", ""]
        lines += _hop_arrhenius_table(hop_groups, groups)
    warnings = [w for g in (*groups.values(), *(hop_groups or {}).values()) for w in g["warnings"]]
    if warnings:
        lines += ["", "Arrhenius warnings (points left out of or unchecked in the fits):", ""]
        lines += [f"- {w}" for w in warnings]
    lines += ["", "## Figures", ""] + [f"![{name}]({fname})" for name, fname in figures.items()]
    return "\n".join(lines) + "\n"
