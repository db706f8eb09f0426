#!/usr/bin/env python
"""Markdown tables of a ``python -m pydriver thermo`` result for the README, read from its thermo.json.

    .venv/bin/python examples/structures/thermo_tables.py [THERMO_JSON] [--write-readme]

THERMO_JSON defaults to ``thermo_nabh_full/thermo.json`` when that run is complete (it has a ``band``
and every phase of its spec), else to the committed harmonic ``thermo_nabh/thermo.json``; the file
used is printed on stderr. Tables (each a generated block ``<folder>.<table>`` of README.md, folder =
the thermo.json's folder):

* ``reaction``: the reaction dG(T) split into its contributions (static, harmonic vibrations, the
  imaginary-mode treatments, configurational, QHA and anharmonic corrections) at the spec's
  temperatures, in eV per formula unit and meV per atom, with the band over the modelling choices
  and the bracket of its sign change;
* ``hull``: the target's distance to the hull per temperature, with its band;
* ``phases``: per phase the calculation (relaxation, soft-mode steps, supercell, q-mesh convergence,
  remaining imaginary modes, wall time), and ``phase_energies``: E static, F_vib, the treatments,
  S_config and the QHA volumes.

Parts the file lacks (an older run, a run in progress, no QHA or MD) read "not computed".
``--write-readme`` rewrites the blocks in README.md (:mod:`pydriver.report.generated`); a block without
markers there is refused. tests/thermo/test_thermo_tables.py checks that every such block of README.md
is what this prints for the thermo.json its name gives.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FULL = HERE / "thermo_nabh_full" / "thermo.json"
HARMONIC = HERE / "thermo_nabh" / "thermo.json"
NOT = "not computed"
#: a value the file has but that is not defined there (QHA minimum outside the volumes, outside the MD range)
UNDEFINED = "undefined"


def _at(temperatures_K, values, t: float) -> float | None:
    """Curve (None entries: undefined) at ``t`` K by linear interpolation; None outside or undefined."""
    if values is None:
        return None
    grid = np.asarray(temperatures_K, dtype=float)
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    if not grid.min() - 1e-9 <= t <= grid.max() + 1e-9:
        return None
    out = float(np.interp(t, grid, v))
    return out if math.isfinite(out) else None


def _f(value, spec: str, missing: str = "-") -> str:
    return missing if value is None or not math.isfinite(value) else format(value, spec)


def _minutes(seconds) -> str:
    if seconds is None:
        return NOT
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _grid(record: dict) -> list | None:
    return (record.get("phonons") or record.get("gas") or {}).get("temperatures_K")


def _table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def reaction_table(data: dict, source: str) -> str:
    """dG of the reaction per contribution at the spec's temperatures, the band and its sign change."""
    r, phases, spec = data.get("reaction"), data.get("phases", {}), data.get("spec", {})
    if not r or any(n not in phases for n in r.get("coefficients", {})):
        return f"Reaction dG (`{source}`): {NOT} (no reaction in this file yet)."
    coef = r["coefficients"]
    atoms_fu = sum(c * phases[n]["n_atoms"] / phases[n]["n_formula_units"] for n, c in coef.items() if c > 0)
    temps = [float(t) for t in spec.get("temperatures_K", [300, 650])]
    contrib = r.get("contributions_eV_per_fu")
    has_config = any(p.get("configurational") for p in spec.get("phases", []))
    note = ""
    if contrib is None:  # an older file: harmonic (imaginary modes dropped) = dG - static - configurational
        config = r.get("dG_config_eV_per_fu") or ({} if has_config else {k: 0.0 for k in r["dG_eV_per_fu"]})
        contrib = {"static": r["dE_static_eV_per_fu"], "configurational": r.get("dG_config_eV_per_fu"),
                   "harmonic_vibrations": {k: v - r["dE_static_eV_per_fu"] - config[k]
                                           for k, v in r["dG_eV_per_fu"].items() if k in config}}
        note = (" This file has no split into contributions (an older run): its harmonic row is dG - static"
                + ("." if r.get("dG_config_eV_per_fu") else ", its spec has no configurational term."))
    floor = (spec.get("phonons") or {}).get("soft_mode_floor_THz", 0.5)

    def cell(value) -> str:
        return UNDEFINED if value is None else f"{value:+.3f} ({1e3 * value / atoms_fu:+.1f})"

    def row(label: str, values) -> list[str]:
        if values is None:
            return [label, *(NOT for _ in temps)]
        if isinstance(values, (int, float)):
            return [label, *(cell(values) for _ in temps)]
        return [label, *(cell(values[f"{t:g}K"]) if f"{t:g}K" in values else NOT for t in temps)]

    treatments = contrib.get("imaginary_treatments_minus_dropped") or {}
    rows = [row("static (no vibrations)", contrib.get("static")),
            row("harmonic vibrations (imaginary modes dropped)", contrib.get("harmonic_vibrations")),
            row("imaginary modes counted at abs(f): abs - dropped", treatments.get("abs")),
            row(f"imaginary modes raised to {floor:g} THz: floor - dropped", treatments.get("floor")),
            row("configurational, -T S_config as used", contrib.get("configurational") or None),
            row("QHA - harmonic", contrib.get("qha_minus_harmonic")) if not contrib.get("qha_left_out") else
            ["QHA - harmonic", *(f"left out for {', '.join(contrib['qha_left_out'])}: volume points in different "
                                 "minima" for _ in temps)],
            row("anharmonic (MD, Gibbs-Helmholtz) - harmonic", contrib.get("anharmonic_minus_harmonic")),
            row("**dG, central** (static + harmonic + configurational)", r.get("dG_eV_per_fu"))]
    band = (data.get("band") or {}).get("reaction")
    if band:
        t_band = band["temperatures_K"]
        lo, hi = band["dG_min_eV_per_fu"], band["dG_max_eV_per_fu"]
        rows.append([f"band over {data['band']['n_combinations']} combinations: min / max",
                     *(f"{cell(_at(t_band, lo, t))} / {cell(_at(t_band, hi, t))}" for t in temps)])
        bracket, ends = band.get("sign_change_bracket_K"), band.get("sign_change_bracket_open_ends", [False, False])
        span = f"{min(t_band):g}-{max(t_band):g} K"
        sign = ("the band contains 0 nowhere in " + span if not bracket else
                f"the band contains 0 from {bracket[0]:.0f} to {bracket[1]:.0f} K"
                + "".join(f" ({w} of the range)" for w, o in zip(("starts at the bottom", "runs to the top"), ends) if o))
        own = band.get("sign_change_K_over_combinations")
        sign += (f"; {band.get('n_combinations_with_sign_change', 0)} of {data['band']['n_combinations']} combinations "
                 "change sign" + (f", at {own[0]:.0f}-{own[1]:.0f} K" if own else ""))
    else:
        rows.append(["band over the modelling choices: min / max", *(NOT for _ in temps)])
        sign = f"band {NOT}"
    central = r.get("sign_change_K")
    t_r = r.get("temperatures_K") or [0, 1000]
    central = "none" if central is None else f"{central:.0f} K"
    sign = f"central curve: {central} in {min(t_r):g}-{max(t_r):g} K; {sign}"
    title = " ".join(f"{'-' if c < 0 else '+'} {'' if abs(c) == 1 else f'{abs(c):g} '}G({n})" for n, c in coef.items())
    title = title[2:] if title.startswith("+ ") else title
    return (f"dG = {title} (`{source}`), eV per formula unit (meV per atom, {atoms_fu:g} atoms per formula "
            "unit) by contribution:\n\n" + _table(["contribution", *(f"{t:g} K" for t in temps)], rows)
            + f"\n\nSign change of dG: {sign}.{note}")


def hull_table(data: dict, source: str) -> str:
    """The target's energy above the file's hulls and its signed distance to the hull of the other phases (band)."""
    spec, target = data.get("spec", {}), data.get("spec", {}).get("target")
    if not target:
        return f"Distance to the hull (`{source}`): {NOT} (no target in the spec)."
    hulls = data.get("e_above_hull_eV_atom") or {}
    hull_band = (data.get("band") or {}).get("hull")
    temps = {float(t) for t in spec.get("temperatures_K", [300, 650])}
    candidates = [target]
    if hull_band:
        line_t = (data["band"].get("line") or {}).get("temperatures_K", [])
        temps |= {float(t) for t in line_t if t in hull_band["temperatures_K"]}
        candidates = list(hull_band["candidates"])

    def above(key: str) -> str:
        value = (hulls.get(key) or {}).get(target)
        return NOT if not hulls else _f(None if value is None else 1e3 * value, "+.1f")

    def distance(name: str, t: float) -> str:
        if not hull_band:
            return NOT
        d, grid = hull_band["candidates"][name]["distance_meV_atom"], hull_band["temperatures_K"]
        c, lo, hi = (_at(grid, d[k], t) for k in ("central", "min", "max"))
        return f"{_f(c, '+.1f')} [{_f(lo, '+.1f')}, {_f(hi, '+.1f')}]"

    rows = [["static (no vibrations)", above("static"), *("-" for _ in candidates)]]
    rows += [[f"{t:g} K", above(f"{t:g}K"), *(distance(c, t) for c in candidates)] for t in sorted(temps)]
    header = ["T", f"{target}: E above the hull of all phases", *(f"{c}: distance to the hull of the other phases, "
                                                                   "central [min, max]" for c in candidates)]
    return (f"{target} against the hull (`{source}`), meV/atom (distance signed: > 0 above the hull; the band is "
            "over the modelling choices):\n\n" + _table(header, rows))


def _relaxation(r: dict) -> str:
    x = r.get("relaxation")
    if not x:
        return "-" if "gas" in r else "none"
    if x.get("converged"):
        return f"{x['steps']}, converged"
    how = "stalled" if x.get("stalled") else "not converged"  # stalled: energy constant, forces above the target
    return f"{x['steps']}, {how} ({x['max_force_eV_A']:.3f} eV/A)"


def _mesh(ph: dict) -> str:
    mesh = "x".join(str(n) for n in ph["mesh"])
    conv = ph.get("mesh_convergence") or {}
    if len(conv.get("meshes") or []) < 2:
        return f"{mesh} (ladder {NOT})"
    prev = "x".join(str(n) for n in conv["meshes"][-2]["mesh"])
    return f"{mesh}; {_f(conv['last_change_meV_per_atom']['dropped'], '+.2f')} vs {prev}"


def phases_table(data: dict, source: str) -> str:
    """Per phase: space group, relaxation, soft-mode steps, supercell, q-mesh, imaginary modes, compute time."""
    names = [p["name"] for p in data.get("spec", {}).get("phases", [])] or list(data.get("phases", {}))
    rows, walls = [], []
    for name in names:
        r = data.get("phases", {}).get(name)
        if r is None:
            rows.append([name, *(NOT for _ in range(8))])  # the 8 columns after the name
            continue
        seconds, partial = _compute_s(r)
        walls.append((seconds, partial))
        ph = r.get("phonons")
        steps = r.get("soft_mode_steps") or []
        followed = " -> ".join([s["space_group"] for s in steps] + [r["space_group"]]) if steps else "0"
        if ph:
            sc = ph["supercell"]
            supercell = f"{'x'.join(map(str, sc))} ({int(round(np.prod(sc) * r['n_atoms']))})"
            imaginary = (f"{ph['n_imaginary_gamma']} / {ph['n_imaginary_mesh']}"
                         + (f" ({ph['lowest_frequency_THz']:.2f} THz)" if ph["n_imaginary_mesh"] else ""))
            cells = [supercell, str(ph["n_displacements"]), _mesh(ph), imaginary]
        else:
            cells = ["ideal gas", "-", "-", "-"]
        rows.append([name, r.get("space_group", "-"), _relaxation(r), "-" if "gas" in r else followed, *cells,
                     ("≥ " if partial else "") + _minutes(seconds)])
    header = ["phase", "space group", "relaxation: steps", "imaginary Gamma modes followed", "supercell (atoms)",
              "displacements", "q-mesh; F_vib(300 K) change from the next coarser mesh (meV/atom)",
              "imaginary modes: Gamma / mesh (lowest)", "compute time"]
    done = len(walls)
    total = sum(w for w, _ in walls)
    return (f"Phases (`{source}`):\n\n" + _table(header, rows)
            + f"\n\nCompute time (one core): {'≥ ' if any(p for _, p in walls) else ''}{_minutes(total)} in all "
              f"({done} of {len(names)} phases): every relaxation and phonon force call a phase needed, QHA volume "
              "points included, summed over resumed runs; ≥: phonon forces reused from an interrupted run of an "
              "earlier version, which did not keep their time, are not counted.")


def _compute_s(record: dict) -> tuple[float, bool]:
    """(seconds of relaxations and force calls of a phase, QHA points included; whether some are missing)."""
    seconds = record.get("compute_s")
    if seconds is None:
        return float(record.get("wall_s") or 0.0), True
    qha = record.get("qha") or {}
    return float(seconds) + float(qha.get("compute_s") or 0.0), bool(record.get("compute_s_partial"))


def _treatments(r: dict, t: float) -> str:
    """``abs - dropped / floor - dropped`` of one phase at ``t`` K, meV/atom."""
    treat = r.get("free_energy_treatments_eV")
    if "gas" in r or not treat:
        return "-" if "gas" in r else NOT
    f = {k: _at(_grid(r), v, t) for k, v in treat.items()}
    return " / ".join(_f(None if f[k] is None or f["dropped"] is None else 1e3 * (f[k] - f["dropped"]) / r["n_atoms"],
                         "+.1f") for k in ("abs", "floor") if k in f)


def _s_config(r: dict, temps: list[float]) -> str:
    """Ideal and orderings S_config (k_B/atom), which one G uses; '-' for an ordered phase."""
    s = r.get("S_config_kB_per_atom")
    if s is None:
        return NOT
    used = {s.get("used"): " (used)"}
    parts = [f"ideal {s['ideal']:.3f}{used.get('ideal', '')}"] if s.get("ideal") is not None else []
    if s.get("orderings"):
        parts.append("orderings " + " / ".join(_f(s["orderings"].get(f"{t:g}K"), ".4f") for t in temps)
                     + used.get("orderings", ""))
    return "; ".join(parts) or "-"


def _qha_volumes(r: dict, temps: list[float]) -> str:
    """Relaxed volume -> QHA V(T) at ``temps`` (A^3)."""
    qha = r.get("qha")
    if "gas" in r or not qha:
        return "-" if "gas" in r else NOT
    v = [_f(_at(_grid(r), qha["volume_A3"]["dropped"], t), ".1f") for t in temps]
    left_out = "" if qha.get("one_minimum", True) else "; points in different minima: left out"
    return f"{r['lattice']['volume_A3']:.1f} -> {' / '.join(v)} ({len(qha['points'])} volumes, {qha['eos']}{left_out})"


def phase_energies_table(data: dict, source: str) -> str:
    """Per phase: E static, F_vib per temperature, the treatments' spread, S_config, QHA volumes."""
    spec = data.get("spec", {})
    temps = [float(t) for t in spec.get("temperatures_K", [300, 650])]
    names = [p["name"] for p in spec.get("phases", [])] or list(data.get("phases", {}))
    rows = []
    for name in names:
        r = data.get("phases", {}).get(name)
        if r is None:
            rows.append([name, *(NOT for _ in range(3 + 2 * len(temps)))])  # the columns after the name
            continue
        f_vib = [_at(_grid(r), r["free_energy_eV"], t) for t in temps]
        rows.append([name, f"{r['static_energy_per_atom_eV']:.5f}",
                     *(_f(None if f is None else (f - r["static_energy_eV"]) / r["n_atoms"], "+.4f") for f in f_vib),
                     *(_treatments(r, t) for t in temps), _s_config(r, temps), _qha_volumes(r, temps)])
    ts = " / ".join(f"{t:g}" for t in temps)
    header = ["phase", "E static (eV/atom)", *(f"F_vib {t:g} K (eV/atom)" for t in temps),
              *(f"abs / floor - dropped, {t:g} K (meV/atom)" for t in temps),
              f"S_config (k_B/atom; orderings at {ts} K)", f"volume (A^3): static -> QHA at {ts} K"]
    return (f"Free energies per phase (`{source}`; F_vib with imaginary modes dropped; for the gas G - E at 1 bar; "
            "a QHA volume '-': the minimum of G(V) lies outside the sampled volumes):\n\n" + _table(header, rows))


def tables(data: dict, source: str) -> dict[str, str]:
    """Table name -> markdown of one thermo.json (``source``: its path as the captions name it)."""
    return {"reaction": reaction_table(data, source), "hull": hull_table(data, source),
            "phases": phases_table(data, source), "phase_energies": phase_energies_table(data, source)}


def blocks(path: Path) -> dict[str, str]:
    """README block name (``<folder>.<table>``) -> markdown, for the thermo.json at ``path``."""
    path = Path(path).resolve()
    data = json.loads(path.read_text())
    return {f"{path.parent.name}.{k}": v for k, v in tables(data, _label(path)).items()}


def _label(path: Path) -> str:
    """``path`` relative to this folder (as the README names it) when inside it, else as it is."""
    path = Path(path).resolve()
    return path.relative_to(HERE).as_posix() if path.is_relative_to(HERE) else path.as_posix()


def complete(path: Path) -> str | None:
    """None if the thermo.json at ``path`` is complete (a band and every phase of its spec), else why not."""
    if not path.is_file():
        return "not there"
    data = json.loads(path.read_text())
    missing = [p["name"] for p in data.get("spec", {}).get("phases", []) if p["name"] not in data.get("phases", {})]
    if missing or not data.get("band"):
        return f"{'no band' if not data.get('band') else 'a band'}, {len(missing)} phases missing"
    return None


def default_path() -> tuple[Path, str]:
    """The full result when complete, else the committed harmonic one; and why."""
    why = complete(FULL)
    if why is None:
        return FULL, "the full run is complete"
    return HARMONIC, f"the full run {_label(FULL)} is not complete: {why}"


def main(argv: list[str] | None = None) -> int:
    """Print the tables; with ``--write-readme`` also rewrite their blocks in README.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("thermo_json", nargs="?", type=Path, help="default: the full run if complete, else thermo_nabh")
    parser.add_argument("--write-readme", action="store_true", help="rewrite the generated blocks of README.md")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    path, why = (args.thermo_json, "given") if args.thermo_json else default_path()
    if not path.is_file():
        print(f"error: {path} not found", file=sys.stderr)
        return 1
    print(f"thermo tables of {path} ({why})", file=sys.stderr)
    out = blocks(path)
    print("\n\n".join(out.values()))
    if args.write_readme:
        from pydriver.report.generated import write_blocks  # the report package imports the analysis (1-2 s)

        try:
            changed = write_blocks(args.readme, out)
        except ValueError as err:
            print(f"error: {args.readme.name}: {err}", file=sys.stderr)
            return 1
        print(f"{args.readme.name}: {'rewritten' if changed else 'unchanged'} ({', '.join(out)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
