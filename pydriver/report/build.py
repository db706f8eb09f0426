"""Combine many analysed runs (``analysis.json``) into one report: markdown, PNGs, JSON and CSV.

Runs are grouped by formula and anion mass factors; each group with >= 3 temperatures gets an
Arrhenius fit (ln(sigma T) vs 1/T by default) with Ea, its bootstrap uncertainty and sigma
extrapolated to 300 K with a 95 % interval. Active-Na fraction and anion rotation speed are plotted
against the mass factor, one series per temperature and scaled anion kind.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np

from pydriver.report import plots
from pydriver.rundir import ANALYSIS_FILE, REPORT_FORMAT
from pydriver.analysis.diffusion import extrapolate_arrhenius, fit_arrhenius

log = logging.getLogger(__name__)

MIN_ARRHENIUS_POINTS = 3
EXTRAPOLATION_TEMPERATURE_K = 300.0


def find_analyses(paths) -> list[Path]:
    """``analysis.json`` files in the given run directories or below the given folders."""
    found = []
    for p in map(Path, paths):
        if p.is_file() and p.name == ANALYSIS_FILE:
            found.append(p)
        elif (p / ANALYSIS_FILE).is_file():
            found.append(p / ANALYSIS_FILE)
        elif p.is_dir():
            found.extend(sorted(p.rglob(ANALYSIS_FILE)))
        else:
            raise FileNotFoundError(f"not a run directory or folder: {p}")
    if not found:
        raise FileNotFoundError(f"no {ANALYSIS_FILE} under {[str(p) for p in paths]}; run `analyze` first")
    return sorted(set(found))


def _mass_key(mass_factors: dict) -> tuple[str, float]:
    """(scaled anion kinds, factor): ``("B12H12", 5.0)``; unscaled runs give ``("none", 1.0)``."""
    scaled = {k: float(v) for k, v in (mass_factors or {}).items() if float(v) != 1.0}
    if not scaled:
        return "none", 1.0
    return "+".join(sorted(scaled)), max(scaled.values())


def run_row(path: Path) -> dict:
    """One table row (flat, unit-suffixed) from an ``analysis.json``."""
    data = json.loads(path.read_text())
    run, tr = data["run"], data["transport"]
    scaled, factor = _mass_key(run.get("mass_factors"))
    row = {"run_dir": str(path.parent), "formula": run.get("formula") or "", "temperature_K": run["temperature_K"],
           "mass_factors": json.dumps(run.get("mass_factors") or {}, sort_keys=True), "scaled_anions": scaled,
           "mass_factor": factor}
    for key in ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "conductivity_mS_cm", "conductivity_std_mS_cm",
                "charge_diffusivity_cm2_s", "haven_ratio", "haven_ratio_std", "mean_volume_A3"):
        row[key] = tr.get(key)
    row["active_fraction"] = data["active"]["active_fraction"]
    for kind, rot in data.get("rotation", {}).items():
        row[f"rotation_{kind}_rad_ps"] = rot["rotation_rate_rad_ps"]
        row[f"rotation_{kind}_std_rad_ps"] = rot["rotation_rate_std_rad_ps"]
    return row


def arrhenius_groups(rows: list[dict], mode: str = "sigma_T", n_bootstrap: int = 2000) -> dict:
    """Arrhenius fit per (formula, mass factors) group with enough temperatures."""
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["formula"], row["mass_factors"]), []).append(row)
    out = {}
    for (formula, masses), members in groups.items():
        members = sorted(members, key=lambda r: r["temperature_K"])
        t = np.array([r["temperature_K"] for r in members])
        key = "conductivity" if mode == "sigma_T" else "diffusivity"
        unit = "mS_cm" if mode == "sigma_T" else "cm2_s"
        v = np.array([r[f"{key}_{unit}"] for r in members])
        err = np.array([r[f"{key}_std_{unit}"] or 0.0 for r in members])
        entry = {"formula": formula, "mass_factors": json.loads(masses), "temperature_K": t.tolist(),
                 "value": v.tolist(), "error": err.tolist(), "mode": mode, "fit": None}
        if np.unique(t).size >= MIN_ARRHENIUS_POINTS and np.all(v > 0):
            fit = fit_arrhenius(t, v, err if np.all(err > 0) else None, mode, n_bootstrap)
            entry["fit"] = fit.as_dict()
            ext = extrapolate_arrhenius(fit, EXTRAPOLATION_TEMPERATURE_K)
            name = "conductivity_300K_mS_cm" if mode == "sigma_T" else "diffusivity_300K_cm2_s"
            entry["fit"][name] = ext["value"]
            entry["fit"][name.replace("_300K", "_300K_ci95_low")] = ext["ci95_low"]
            entry["fit"][name.replace("_300K", "_300K_ci95_high")] = ext["ci95_high"]
        out[f"{formula} {masses}"] = entry
    return out


def _mass_series(rows: list[dict], column: str, err_column: str | None) -> dict:
    series: dict = {}
    for row in rows:
        if row.get(column) is None:
            continue
        kinds = [row["scaled_anions"]] if row["scaled_anions"] != "none" else sorted(
            {r["scaled_anions"] for r in rows if r["scaled_anions"] != "none"}) or ["none"]
        for kind in kinds:
            x, y, e = series.setdefault(f"{row['formula']} {kind} scaled, {row['temperature_K']:g} K", ([], [], []))
            x.append(row["mass_factor"])
            y.append(row[column])
            e.append(row.get(err_column) if err_column else None)
    return series


def build_report(paths, out_dir, mode: str = "sigma_T", n_bootstrap: int = 2000) -> dict:
    """Write ``report.md``, ``report.json``, ``report.csv`` and PNGs into ``out_dir``.

    Parameters
    ----------
    paths : run directories or folders containing them.
    out_dir : output folder (created).
    mode : Arrhenius mode, ``"sigma_T"`` (default) or ``"D"``.
    n_bootstrap : bootstrap resamples for Ea.

    Returns
    -------
    dict -- the content of ``report.json``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [run_row(p) for p in find_analyses(paths)]
    groups = arrhenius_groups(rows, mode, n_bootstrap)
    figures = {"arrhenius": plots.plot_arrhenius(out_dir / "arrhenius.png", groups, mode).name}
    if len({r["mass_factor"] for r in rows}) > 1:
        figures["active_vs_mass"] = plots.plot_vs_mass_factor(
            out_dir / "active_vs_mass.png", _mass_series(rows, "active_fraction", None), "active Na fraction").name
        rot_cols = sorted({k for r in rows for k in r if k.startswith("rotation_") and "_std_" not in k})
        series = {}
        for col in rot_cols:
            kind = col[len("rotation_"):-len("_rad_ps")]
            for name, s in _mass_series(rows, col, col.replace("_rad_ps", "_std_rad_ps")).items():
                series[f"{kind} rotation, {name}"] = s
        if series:
            figures["rotation_vs_mass"] = plots.plot_vs_mass_factor(out_dir / "rotation_vs_mass.png", series,
                                                                    "rotation speed (rad/ps)").name
    report = {"format": REPORT_FORMAT, "runs": rows, "arrhenius": groups, "figures": figures}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    _write_rows_csv(out_dir / "report.csv", rows)
    (out_dir / "report.md").write_text(_markdown(rows, groups, figures, mode))
    log.info("report of %d runs written to %s", len(rows), out_dir)
    return report


def _write_rows_csv(path: Path, rows: list[dict]) -> None:
    names = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)


def _fmt(value, spec: str = ".3g") -> str:
    return "" if value is None else format(value, spec)


def _markdown(rows: list[dict], groups: dict, figures: dict, mode: str) -> str:
    lines = ["# Transport report", "", f"{len(rows)} runs.", "", "## Runs", "",
             "| formula | mass factors | T (K) | D (cm^2/s) | sigma (mS/cm) | Haven ratio | active Na fraction |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["formula"], r["mass_factors"], r["temperature_K"])):
        lines.append(f"| {r['formula']} | {r['mass_factors']} | {r['temperature_K']:g} | "
                     f"{_fmt(r['diffusivity_cm2_s'])} ± {_fmt(r['diffusivity_std_cm2_s'], '.2g')} | "
                     f"{_fmt(r['conductivity_mS_cm'])} ± {_fmt(r['conductivity_std_mS_cm'], '.2g')} | "
                     f"{_fmt(r['haven_ratio'])} | {_fmt(r['active_fraction'])} |")
    lines += ["", f"## Arrhenius fits ({'ln(sigma T)' if mode == 'sigma_T' else 'ln D'} vs 1/T)", "",
              "| group | Ea (eV) | Ea 95% CI (eV) | value at 300 K | 95% CI at 300 K |", "|---|---|---|---|---|"]
    for name, g in groups.items():
        fit = g["fit"]
        if fit is None:
            lines.append(f"| {name} | fewer than {MIN_ARRHENIUS_POINTS} temperatures | | | |")
            continue
        key = "conductivity_300K_mS_cm" if mode == "sigma_T" else "diffusivity_300K_cm2_s"
        lo, hi = fit[key.replace("_300K", "_300K_ci95_low")], fit[key.replace("_300K", "_300K_ci95_high")]
        lines.append(f"| {name} | {fit['ea_eV']:.3f} ± {fit['ea_std_eV']:.3f} | {fit['ea_ci95_eV'][0]:.3f} to "
                     f"{fit['ea_ci95_eV'][1]:.3f} | {fit[key]:.3g} ({key}) | {lo:.3g} to {hi:.3g} |")
    lines += ["", "## Figures", ""] + [f"![{name}]({fname})" for name, fname in figures.items()]
    return "\n".join(lines) + "\n"
