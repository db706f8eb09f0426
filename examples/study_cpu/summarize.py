#!/usr/bin/env python
"""Markdown tables of the CPU study for the READMEs, read from the committed report (no hand copying).

    .venv/bin/python examples/study_cpu/summarize.py [examples/study_cpu/results512/report/report.json] [--write-readme]

Prints: per structure and temperature D, sigma (upper bounds marked), diffusive or why not, active
Na fraction and anion rotation rates; the Arrhenius fits (Ea, sigma at 300 K, or why there is
none); and the anion-mass experiment (one row per mass-factor combination at its temperature).
Values are those of ``report.json`` (= each run's ``analysis.json``; tests/sweep/test_study_cpu.py).
``--write-readme`` rewrites the ``runs``, ``arrhenius`` and ``mass`` blocks of README.md
(:mod:`pydriver.report.generated`); tests/sweep/test_study_results.py checks they are what this prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from pydriver.report.generated import write_blocks
from pydriver.report.markdown import bounded

HERE = Path(__file__).resolve().parent


def _pm(value, std, fmt: str = ".2g", std_fmt: str | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:{fmt}}" + (f" ± {std:{std_fmt or fmt}}" if std is not None else "")


def _rotation(row: dict, kind: str) -> str:
    return _pm(row.get(f"rotation_{kind}_rad_ps"), row.get(f"rotation_{kind}_std_rad_ps"), ".3g", ".2g")


def _rotation_tau(row: dict, kind: str) -> str:
    """``rate / tau_1``: rotation rate (rad/ps) and the first-order reorientation time (ps; ``> bound`` where the
    correlation function has not decayed within the run)."""
    rate = _rotation(row, kind)
    tau = row.get(f"reorientation_{kind}_tau_1_ps")
    if tau is not None:
        return f"{rate} / {_pm(tau, row.get(f'reorientation_{kind}_tau_1_std_ps'), '.2g')}"
    bound = row.get(f"reorientation_{kind}_tau_1_lower_bound_ps")
    return f"{rate} / > {bound:.3g}" if bound is not None else rate


def _run_name(row: dict) -> str:
    return Path(row["run_dir"]).name


def _active(row: dict) -> str:
    """Mobile Na under the three definitions (own MSD >= 21 A^2 / own D above the threshold / >= 2 net hops)."""
    n = row.get("active_n_ions")
    if not n:
        return f"{row['active_fraction']:.2f}"
    counts = [row.get(k) for k in ("active_fraction", "active_fraction_d_threshold", "fraction_hops")]
    return " / ".join("-" if c is None else str(round(c * n)) for c in counts) + f" of {n}"


def _hops(row: dict) -> str:
    if row.get("n_hops") is None:
        return "-"
    rate = _pm(row.get("hop_rate_per_ion_per_ps"), row.get("hop_rate_per_ion_per_ps_std"), ".2f")
    return f"{row['n_hops']} ({rate})" if row["n_hops"] else "0"


def _slab(row: dict) -> str:
    value = row.get("slab_time_B12H12")
    return "-" if value is None else f"{value:.2f}"


def _transport(row: dict, key: str, std_key: str, bound_key: str, fmt: str, std_fmt: str) -> str:
    """``value ± std`` (1 sigma) for a diffusive run; ``≤ bound (95 %)`` otherwise."""
    if row["diffusive"] is False and row.get(bound_key) is not None:
        return f"≤ {row[bound_key]:#{std_fmt}} (95 %)".replace(". ", " ")
    return bounded(row[key], row[std_key], "", fmt, std_fmt)


def runs_table(rows: list[dict]) -> str:
    """Unscaled runs, one row each: T, D, sigma, diffusive, mobile Na, hops, Na time in B12H12 slabs, rotation."""
    lines = ["| run | T (K): mean ± std of the instantaneous T | D (cm²/s): ± 1σ, or 95 % upper bound | "
             "σ (mS/cm) | Na MSD at fit end (Å²) | Na diffusive? (log-log slope of MSD − its vibrational offset) | mobile Na (own MSD ≥ 21 Å² / own D > 3.5e-7 "
             "cm²/s / ≥ 2 net hops) | Na hops in the run (per ion per ps) | fraction of Na time in B12H12 slabs | "
             "BH4 rotation (rad/ps) / τ1 (ps) | B12H12 rotation (rad/ps) / τ1 (ps) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted((r for r in rows if r["mass_factors"] == "unscaled"),
                    key=lambda r: (r["structure"], r["temperature_K"], _run_name(r))):
        slope = r.get("loglog_slope_minus_offset")
        why = (f"yes (slope {slope:.2f})" if slope is not None else "yes") if r["diffusive"] \
            else f"no ({_short_reason(r['not_diffusive_reason'])})"
        lines.append(f"| `{_run_name(r)}` | {r['measured_temperature_K']:.0f} ± "
                     f"{r['measured_temperature_std_K']:.0f} | "
                     f"{_transport(r, 'diffusivity_cm2_s', 'diffusivity_std_cm2_s', 'diffusivity_upper_bound_95_cm2_s', '.2e', '.1e')} | "
                     f"{_transport(r, 'conductivity_mS_cm', 'conductivity_std_mS_cm', 'conductivity_upper_bound_95_mS_cm', '.3g', '.2g')} | "
                     f"{r['msd_end_of_window_A2']:.3g} | {why} | {_active(r)} | {_hops(r)} | {_slab(r)} | "
                     f"{_rotation_tau(r, 'BH4')} | {_rotation_tau(r, 'B12H12')} |")
    return "\n".join(lines)


def _short_reason(reason: str | None) -> str:
    """'slope 0.65, MSD < 21 Å²' from the diagnostics' sentence (the MSD itself is its own column)."""
    if not reason:
        return "?"
    parts = []
    for clause in reason.split("; "):
        if clause.startswith("log-log MSD slope"):
            parts.append("slope " + clause.split()[3])
        elif clause.startswith("mean Na MSD"):
            parts.append("MSD < 21 Å²")
        elif clause.startswith("D not resolved from zero"):
            parts.append("D not resolved from zero")
        elif clause.startswith("reported as an upper bound"):
            continue
        else:
            parts.append(clause)
    return ", ".join(parts)


def arrhenius_table(groups: dict) -> str:
    """One row per group: points used, Ea with 95 % interval, sigma(300 K), or the reason for no fit."""
    lines = ["| group | diffusive points used | Ea (eV) [95 % interval] | σ(300 K) (mS/cm) [95 % interval] |", "|---|---|---|---|"]
    for name, g in groups.items():
        used = sum(p["included"] for p in g["points"])
        fit = g.get("fit")
        if fit is None:
            lines.append(f"| {name} | {used} of {len(g['points'])} | no fit: {g['fit_reason']} | |")
            continue
        ext = g["at_300K"]
        label = " (extrapolated)" if ext["extrapolated"] else ""
        lines.append(f"| {name} | {used} of {len(g['points'])} | {fit['ea_eV']:.2f} "
                     f"[{fit['ea_ci95_eV'][0]:.2f}, {fit['ea_ci95_eV'][1]:.2f}] | {ext['value']:.3g} "
                     f"[{ext['ci95_low']:.3g}, {ext['ci95_high']:.3g}]{label} |")
    return "\n".join(lines)


def mass_table(rows: list[dict]) -> str:
    """The mass experiment: rows at the temperature where more than one mass combination ran."""
    by_t: dict = {}
    for r in rows:
        by_t.setdefault((r["structure"], r["temperature_K"]), []).append(r)
    lines = ["| run | T (K) | mass factors | D (cm²/s): ± 1σ, or 95 % upper bound | Na MSD at fit end (Å²) | "
             "mobile Na (own MSD ≥ 21 Å² / own D > 3.5e-7 cm²/s / ≥ 2 net hops) | Na hops in the run (per ion per ps) | "
             "BH4 rotation (rad/ps) | B12H12 rotation (rad/ps) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (_structure, t), group in sorted(by_t.items()):
        if len({r["mass_factors"] for r in group}) < 2:  # replicates of one setting are no mass experiment
            continue
        for r in sorted(group, key=lambda r: (r["mass_factors"] != "unscaled", r["mass_factors"], _run_name(r))):
            lines.append(f"| `{_run_name(r)}` | {t:g} | {r['mass_factors']} | "
                         f"{_transport(r, 'diffusivity_cm2_s', 'diffusivity_std_cm2_s', 'diffusivity_upper_bound_95_cm2_s', '.2e', '.1e')} | "
                         f"{r['msd_end_of_window_A2']:.3g} | {_active(r)} | {_hops(r)} | {_rotation(r, 'BH4')} | "
                         f"{_rotation(r, 'B12H12')} |")
    if len(lines) == 2:
        return "No mass experiment in this report (no temperature with two mass settings)."
    return "\n".join(lines)


def _utc(iso: str | None) -> str:
    return "-" if not iso else iso[:16].replace("T", " ")


def status_table(results: Path) -> str:
    """Which of the sweep's runs (``sweep.json``) have finished (an ``analysis.json``), when each ran
    (``sweep_state.json``: the last start and the end, UTC) and the MD wall time of that last attempt."""
    sweep = json.loads((Path(results) / "sweep.json").read_text())
    lines = ["| run | status | start of its last attempt (UTC) | end (UTC) | wall time of that attempt |",
             "|---|---|---|---|---|"]
    done = 0
    for run in sweep["runs"]:
        run_dir = Path(results) / run["run_dir"]
        state_file = run_dir / "sweep_state.json"
        state = json.loads(state_file.read_text()) if state_file.is_file() else {}
        finished = (run_dir / "analysis.json").is_file()
        done += finished
        wall = "-"
        if finished and state.get("started_at") and state.get("finished_at"):
            start, end = (datetime.strptime(state[k], "%Y-%m-%dT%H:%M:%S%z") for k in ("started_at", "finished_at"))
            minutes = round((end - start).total_seconds() / 60)
            wall = f"{minutes // 60} h {minutes % 60:02d} min"
        lines.append(f"| `{run['name']}` | {'finished' if finished else 'not finished'} | "
                     f"{_utc(state.get('started_at')) if finished else '-'} | "
                     f"{_utc(state.get('finished_at')) if finished else '-'} | {wall} |")
    return f"Finished: {done} of {len(sweep['runs'])} runs.\n\n" + "\n".join(lines)


def tables(report: dict) -> dict[str, str]:
    """The README's generated blocks: ``runs``, ``arrhenius``, ``mass`` (name -> markdown table)."""
    return {"runs": runs_table(report["runs"]), "arrhenius": arrhenius_table(report["arrhenius"]),
            "mass": mass_table(report["runs"])}


def main(argv: list[str] | None = None) -> int:
    """Print the three tables; with ``--write-readme`` also rewrite their blocks in README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=HERE / "results512" / "report" / "report.json")
    parser.add_argument("--write-readme", action="store_true", help="rewrite the generated blocks of README.md")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    blocks = tables(json.loads(args.report.read_text()))
    print("### Runs (unscaled masses)\n\n" + blocks["runs"])
    print("\n### Arrhenius fits\n\n" + blocks["arrhenius"])
    print("\n### Anion-mass experiment\n\n" + blocks["mass"])
    if args.write_readme:
        changed = write_blocks(HERE / "README.md", blocks)
        print(f"README.md {'rewritten' if changed else 'unchanged'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
