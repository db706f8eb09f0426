"""Uncertainty band of the phase stability over the modelling choices: the reaction dG(T), the
target's distance to the hull and its place on a compositional line, as min / max over every
combination of treatments.

A phase's free energy is given per treatment (:class:`PhaseCurves`): the vibrational model
(``harmonic``, ``qha``, ``anharmonic``), the treatment of imaginary modes (``dropped``, ``abs``,
``floor``) and the configurational term (``none``, ``ideal``, ``orderings``). A combination picks one
of each for all phases at once (a phase without that choice keeps its harmonic / first /
no-configurational value), and one phase for each role that has alternatives (e.g. two NaBH4
models, several o-NBH orderings). The band is the envelope of the combinations; the central curve
is the harmonic, ``dropped`` one with each phase's configurational choice (``central_config``).

The sign change of dG(T) can lie wherever the band contains zero: ``sign_change_bracket_K`` is the
first and last temperature (linear interpolation at the edges) at which dG_min <= 0 <= dG_max; it
is conservative (the envelope, not one combination) and ``open_ends`` says whether the bracket
runs into the ends of the range.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pydriver.thermo.hull import sign_change_temperature

VIB_MODELS = ("harmonic", "qha", "anharmonic")
IMAGINARY = ("dropped", "abs", "floor")
CONFIG = ("none", "ideal", "orderings")


@dataclass
class PhaseCurves:
    """Free energy of one phase's cell under each treatment, on a common temperature grid.

    Attributes
    ----------
    formula : formula of the cell (e.g. ``"Na12B52H64"``).
    n_atoms, n_formula_units : atoms and formula units in the cell.
    vib : model -> treatment -> (n_T,) E_static + F_vib (or gas G) per cell, in eV (NaN where the
        model has no value); must hold ``harmonic``.
    config : choice -> (n_T,) -T S_config per cell, in eV (``none`` is implied).
    central_config : the configurational choice of the central curve (``none`` without data).
    """

    formula: str
    n_atoms: int
    n_formula_units: float
    vib: dict
    config: dict = field(default_factory=dict)
    central_config: str = "none"

    def free_energy(self, model: str, treatment: str, config: str) -> np.ndarray:
        """G per cell (eV) for one combination, falling back as the module docstring says."""
        by_treatment = self.vib.get(model, self.vib["harmonic"])
        curve = by_treatment.get(treatment, next(iter(by_treatment.values())))
        return np.asarray(curve, dtype=float) + np.asarray(self.config.get(config, 0.0), dtype=float)


def _choices(phases: Mapping[str, PhaseCurves]) -> dict[str, list[str]]:
    models = [m for m in VIB_MODELS if any(m in p.vib for p in phases.values())]
    treatments = [t for t in IMAGINARY if any(t in v for p in phases.values() for v in p.vib.values())]
    config = ["none"] + [c for c in CONFIG[1:] if any(c in p.config for p in phases.values())]
    return {"vibrations": models, "imaginary": treatments or ["dropped"], "configurational": config}


def sign_change_bracket(temperatures_K, lower, upper) -> tuple[list[float] | None, list[bool]]:
    """Temperatures at which the band [lower, upper] contains zero: ([first, last] K or None, open_ends).

    Edges are interpolated linearly between grid points; ``open_ends`` = [bracket starts at the first
    grid temperature, bracket ends at the last] (the sign change may lie beyond the range there).
    NaN values (no data) count as not containing zero.
    """
    t = np.asarray(temperatures_K, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    with np.errstate(invalid="ignore"):
        inside = (lo <= 0.0) & (hi >= 0.0)
    if not inside.any():
        return None, [False, False]
    k0, k1 = int(np.flatnonzero(inside)[0]), int(np.flatnonzero(inside)[-1])

    def crossing(k: int, j: int) -> float:
        """Where the violated bound between grid points k (outside) and j (inside) reaches zero."""
        y = lo if lo[k] > 0 else hi
        return float(t[k] + (0.0 - y[k]) * (t[j] - t[k]) / (y[j] - y[k]))

    start = float(t[k0]) if k0 == 0 or np.isnan(lo[k0 - 1] + hi[k0 - 1]) else crossing(k0 - 1, k0)
    end = float(t[k1]) if k1 == t.size - 1 or np.isnan(lo[k1 + 1] + hi[k1 + 1]) else crossing(k1 + 1, k1)
    return [start, end], [k0 == 0, k1 == t.size - 1]


def _hull_energy_per_atom(free_energies_eV: Mapping[str, float], compositions: Mapping[str, str], formula: str) -> float:
    """Lower convex hull of G per atom of the given phases at the composition ``formula``, in eV/atom."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram  # heavy: pymatgen
    from pymatgen.core import Composition

    entries = [PDEntry(Composition(compositions[n]), float(g), name=n) for n, g in free_energies_eV.items()]
    return float(PhaseDiagram(entries).get_hull_energy_per_atom(Composition(formula)))


def line_coordinates(formula: str, endpoint_formulas: Sequence[str]) -> tuple[float, np.ndarray] | None:
    """Place ``formula`` on the line between two endpoints: (x, (a, b)) with formula = a E1 + b E2 per
    formula unit of each and x = atoms from E2 / all atoms; None if it is not on the line."""
    from pymatgen.core import Composition  # heavy: pymatgen

    comps = [Composition(f) for f in (formula, *endpoint_formulas)]
    elements = sorted({str(e) for c in comps for e in c.elements})
    m = np.array([[c[e] for e in elements] for c in comps[1:]]).T  # (n_el, 2)
    target = np.array([comps[0][e] for e in elements])
    coef, *_ = np.linalg.lstsq(m, target, rcond=None)
    if np.any(coef < -1e-9) or not np.allclose(m @ coef, target, atol=1e-6):
        return None
    atoms = coef * np.array([comps[1].num_atoms, comps[2].num_atoms])
    return float(atoms[1] / atoms.sum()), coef


def stability_band(phases: Mapping[str, PhaseCurves], temperatures_K, reaction: Mapping[str, float] | None,
                   target: str | None, alternatives: Mapping[str, Sequence[str]] | None = None,
                   hull_temperatures_K: Sequence[float] | None = None, line: Sequence[str] | None = None,
                   line_temperatures_K: Sequence[float] | None = None) -> dict:
    """Band of dG(T), the target's signed distance to the hull and its line coordinate over all combinations.

    Parameters
    ----------
    phases : name -> :class:`PhaseCurves` on ``temperatures_K``.
    temperatures_K : (n_T,) the curves' grid, in K.
    reaction : phase (role) -> coefficient per formula unit (products > 0), or None.
    target : the phase (role) whose distance to the hull is banded, or None.
    alternatives : role -> other phases that may stand for it (each combination takes one).
    hull_temperatures_K : temperatures of the hull band (default every 50 K of the grid).
    line : two phases (roles) spanning the compositional line of the diagram (default: the two
        reactants of ``reaction``, if it has two).
    line_temperatures_K : temperatures of the diagram's points (default 0 K and every 300 K).

    Returns
    -------
    JSON-ready dict: ``choices`` (the axes), ``n_combinations``; ``reaction`` with ``temperatures_K``,
    ``dG_central/min/max_eV_per_fu``, ``sign_change_bracket_K``, ``sign_change_bracket_open_ends``,
    ``sign_change_K_over_combinations`` ([min, max] of the combinations' own sign changes, None if
    none has one), ``n_combinations_with_sign_change``, ``by_choice`` (axis -> choice -> dG at the
    line temperatures, other axes central); ``hull`` with per target candidate ``distance_meV_atom``
    (signed: G minus the hull of the other phases; > 0 above it) and ``e_above_hull_meV_atom``
    (max(distance, 0)) as central / min / max on ``temperatures_K``; ``line`` with the endpoints and,
    per phase on the line, ``x``, ``formula_units_of_endpoints`` (per formula unit of the phase) and
    ``dG_mix_meV_atom`` (G per atom minus the endpoints' line)
    central / min / max at ``line_temperatures_K``.

    Raises
    ------
    ValueError if a role, alternative or line phase is unknown or alternatives differ in composition.
    """
    from pymatgen.core import Composition  # heavy: pymatgen

    temps = np.asarray(temperatures_K, dtype=float)
    alternatives = {role: [role, *alts] for role, alts in (alternatives or {}).items()}
    for role, names in alternatives.items():
        bad = [n for n in names if n not in phases]
        if bad:
            raise ValueError(f"band alternatives {bad} for {role!r} are not phases; phases: {sorted(phases)}")
        reduced = {Composition(phases[n].formula).reduced_composition for n in names}
        if len(reduced) > 1:
            raise ValueError(f"band alternatives for {role!r} differ in composition: {sorted(map(str, reduced))}")
    all_alts = {n for names in alternatives.values() for n in names[1:]}
    choices = _choices(phases)
    roles = list(alternatives)
    axes = [choices["vibrations"], choices["imaginary"], choices["configurational"], *(alternatives[r] for r in roles)]
    hull_t = np.asarray(hull_temperatures_K if hull_temperatures_K is not None else temps[np.isclose(temps % 50, 0)],
                        dtype=float)
    line_t = [float(t) for t in (line_temperatures_K if line_temperatures_K is not None else [0.0, 300.0, 600.0, 900.0])]
    if line is None and reaction and sum(c < 0 for c in reaction.values()) == 2:
        line = [p for p, c in reaction.items() if c < 0]
    for name in [*(reaction or {}), *([target] if target else []), *(line or [])]:
        if name not in phases:
            raise ValueError(f"band: {name!r} is not a phase; phases: {sorted(phases)}")

    def curves(combo: tuple, central: bool = False) -> dict[str, np.ndarray]:
        model, treatment, config, *picked = combo
        chosen = dict(zip(roles, picked))
        out = {}
        for name, p in phases.items():
            if name in all_alts:
                continue
            source = phases[chosen.get(name, name)]
            out[name] = source.free_energy(model, treatment, source.central_config if central else config)
        return out

    central_combo = ("harmonic", "dropped", "central", *(alternatives[r][0] for r in roles))
    combos = list(itertools.product(*axes))
    evaluated = [curves(c) for c in combos]
    central = curves(central_combo, central=True)
    result: dict = {"choices": {**choices, "alternatives": alternatives}, "n_combinations": len(combos)}

    if reaction:
        def dg(g: dict) -> np.ndarray:
            return sum(c * g[p] / phases[p].n_formula_units for p, c in reaction.items())

        stack = np.array([dg(g) for g in evaluated])
        lower, upper = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)
        bracket, open_ends = sign_change_bracket(temps, lower, upper)
        own = [_first_sign_change(temps, row) for row in stack]
        own = [t for t in own if t is not None]
        by_choice = {}
        for k, axis in enumerate(("vibrations", "imaginary", "configurational", *roles)):
            by_choice[axis] = {}
            for value in axes[k]:
                combo = list(central_combo)
                combo[k] = value
                curve = dg(curves(tuple(combo), central=(k != 2)))
                by_choice[axis][str(value)] = {f"{t:g}K": _at(temps, curve, t) for t in line_t}
        result["reaction"] = {
            "temperatures_K": temps.tolist(), "dG_central_eV_per_fu": dg(central).tolist(),
            "dG_min_eV_per_fu": lower.tolist(), "dG_max_eV_per_fu": upper.tolist(),
            "sign_change_bracket_K": bracket, "sign_change_bracket_open_ends": open_ends,
            "sign_change_K_over_combinations": [min(own), max(own)] if own else None,
            "n_combinations_with_sign_change": len(own), "by_choice": by_choice}

    comps = {n: p.formula for n, p in phases.items()}
    if target:
        candidates = alternatives.get(target, [target])
        others = [n for n in phases if n not in candidates and n not in all_alts]
        memo: dict = {}
        dist = {c: np.full((len(combos) + 1, hull_t.size), np.nan) for c in candidates}
        for row, (combo, g) in enumerate(zip([*combos, central_combo], [*evaluated, central])):
            picked = dict(zip(roles, combo[3:]))
            for j, t in enumerate(hull_t):
                g_t = {picked.get(n, n): _at(temps, g[n], t) for n in others}
                if any(np.isnan(v) for v in g_t.values()):
                    continue
                key = tuple(sorted((n, round(v, 9)) for n, v in g_t.items()))
                for cand in candidates:
                    if key not in memo:
                        memo[key] = {}
                    if cand not in memo[key]:
                        memo[key][cand] = _hull_energy_per_atom(g_t, {picked.get(n, n): comps[picked.get(n, n)]
                                                                      for n in others}, comps[cand])
                    g_c = _at(temps, phases[cand].free_energy(*combo[:2], phases[cand].central_config
                                                              if row == len(combos) else combo[2]), t)
                    dist[cand][row, j] = 1e3 * (g_c / phases[cand].n_atoms - memo[key][cand])
        result["hull"] = {"temperatures_K": hull_t.tolist(), "target": target, "candidates": {
            c: {"distance_meV_atom": _envelope(d[:-1], d[-1]),
                "e_above_hull_meV_atom": _envelope(np.maximum(d[:-1], 0.0), np.maximum(d[-1], 0.0))}
            for c, d in dist.items()}}

    if line:
        ends = [alternatives.get(e, [e]) for e in line]
        points = {}
        for name, p in phases.items():
            if name in all_alts:
                continue  # a role's alternatives are in its band
            placed = line_coordinates(_per_fu(p), [_per_fu(phases[line[0]]), _per_fu(phases[line[1]])])
            if placed is None:
                continue
            x, coef = placed
            rows = []
            for combo, g in zip([*combos, central_combo], [*evaluated, central]):
                g_name = g[name]
                g_ends = [g[e] / phases[e].n_formula_units for e in line]
                n_atoms_fu = p.n_atoms / p.n_formula_units
                mix = (g_name / p.n_formula_units - coef[0] * g_ends[0] - coef[1] * g_ends[1]) / n_atoms_fu
                rows.append([1e3 * _at(temps, mix, t) for t in line_t])
            rows = np.array(rows)
            points[name] = {"x": x, "formula_units_of_endpoints": coef.tolist(),
                            "dG_mix_meV_atom": _envelope(rows[:-1], rows[-1])}
        result["line"] = {"endpoints": list(line), "endpoint_alternatives": ends, "temperatures_K": line_t,
                          "x_is": "fraction of the atoms from the second endpoint", "phases": points}
    return result


def _per_fu(p: PhaseCurves) -> str:
    from pymatgen.core import Composition  # heavy: pymatgen

    return (Composition(p.formula) / p.n_formula_units).formula


def _at(temps: np.ndarray, curve, t: float) -> float:
    curve = np.asarray(curve, dtype=float)
    k = np.flatnonzero(np.isclose(temps, t))
    return float(curve[k[0]]) if k.size else float(np.interp(t, temps, curve))


def _envelope(rows: np.ndarray, central: np.ndarray) -> dict:
    rows = np.asarray(rows, dtype=float)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no data) stay NaN
            lo, hi = np.nanmin(rows, axis=0), np.nanmax(rows, axis=0)
    return {"central": np.asarray(central, dtype=float).tolist(), "min": lo.tolist(), "max": hi.tolist()}


def _first_sign_change(temps: np.ndarray, values: np.ndarray) -> float | None:
    """:func:`~pydriver.thermo.hull.sign_change_temperature` over the finite values only."""
    ok = np.isfinite(values)
    return sign_change_temperature(temps[ok], values[ok])


def plot_band(band: dict, path, title: str = "") -> None:
    """Two panels: dG(T) with its band, and the compositional line (phases' G of mixing per atom
    against the endpoints, with the band, at the line temperatures), in the style of a
    compositional phase diagram. Writes ``path`` (PNG)."""
    import matplotlib  # heavy: plotting only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    if "reaction" in band:
        r = band["reaction"]
        t = np.asarray(r["temperatures_K"])
        axes[0].fill_between(t, 1e3 * np.asarray(r["dG_min_eV_per_fu"]), 1e3 * np.asarray(r["dG_max_eV_per_fu"]),
                             alpha=0.3, label=f"band ({band['n_combinations']} combinations)")
        axes[0].plot(t, 1e3 * np.asarray(r["dG_central_eV_per_fu"]), label="central: harmonic, imaginary modes dropped")
        if r["sign_change_bracket_K"]:
            axes[0].axvspan(*r["sign_change_bracket_K"], color="0.85", zorder=0, label="sign change bracket")
        axes[0].axhline(0, color="k", lw=0.5)
        axes[0].set_xlabel("T (K)")
        axes[0].set_ylabel("dG (meV per formula unit)")
        axes[0].legend(frameon=False, fontsize=8)
    if "line" in band:
        line = band["line"]
        ax = axes[1]
        ax.axhline(0, color="k", lw=1)
        temps = line["temperatures_K"]
        colors = plt.cm.coolwarm(np.linspace(0, 1, len(temps)))
        for name, p in line["phases"].items():
            env = p["dG_mix_meV_atom"]
            for k, (t, c) in enumerate(zip(temps, colors)):
                y, lo, hi = env["central"][k], env["min"][k], env["max"][k]
                dx = 0.012 * (k - (len(temps) - 1) / 2)
                ax.errorbar(p["x"] + dx, y, yerr=[[y - lo], [hi - y]], fmt="o", color=c, capsize=3,
                            label=f"{t:g} K" if name == next(iter(line["phases"])) or p["x"] not in (0.0, 1.0) else None)
            ax.annotate(name, (p["x"], env["max"][-1]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        for k, c in enumerate(colors):  # the lower hull of the central values at each temperature
            pts = sorted((p["x"], p["dG_mix_meV_atom"]["central"][k]) for p in line["phases"].values())
            hull: list = []
            for pt in pts:
                while len(hull) >= 2 and ((hull[-1][0] - hull[-2][0]) * (pt[1] - hull[-2][1])
                                          - (hull[-1][1] - hull[-2][1]) * (pt[0] - hull[-2][0])) <= 0:
                    hull.pop()
                hull.append(pt)
            ax.plot(*zip(*hull), color=c, lw=0.8)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), frameon=False, fontsize=8)
        ax.set_xlabel(f"atom fraction from {line['endpoints'][1]} ({line['endpoints'][0]} at 0)")
        ax.set_ylabel("G of mixing (meV/atom)")
    fig.suptitle(title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
