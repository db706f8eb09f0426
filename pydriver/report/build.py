"""Combine many analysed runs (``analysis.json``) into one report: markdown, HTML, PNGs, JSON and CSV.

Runs are grouped by structure and anion mass factors; each group with >= 3 usable temperatures gets
a weighted Arrhenius fit (ln(sigma T) vs 1/T by default, :mod:`pydriver.report.arrhenius`) with Ea,
its bootstrap uncertainty and sigma at 300 K with a 95 % interval, marked extrapolated when outside
the fitted range. Active-Na fraction and anion rotation rate are plotted against the mass factor,
one series per structure, scaled anion kind and temperature. The mechanism (:mod:`pydriver.report.mechanism`)
adds a per-run table (hop rate, back jumps, correlation factor, hop-active Na, reorientation times,
coupling factors), a hop-rate Arrhenius fit per group as a second Ea next to the MSD one, and
figures of the hop-rate Arrhenius plot, reorientation times against mass factor, the coupling time
profile and the site occupancy. ``report.html`` inlines the plots.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

from pydriver.analysis.run_output import json_ready
from pydriver.report import plots
from pydriver.report.arrhenius import MIN_ARRHENIUS_POINTS, arrhenius_groups, unfitted_summary
from pydriver.report.html import markdown_to_html
from pydriver.report.markdown import report_markdown
from pydriver.report.mechanism import anion_kinds, hop_rate_groups
from pydriver.report.replicates import replicate_conditions, write_pooled_msd
from pydriver.report.rows import find_analyses, run_row
from pydriver.rundir import REPORT_FORMAT

log = logging.getLogger(__name__)

__all__ = ["MIN_ARRHENIUS_POINTS", "arrhenius_groups", "build_report", "find_analyses", "run_row"]

#: the fitted quantity per Arrhenius mode, as log lines name it
ARRHENIUS_QUANTITY = {"sigma_T": "sigma*T", "D": "D"}


def _mass_series(rows: list[dict], column: str, err_column: str | None) -> dict:
    """label -> (mass factors, values, errors): one series per structure, temperature and scaled anion
    kind(s), only where that temperature has scaled runs; each series starts at the unscaled run of the
    same structure and temperature (temperature series without a mass experiment give none)."""
    series: dict = {}
    groups: dict = {}
    for row in rows:
        if row.get(column) is not None:
            groups.setdefault((row["structure"], row["temperature_K"]), []).append(row)
    for (structure, temperature_K), members in groups.items():
        unscaled = [r for r in members if r["scaled_anions"] == "none"]
        for kind in sorted({r["scaled_anions"] for r in members} - {"none"}):
            points = sorted(unscaled + [r for r in members if r["scaled_anions"] == kind],
                            key=lambda r: r["mass_factor"])
            label = f"{structure}, {kind.replace('+', ' + ')} scaled, {temperature_K:g} K"
            series[label] = ([r["mass_factor"] for r in points], [r[column] for r in points],
                             [r.get(err_column) if err_column else None for r in points])
    return series


def _run_label(r: dict) -> str:
    return f"{r['structure']}, {r['mass_factors']}, {r['temperature_K']:g} K"


def _mechanism_figures(out_dir: Path, rows: list[dict], hop_groups: dict) -> dict:
    """Hop-rate Arrhenius, reorientation times vs mass factor, coupling profiles, site occupancy, the ions'
    density along the slab-stacking axis."""
    figures = {}
    if any(p["included"] or p.get("upper_bound") for g in hop_groups.values() for p in g["points"]):
        figures["hop_rate_arrhenius"] = plots.plot_arrhenius(out_dir / "hop_rate_arrhenius.png", hop_groups,
                                                             "hop_rate").name
    if len({r["mass_factor"] for r in rows}) > 1:
        series = {}
        for kind in anion_kinds(rows):
            for l in (1, 2):
                col = f"reorientation_{kind}_tau_{l}_ps"
                for name, s in _mass_series(rows, col, col.replace("_ps", "_std_ps")).items():
                    series[f"{kind} τ{l}, {name}"] = s
        if series:
            figures["reorientation_vs_mass"] = plots.plot_vs_mass_factor(
                out_dir / "reorientation_vs_mass.png", series, "reorientation time (ps)", log_y=True).name
    profiles = {f"{_run_label(r)}, {kind}": p for r in rows for kind, p in (r.get("coupling_profiles") or {}).items()
                if any(v is not None for v in p.get("hop_rate_ratio") or [])}
    if profiles:
        figures["coupling_profile"] = plots.plot_coupling_profile(out_dir / "coupling_profile.png", profiles).name
    best: dict = {}  # per group, the run with the most hops
    for r in rows:
        if r.get("site_occupancy"):
            key = (r["structure"], r["mass_factors"])
            if key not in best or (r.get("n_hops") or 0) > (best[key].get("n_hops") or 0):
                best[key] = r
    if best:
        panels = {_run_label(r): r["site_occupancy"] for _, r in sorted(best.items())}
        figures["site_occupancy"] = plots.plot_site_occupancy(out_dir / "site_occupancy.png", panels).name
    first: dict = {}  # per condition, its first run with a profile along the stacking axis
    for r in sorted(rows, key=lambda r: (r["structure"], r["mass_factor"], r["temperature_K"], r["run_dir"])):
        if r.get("slab_profile"):
            first.setdefault((r["structure"], r["mass_factor"], r["temperature_K"]), r)
    if first:
        panels = {f"{_run_label(r)} ({Path(r['run_dir']).name})": r["slab_profile"] for r in first.values()}
        figures["slab_profile"] = plots.plot_slab_profile(out_dir / "slab_profile.png", panels).name
    return figures


def _figures(out_dir: Path, rows: list[dict], groups: dict, mode: str, hop_groups: dict) -> dict:
    figures = {"arrhenius": plots.plot_arrhenius(out_dir / "arrhenius.png", groups, mode).name}
    figures.update(_mechanism_figures(out_dir, rows, hop_groups))
    if len({r["mass_factor"] for r in rows}) > 1:
        figures["active_vs_mass"] = plots.plot_vs_mass_factor(
            out_dir / "active_vs_mass.png", _mass_series(rows, "active_fraction", None), "active Na fraction",
            fraction=True).name
        rot_cols = sorted({k for r in rows for k in r if k.startswith("rotation_") and "_std_" not in k})
        series = {}
        for col in rot_cols:
            kind = col[len("rotation_"):-len("_rad_ps")]
            for name, s in _mass_series(rows, col, col.replace("_rad_ps", "_std_rad_ps")).items():
                series[f"{kind} rotation, {name}"] = s
        if series:
            figures["rotation_vs_mass"] = plots.plot_vs_mass_factor(out_dir / "rotation_vs_mass.png", series,
                                                                    "anion rotation rate (rad/ps)").name
    return figures


def build_report(paths, out_dir, mode: str = "sigma_T", n_bootstrap: int = 2000) -> dict:
    """Write ``report.md``, ``report.html``, ``report.json``, ``report.csv`` and PNGs into ``out_dir``.

    Parameters
    ----------
    paths : run directories or folders containing them.
    out_dir : output folder (created).
    mode : Arrhenius mode, ``"sigma_T"`` (default) or ``"D"``.
    n_bootstrap : bootstrap resamples for Ea.

    Returns
    -------
    dict -- the content of ``report.json``; each run's ``run_dir`` is relative to ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [run_row(p) for p in find_analyses(paths)]
    for row in rows:  # relative to the report folder: a report committed or moved with its runs stays valid
        row["run_dir"] = os.path.relpath(Path(row["run_dir"]).resolve(), out_dir.resolve())
    groups = arrhenius_groups(rows, mode, n_bootstrap)
    conditions = replicate_conditions(rows)
    by_dir = {r["run_dir"]: r for r in rows}
    for condition in conditions:
        condition["msd_csv"] = write_pooled_msd(condition, by_dir, out_dir, out_dir)
    hop_groups = hop_rate_groups(rows, n_bootstrap)
    for fitted, quantity in ((groups, ARRHENIUS_QUANTITY[mode]), (hop_groups, "hop rate")):
        summary = unfitted_summary(fitted, quantity)
        if summary:
            log.log(*summary)
    figures = _figures(out_dir, rows, groups, mode, hop_groups)
    warnings = [w for g in (*groups.values(), *hop_groups.values()) for w in g["warnings"]]
    report = {"format": REPORT_FORMAT, "runs": rows, "arrhenius": groups, "hop_rate_arrhenius": hop_groups,
              "replicates": conditions, "figures": figures, "warnings": warnings}
    (out_dir / "report.json").write_text(json.dumps(json_ready(report), indent=2, allow_nan=False))
    _write_rows_csv(out_dir / "report.csv", rows)
    markdown = report_markdown(rows, groups, figures, mode, conditions, hop_groups)
    (out_dir / "report.md").write_text(markdown)
    (out_dir / "report.html").write_text(markdown_to_html(markdown, out_dir))
    log.info("report of %d runs written to %s", len(rows), out_dir)
    return report


def _write_rows_csv(path: Path, rows: list[dict]) -> None:
    flat = [{k: (json.dumps(v, sort_keys=True) if isinstance(v, dict) else v) for k, v in r.items()} for r in rows]
    names = list(dict.fromkeys(k for r in flat for k in r))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        writer.writerows(flat)
