"""Names people use for runs: ``Na3(BH4)(B12H12) (oNBH)``, ``BH4 x5``, ``NaBH4, 500 K, BH4 x5``.

Built from what ``run.json`` (or the ``run`` section of ``analysis.json``) records: the cell formula,
the anion counts, the structure file and the anion mass factors. Used for plot titles, legends and
report tables, never raw cell formulas or JSON.
"""

from __future__ import annotations

import re
from functools import reduce
from math import gcd
from pathlib import Path

#: structure-file stems that say nothing about the structure
GENERIC_STEMS = {"structure", "data", "poscar", "contcar", "input", "cell", "unknown"}
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_formula(formula: str) -> dict[str, int]:
    """Element counts of a plain formula such as ``Na12B12H48`` (no brackets)."""
    counts: dict[str, int] = {}
    for element, n in _TOKEN.findall(formula or ""):
        counts[element] = counts.get(element, 0) + int(n or 1)
    return counts


def _group(name: str, n: int, several_groups: bool) -> str:
    count = str(n) if n > 1 else ""
    multi_atom = len(_TOKEN.findall(name)) > 1 or any(c.isdigit() for c in name)
    return f"({name}){count}" if multi_atom and (several_groups or n > 1) else f"{name}{count}"


def reduced_formula(formula: str | None, anion_counts: dict | None = None) -> str | None:
    """Reduced formula with anions as groups: ``Na12B12H48`` + ``{BH4: 12}`` -> ``NaBH4``.

    Parameters
    ----------
    formula : cell formula (``Na6B14H26``); None gives None.
    anion_counts : anions per cell (``{"BH4": 2, "B12H12": 1}`` -> ``Na3(BH4)(B12H12)`` after reduction
        together with the cations); without it the plain element formula is reduced.
    """
    if not formula:
        return None
    counts = parse_formula(formula)
    anions = {k: int(v) for k, v in (anion_counts or {}).items() if int(v) > 0}
    for kind, n in anions.items():
        for element, m in parse_formula(kind).items():
            counts[element] = counts.get(element, 0) - m * n
    if any(v < 0 for v in counts.values()):  # anion counts do not fit the formula: plain formula
        counts, anions = parse_formula(formula), {}
    counts = {e: n for e, n in counts.items() if n > 0}
    divisor = reduce(gcd, list(counts.values()) + list(anions.values()))
    cations = "".join(f"{e}{n // divisor if n // divisor > 1 else ''}" for e, n in counts.items())
    order = sorted(anions, key=lambda k: (parse_formula(k).get("B", 0), k))
    groups = "".join(_group(k, anions[k] // divisor, len(anions) > 1) for k in order)
    return cations + groups


def structure_name(run: dict) -> str:
    """``NaBH4``, or ``Na3(BH4)(B12H12) (oNBH)`` when a common name is known.

    The common name is the run's ``structure_name`` (a sweep's structure label: the replicate
    structure files of one phase share it, so the report pools them), else the structure file's
    name when it is not generic.
    """
    name = run.get("structure_name")
    formula = reduced_formula(run.get("formula"), run.get("anion_counts"))
    source = run.get("structure_source")
    stem = Path(str(source)).name.split(".")[0] if source else None
    if name:
        return f"{formula} ({name})" if formula and str(name) != formula else str(name)
    if stem and stem.lower() not in GENERIC_STEMS and stem != formula:
        return f"{formula} ({stem})" if formula else stem
    return formula or stem or "unnamed structure"


def mass_factor_label(mass_factors: dict | None, anion_kinds=None) -> str:
    """``BH4 x5`` (``B12H12 x2, BH4 x5``) for the scaled anion kinds present; ``""`` when none is scaled.

    ``anion_kinds``: the kinds the structure contains; other kinds in ``mass_factors`` are left out.
    """
    scaled = {k: float(v) for k, v in (mass_factors or {}).items()
              if float(v) != 1.0 and (anion_kinds is None or k in anion_kinds)}
    return ", ".join(f"{k} x{v:g}" for k, v in sorted(scaled.items()))


def run_title(run: dict) -> str:
    """``NaBH4, 500 K (measured 487 K), BH4 x5``: structure, temperature and mass factors of a run."""
    parts = [structure_name(run), f"{run['temperature_K']:g} K"]
    if run.get("measured_temperature_K") is not None:
        parts[-1] += f" (measured {run['measured_temperature_K']:.0f} K)"
    kinds = run.get("anion_counts") or None
    masses = mass_factor_label(run.get("mass_factors"), kinds)
    return ", ".join(parts + ([masses] if masses else []))
