#!/usr/bin/env python
"""The study's claims against its report: what we found, its 95 % interval, the runs and a verdict.

    .venv/bin/python examples/study_cpu/claims.py [REPORT_JSON] [--thermo THERMO_JSON] [--out DIR] [--write-readme]

REPORT_JSON defaults to results512/report/report.json; THERMO_JSON to the full thermodynamics
(../structures/thermo_nabh_full/thermo.json) when it is complete, else ../structures/thermo_nabh/thermo.json.
Writes DIR/claims.json and DIR/claims.md (DIR: the folder above the report's folder) and prints the
tables; ``--write-readme`` also rewrites the ``claims`` and ``mass-effects`` blocks of README.md.
The comparisons are :mod:`pydriver.report.compare` on the report's pooled numbers; the rules are
:data:`RULES`. The published o-NBH structure (Sadikin et al., Adv. Energy Mater. 5, 1501016 (2015))
has no Na in its B12H12 slabs: the claim is tested on the fraction of the Na time in the B12H12
slabs (``sites.slabs`` of the analyses, pooled by ion over the runs of a set point), supported when
its 95 % Jeffreys interval lies below :data:`SLAB_NONE_FRACTION` (0.05, room for Na vibrating across
a slab boundary), contradicted when it lies above; runs analysed without ``sites.slabs`` give n/a. tests/sweep/test_study_results.py checks that the committed claims.json and README
blocks are what this script makes of the committed report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from pydriver.analysis.active import jeffreys_interval
from pydriver.analysis.run_output import json_ready
from pydriver.report import compare, levels
from pydriver.report.generated import write_blocks

HERE = Path(__file__).resolve().parent
ONBH, PRECURSORS = "Na3(BH4)(B12H12)", ("NaBH4", "Na2B12H12")
UNSCALED = "unscaled"
FAR_FACTOR = 10.0  # "far better": at least one order of magnitude in sigma
FAST_SIGMA_300K_mS_cm = 0.1  # 1e-4 S/cm: the usual bar of a fast (superionic) solid electrolyte
EA_SAME_MARGIN_eV = 0.05  # "little change in Ea": |dEa| < 0.05 eV (= 2 kT at 290 K)
SLAB_NONE_FRACTION = 0.05  # "no Na in the B12H12 slabs": under 5 % of the Na time (Na vibrating across a boundary)
EMPTY_SLAB_KIND = "B12H12"  # the anion slabs the published o-NBH structure leaves without Na
THERMO_TEMPERATURES_K = (300.0, 600.0)  # room temperature and the lowest MD temperature of the study
DEFINITIONS = {"msd_21A2": "own MSD >= 21 Å²", "d_threshold": "own D > 3.5e-7 cm²/s", "hops": ">= 2 net hops"}
RULES = {
    "far": f"supported when the 95 % interval of the ratio lies above {FAR_FACTOR:g} (an order of magnitude); "
           f"contradicted when it lies below {FAR_FACTOR:g}; a precursor that is not diffusive is a 95 % upper bound, "
           "which makes the ratio a lower bound",
    "positive": "supported when the 95 % interval lies above 0; contradicted when below 0",
    "fast": f"supported when the 95 % interval lies above {FAST_SIGMA_300K_mS_cm:g} mS/cm (1e-4 S/cm); "
            "contradicted when below",
    "lower": "supported when the 95 % interval of the ratio lies below 1 (of the difference below 0); "
             "contradicted when above",
    "same": f"supported when the 95 % interval of the difference lies within ±{EA_SAME_MARGIN_eV:g} eV; "
            f"contradicted when it lies wholly outside; Ea per mass setting needs >= 3 temperatures of that setting",
    "metastable": "supported when dG > 0 over the band of modelling choices (one treatment: its value); "
                  "contradicted when dG < 0 over it",
    "none": f"supported when the 95 % interval of the fraction lies below {SLAB_NONE_FRACTION:g} (room for Na "
            f"vibrating across a slab boundary); contradicted when it lies above {SLAB_NONE_FRACTION:g}; Jeffreys "
            "interval over the Na of the runs, each counting its fraction of the frames",
}


# -- formatting ------------------------------------------------------------------------------------------------------

def _g(x, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def _outward(x: float, spec: str, down: bool) -> float:
    """``x`` rounded away from the inside of a one-sided bound at the digits ``spec`` shows (a lower bound
    down, an upper bound up), so the printed bound still holds: 133.65 as ``≥ 133``, not ``≥ 134``."""
    if not spec.endswith("g") or x == 0 or not math.isfinite(x):
        return x
    digits = int(spec.strip("+.g") or 6)
    scale = 10.0 ** (math.floor(math.log10(abs(x))) - digits + 1)
    return (math.floor if down else math.ceil)(round(x / scale, 9)) * scale


def _interval(c: dict, spec: str = ".3g", unit: str = "") -> str:
    """``0.80 [0.55, 1.2]``, ``≥ 12``, ``≤ 0.3`` (bounds rounded outward) or ``n/a: why``."""
    lo, hi = c["ci95"]
    u = f" {unit}" if unit else ""
    if c.get("estimate") is not None:
        return f"{format(c['estimate'], spec)} [{_g(lo, spec)}, {_g(hi, spec)}]{u}"
    if lo is not None and hi is None:
        return f"≥ {format(_outward(lo, spec, down=True), spec)}{u}"
    if hi is not None and lo is None:
        return f"≤ {format(_outward(hi, spec, down=False), spec)}{u}"
    return f"n/a: {_why(c)}"


def _why(c: dict) -> str:
    """The reasons of a comparison without a number, without the levels' long labels."""
    reasons = [side["reason"] for side in (c.get("a"), c.get("b")) if side and side.get("value") is None
               and side.get("reason")]
    return "; ".join(dict.fromkeys(reasons)) or c.get("reason") or "no value"


def _runs(level: dict) -> str:
    return str(level["n_runs"]) if level["n_used"] == level["n_runs"] else f"{level['n_used']} of {level['n_runs']}"


def _row(claim: str, test: str, result: dict, rule: str, verdict: str, found: str | None = None,
         runs: str | None = None) -> dict:
    if runs is None:
        runs = f"{_runs(result['a'])} vs {_runs(result['b'])}" if "a" in result else _runs(result)
    return {"claim": claim, "test": test, "found": found or _interval(result), "runs": runs, "verdict": verdict,
            "rule": rule, "result": result}


def _level_as_result(level: levels.Level) -> dict:
    d = level.as_dict()
    d["estimate"] = d["value"] if d["bound"] is None else None
    return d


# -- the claims ------------------------------------------------------------------------------------------------------

def _sigma_at(report: dict, structure: str, temperature_K: float) -> tuple[levels.Level, str]:
    """sigma of a structure at a set point: its runs there, else its Arrhenius line (with a note on where from)."""
    if levels.condition_rows(report, structure, UNSCALED, temperature_K):
        return levels.transport_level(report, structure, UNSCALED, temperature_K, "sigma"), ""
    line = levels.arrhenius_line_level(report, structure, UNSCALED, temperature_K)
    return line, f" (o-NBH: Arrhenius line{', ' + line.reason if line.value is not None and line.reason else ''})"


def precursor_rows(report: dict, onbh: str | None) -> list[dict]:
    """o-NBH vs each precursor at the precursor's highest temperature with a solid framework."""
    claim = "o-NBH conducts far better than its precursors"
    rows = []
    for formula in PRECURSORS:
        name = levels.find_structure(report, formula)
        temps = [t for t in levels.set_points(report, name) if any(
            r.get("framework_solid") is not False for r in levels.condition_rows(report, name, UNSCALED, t))] if name else []
        if not name or not temps or not onbh:
            missing = levels.Level(f"sigma, {formula}", None, reason=f"no solid {formula} run in this report"
                                   if onbh else "no o-NBH runs in this report")
            result = compare.ratio(levels.Level(f"sigma, {ONBH}", None), missing)
            rows.append(_row(claim, f"σ(o-NBH) / σ({formula}) > {FAR_FACTOR:g}", result, RULES["far"],
                             compare.NOT_RESOLVED))
            continue
        t = temps[-1]
        onbh_sigma, where = _sigma_at(report, onbh, t)
        result = compare.ratio(onbh_sigma, levels.transport_level(report, name, UNSCALED, t, "sigma"))
        rows.append(_row(claim, f"σ(o-NBH) / σ({formula}) at {t:g} K > {FAR_FACTOR:g}{where}", result, RULES["far"],
                         compare.verdict(result, FAR_FACTOR, ">")))
    return rows


def arrhenius_rows(report: dict, onbh: str | None) -> list[dict]:
    """Ea of o-NBH (MSD-based and hop-rate) and sigma(300 K) extrapolated."""
    claim = "Ea and σ(300 K) of o-NBH by Arrhenius extrapolation"
    rows = []
    for key, what in (("arrhenius", "Ea from σ(T)"), ("hop_rate_arrhenius", "Ea from hop rates")):
        level = (levels.ea_level(report, onbh, UNSCALED, key) if onbh
                 else levels.Level(f"Ea, {ONBH}", None, scale="linear", reason="no o-NBH runs"))
        result = _level_as_result(level)
        rows.append(_row(claim, f"{what} > 0 eV", result, RULES["positive"], compare.verdict(result, 0.0, ">"),
                         found=_interval(result, ".3f", "eV")))
    group = (report.get("arrhenius") or {}).get(f"{onbh}, {UNSCALED}") or {}
    ext = group.get("at_300K")
    if ext and group.get("mode") == "sigma_T":
        result = {"estimate": ext["value"], "ci95": [ext["ci95_low"], ext["ci95_high"]],
                  "extrapolated": ext["extrapolated"], "n_runs": len(group["points"]),
                  "n_used": sum(p["n_replicates"] for p in group["temperatures"]), "reason": None}
        found = _interval(result, ".3g", "mS/cm") + (" (extrapolated)" if ext["extrapolated"] else "")
        verdict = compare.verdict(result, FAST_SIGMA_300K_mS_cm, ">")
    else:
        reason = group.get("fit_reason") or "no o-NBH Arrhenius fit"
        result = {"estimate": None, "ci95": [None, None], "n_runs": len(group.get("points") or []), "n_used": 0,
                  "reason": reason}
        found, verdict = f"n/a: {reason}", compare.NOT_RESOLVED
    rows.append(_row(claim, f"σ(300 K) > {FAST_SIGMA_300K_mS_cm:g} mS/cm", result, RULES["fast"], verdict,
                     found=found))
    return rows


def slab_rows(report: dict, onbh: str | None) -> list[dict]:
    """Na only in the BH4-containing slabs: the fraction of the Na time in the B12H12 slabs per o-NBH set point
    (unscaled) with its 95 % Jeffreys interval; one n/a row when no set point has slab numbers."""
    claim = "Na occupies only the BH4-containing slabs (published o-NBH structure)"
    temps = levels.set_points(report, onbh) if onbh else []
    counts = [levels.slab_time_counts(report, onbh, UNSCALED, t, EMPTY_SLAB_KIND) for t in temps]
    rows = []
    for t, c in zip(temps, counts):
        if c["k"] is None:
            continue
        result = {"estimate": c["fraction"], "ci95": list(jeffreys_interval(c["k"], c["n"], 0.95)), "k": c["k"],
                  "n": c["n"], "n_runs": c["n_runs"], "n_used": c["n_used"], "reason": None,
                  "method": "Jeffreys 95 % interval, each Na counting its fraction of the frames"}
        rows.append(_row(claim, f"Na time in {EMPTY_SLAB_KIND} slabs at {t:g} K < {SLAB_NONE_FRACTION:g}", result,
                         RULES["none"], compare.verdict(result, SLAB_NONE_FRACTION, "<"),
                         found=_interval(result, ".2f")))
    if rows:
        return rows
    reason = "; ".join(dict.fromkeys(c["reason"] for c in counts)) or "no o-NBH runs"
    result = {"estimate": None, "ci95": [None, None], "n_runs": sum(c["n_runs"] for c in counts), "n_used": 0,
              "reason": reason}
    return [_row(claim, f"Na time in {EMPTY_SLAB_KIND} slabs < {SLAB_NONE_FRACTION:g}", result, RULES["none"],
                 compare.NOT_RESOLVED)]


def mass_settings(report: dict, onbh: str | None) -> tuple[float | None, dict]:
    """The mass experiment's temperature (the set point with the most o-NBH mass settings) and
    ``{"BH4": label, "B12H12": label, "B12H12+BH4": label}`` of the settings run there."""
    by_t: dict = {}
    for r in report["runs"]:
        if r["structure"] == onbh and r["mass_factors"] != UNSCALED:
            by_t.setdefault(float(r["temperature_K"]), {})[r["scaled_anions"]] = r["mass_factors"]
    if not by_t:
        return None, {}
    t = max(sorted(by_t), key=lambda k: len(by_t[k]))
    return t, dict(sorted(by_t[t].items(), key=lambda kv: (kv[0].count("+"), kv[0] != "BH4")))


def mass_rows(report: dict, onbh: str | None) -> list[dict]:
    """Heavier anions: fewer mobile Na (three definitions), lower D, little change in Ea; B12H12 more than BH4."""
    t, settings = mass_settings(report, onbh)
    claim_mobile = "heavier anions reduce the mobile Na, with little change in Ea"
    claim_b12 = "the B12H12 mass matters more than the BH4 mass"
    if t is None:
        none = compare.ratio(levels.Level("heavier anions", None, reason="no mass experiment in this report"),
                             levels.Level(UNSCALED, None))
        return [_row(claim_mobile, "mobile Na, D and Ea with heavier anions", none, RULES["lower"], compare.NOT_RESOLVED),
                _row(claim_b12, "D and mobile Na with B12H12 heavier vs with BH4 heavier", none, RULES["lower"],
                     compare.NOT_RESOLVED)]
    rows = []
    for label in settings.values():
        for definition, text in DEFINITIONS.items():
            result = compare.fraction_difference(levels.fraction_counts(report, onbh, label, t, definition),
                                                 levels.fraction_counts(report, onbh, UNSCALED, t, definition))
            rows.append(_row(claim_mobile, f"mobile Na ({text}): {label} − unscaled at {t:g} K < 0", result,
                             RULES["lower"], compare.verdict(result, 0.0, "<"), found=_interval(result, "+.2f")))
        result = compare.ratio(levels.transport_level(report, onbh, label, t), levels.transport_level(report, onbh, UNSCALED, t))
        rows.append(_row(claim_mobile, f"D({label}) / D(unscaled) at {t:g} K < 1", result, RULES["lower"],
                         compare.verdict(result, 1.0, "<")))
        result = compare.difference(levels.ea_level(report, onbh, label), levels.ea_level(report, onbh, UNSCALED))
        rows.append(_row(claim_mobile, f"Ea({label}) − Ea(unscaled) within ±{EA_SAME_MARGIN_eV:g} eV", result,
                         RULES["same"], compare.equivalence_verdict(result, EA_SAME_MARGIN_eV),
                         found=_interval(result, "+.3f", "eV")))
    if "BH4" in settings and "B12H12" in settings:
        b12, bh4 = settings["B12H12"], settings["BH4"]
        result = compare.ratio(levels.transport_level(report, onbh, b12, t), levels.transport_level(report, onbh, bh4, t))
        rows.append(_row(claim_b12, f"D({b12}) / D({bh4}) at {t:g} K < 1", result, RULES["lower"],
                         compare.verdict(result, 1.0, "<")))
        for definition, text in DEFINITIONS.items():
            result = compare.fraction_difference(levels.fraction_counts(report, onbh, b12, t, definition),
                                                 levels.fraction_counts(report, onbh, bh4, t, definition))
            rows.append(_row(claim_b12, f"mobile Na ({text}): {b12} − {bh4} < 0", result, RULES["lower"],
                             compare.verdict(result, 0.0, "<"), found=_interval(result, "+.2f")))
    return rows


def _curve_at(temperatures_K, values, temperature_K: float) -> float | None:
    """Linear interpolation of a thermo.json curve (None entries: undefined) at T; None outside or undefined."""
    t = np.asarray(temperatures_K, dtype=float)
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    if not t.min() <= temperature_K <= t.max():
        return None
    out = float(np.interp(temperature_K, t, v))
    return out if np.isfinite(out) else None


def band_at(thermo: dict, temperature_K: float) -> tuple[float, float, float, str] | None:
    """(central, min, max) of the reaction dG of o-NBH (eV per formula unit) at T, and what the range spans:
    the band over modelling choices when thermo.json has one, else the one central curve (min = max)."""
    reaction = (thermo.get("band") or {}).get("reaction")
    if reaction:
        c, lo, hi = (_curve_at(reaction["temperatures_K"], reaction[k], temperature_K) for k in
                     ("dG_central_eV_per_fu", "dG_min_eV_per_fu", "dG_max_eV_per_fu"))
        if None in (c, lo, hi):
            return None
        return c, lo, hi, f"band over {thermo['band'].get('n_combinations')} combinations of modelling choices"
    reaction = thermo.get("reaction") or {}
    if not reaction.get("dG_curve_eV_per_fu"):
        return None
    c = _curve_at(reaction["temperatures_K"], reaction["dG_curve_eV_per_fu"], temperature_K)
    return None if c is None else (c, c, c, "one treatment (harmonic), no band")


def thermo_rows(thermo: dict | None, source: str | None) -> list[dict]:
    """o-NBH metastable: dG of NaBH4 + Na2B12H12 -> o-NBH above 0 over the band, at 300 K and the lowest MD T."""
    claim = "o-NBH is metastable (formation from NaBH4 + Na2B12H12 costs free energy)"
    rows = []
    for t in THERMO_TEMPERATURES_K:
        band = band_at(thermo, t) if thermo else None
        if band is None:
            result = {"estimate": None, "ci95": [None, None], "source": source, "n_runs": 0, "n_used": 0,
                      "reason": "no thermodynamics result" if not thermo else f"no dG at {t:g} K"}
            rows.append(_row(claim, f"dG({t:g} K) > 0", result, RULES["metastable"], compare.NOT_RESOLVED,
                             runs="-"))
            continue
        c, lo, hi, what = band
        result = {"estimate": c, "ci95": [lo, hi], "source": source, "spans": what, "n_runs": 1, "n_used": 1,
                  "reason": None}
        interval = f" [{lo:+.3f}, {hi:+.3f}]" if hi > lo else ""
        rows.append(_row(claim, f"dG({t:g} K) > 0", result, RULES["metastable"], compare.verdict(result, 0.0, ">"),
                         found=f"{c:+.3f}{interval} eV/f.u. ({what})", runs="-"))
    return rows


def mass_effects(report: dict, onbh: str | None) -> dict:
    """Each mass setting against unscaled at the mass experiment's temperature: D, mobile Na (3 definitions),
    hop rate, reorientation times and coupling factors per anion kind."""
    t, settings = mass_settings(report, onbh)
    if t is None:
        return {"temperature_K": None, "settings": [], "rows": []}
    kinds = sorted({k[len("reorientation_"):-len("_tau_1_ps")] for r in report["runs"] for k in r
                    if k.startswith("reorientation_") and k.endswith("_tau_1_ps")})
    quantities = [("D (ratio)", lambda m: levels.transport_level(report, onbh, m, t), "ratio")]
    quantities += [(f"mobile Na, {text} (difference)",
                    lambda m, d=d: levels.fraction_counts(report, onbh, m, t, d), "fraction")
                   for d, text in DEFINITIONS.items()]
    quantities.append(("hop rate (ratio)", lambda m: levels.hop_rate_level(report, onbh, m, t), "ratio"))
    for kind in kinds:
        for l in (1, 2):
            quantities.append((f"{kind} τ{l} (ratio)",
                               lambda m, k=kind, l=l: levels.reorientation_level(report, onbh, m, t, k, l), "ratio"))
    for kind in kinds:
        quantities.append((f"{kind} rotation-hop coupling factor (ratio)",
                           lambda m, k=kind: levels.coupling_level(report, onbh, m, t, k), "ratio"))
    rows = []
    for name, get, how in quantities:
        cells = {}
        for label in settings.values():
            if how == "fraction":
                cells[label] = compare.fraction_difference(get(label), get(UNSCALED))
            else:
                cells[label] = compare.ratio(get(label), get(UNSCALED))
        rows.append({"quantity": name, "cells": cells})
    return {"temperature_K": t, "settings": list(settings.values()), "rows": rows}


def evaluate(report: dict, thermo: dict | None = None, thermo_source: str | None = None) -> dict:
    """The claims rows and the mass-experiment effects of one report (and thermodynamics result)."""
    onbh = levels.find_structure(report, ONBH)
    rows = [*precursor_rows(report, onbh), *arrhenius_rows(report, onbh), *mass_rows(report, onbh),
            *slab_rows(report, onbh), *thermo_rows(thermo, thermo_source)]
    return json_ready({"structure": onbh, "rules": RULES, "claims": rows, "mass_effects": mass_effects(report, onbh)})


# -- tables ----------------------------------------------------------------------------------------------------------

def claims_table(result: dict) -> str:
    """One row per test: claim, test, what we found (95 % interval), runs, verdict; then the rules."""
    lines = ["| claim | test | found [95 % interval] | runs | verdict |", "|---|---|---|---|---|"]
    last = None
    for r in result["claims"]:
        claim = r["claim"] if r["claim"] != last else "〃"
        last = r["claim"]
        lines.append(f"| {claim} | {r['test']} | {r['found']} | {r['runs']} | {r['verdict']} |")
    used = list(dict.fromkeys(r["rule"] for r in result["claims"]))
    lines += ["", "Rules (95 % intervals; runs: used of total, first condition vs second):", ""]
    lines += [f"- {rule}" for rule in used]
    return "\n".join(lines)


def mass_effects_table(result: dict) -> str:
    """Each mass setting against unscaled: ratio or difference [95 % interval] (runs used of total, setting vs
    unscaled), or n/a and why."""
    effects = result["mass_effects"]
    if not effects["rows"]:
        return "No mass experiment in this report."
    settings = effects["settings"]
    lines = [f"| at {effects['temperature_K']:g} K, vs unscaled | " + " | ".join(settings) + " |",
             "|---|" + "---|" * len(settings)]
    for row in effects["rows"]:
        spec = "+.2f" if "difference" in row["quantity"] else ".3g"
        cells = [_interval(c, spec) + (f" ({_runs(c['a'])} vs {_runs(c['b'])})" if c["ci95"] != [None, None] else "")
                 for c in (row["cells"][s] for s in settings)]
        lines.append(f"| {row['quantity']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(result: dict, report_path: str, thermo_path: str | None) -> str:
    """claims.md: both tables with where the numbers come from."""
    return (f"# The study's claims\n\nFrom `{report_path}`" + (f" and `{thermo_path}`" if thermo_path else "")
            + " by `examples/study_cpu/claims.py`. Verdicts follow the rules under the table. The published "
            f"o-NBH structure has no Na in its {EMPTY_SLAB_KIND} slabs: that claim is tested on the fraction of the "
            f"Na time in the {EMPTY_SLAB_KIND} slabs (`sites.slabs` of the analyses), supported when its 95 % "
            f"interval lies below {SLAB_NONE_FRACTION:g}, contradicted when above; runs analysed without "
            "`sites.slabs` give n/a.\n\n" + claims_table(result)
            + "\n\n## The anion-mass experiment\n\n" + mass_effects_table(result) + "\n")


def default_thermo() -> Path | None:
    """The full thermodynamics result when complete, else the committed harmonic one (None if neither)."""
    full = HERE.parent / "structures" / "thermo_nabh_full" / "thermo.json"
    if full.is_file() and json.loads(full.read_text()).get("complete"):
        return full
    harmonic = HERE.parent / "structures" / "thermo_nabh" / "thermo.json"
    return harmonic if harmonic.is_file() else None


def document(report_path: Path, thermo_path: Path | None, out_dir: Path) -> dict:
    """claims.json's content: :func:`evaluate` with the inputs' paths relative to ``out_dir``."""
    rel = lambda p: Path(os.path.relpath(Path(p).resolve(), Path(out_dir).resolve())).as_posix()  # noqa: E731
    thermo_rel = rel(thermo_path) if thermo_path else None
    report = json.loads(Path(report_path).read_text())
    result = evaluate(report, json.loads(Path(thermo_path).read_text()) if thermo_path else None, thermo_rel)
    return {"report": rel(report_path), "thermo": thermo_rel, **result}


def write(report_path: Path, thermo_path: Path | None = None, out_dir: Path | None = None,
          write_readme: bool = False) -> dict:
    """Write claims.json and claims.md (``out_dir``: default the folder above the report's) and, with
    ``write_readme``, the ``claims`` and ``mass-effects`` blocks of README.md; returns the document."""
    thermo_path = thermo_path or default_thermo()
    out_dir = Path(out_dir or Path(report_path).resolve().parent.parent)
    result = document(report_path, thermo_path, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "claims.json").write_text(json.dumps(result, indent=2, allow_nan=False, ensure_ascii=False) + "\n")
    (out_dir / "claims.md").write_text(markdown(result, result["report"], result["thermo"]))
    if write_readme:
        changed = write_blocks(HERE / "README.md", readme_blocks(result))
        print(f"README.md {'rewritten' if changed else 'unchanged'}", file=sys.stderr)
    return result


def readme_blocks(result: dict) -> dict[str, str]:
    """The README's generated blocks of this script: ``claims`` and ``mass-effects``."""
    return {"claims": claims_table(result), "mass-effects": mass_effects_table(result)}


def main(argv: list[str] | None = None) -> int:
    """Write claims.json and claims.md, print both tables; optionally rewrite the README blocks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=HERE / "results512" / "report" / "report.json")
    parser.add_argument("--thermo", type=Path, default=None, help="thermo.json (default: see the module docstring)")
    parser.add_argument("--out", type=Path, default=None, help="folder of claims.json / claims.md")
    parser.add_argument("--write-readme", action="store_true", help="rewrite the generated blocks of README.md")
    args = parser.parse_args(argv)
    try:
        result = write(args.report, args.thermo, args.out, args.write_readme)
    except (ValueError, FileNotFoundError) as error:
        print(f"claims.py: {error}", file=sys.stderr)
        return 1
    print(claims_table(result) + "\n\n" + mass_effects_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
