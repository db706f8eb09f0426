"""Mass scaling of whole anions (a thought experiment: same potential, slower rotation).

Every atom of an anion kind (B and H of all BH4, or of all B12H12) gets its mass multiplied by
that kind's factor, so the anion's total mass and moment of inertia scale by the same factor
while the element seen by the potential is unchanged. In LAMMPS this is one ``mass`` line per
atom type, possible because each (element, anion kind) pair has its own type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydriver.structures.atom_types import AtomType

#: anion kinds that can be mass-scaled: ``BH4`` and closo-boranes ``B{n}H{n}`` (e.g. ``B12H12``)
ANION_KIND = re.compile(r"^(BH4|B(\d+)H\2)$")


def check_anion_kind(kind: str) -> str:
    """``kind`` if it matches :data:`ANION_KIND`, else ``ValueError`` naming it and the allowed kinds."""
    if not ANION_KIND.match(kind):
        raise ValueError(f"unknown anion kind {kind!r}; allowed: 'BH4' or 'B{{n}}H{{n}}' (e.g. 'B12H12')")
    return kind


def validate_mass_factors(mass_factors: Mapping[str, float]) -> dict[str, float]:
    """Check anion kinds and factors.

    Parameters
    ----------
    mass_factors : {anion kind: factor}, kinds ``BH4`` or ``B{n}H{n}`` (e.g. ``B12H12``);
        factors are dimensionless and > 0.

    Returns
    -------
    dict
        The same mapping with float values.

    Raises
    ------
    ValueError
        For an unknown kind or a factor that is not a positive finite number.
    """
    checked = {}
    for kind, factor in mass_factors.items():
        check_anion_kind(kind)
        factor = float(factor)
        if not (factor > 0 and factor < float("inf")):
            raise ValueError(f"mass factor for {kind} must be a positive finite number, got {factor}")
        checked[kind] = factor
    return checked


def scaled_masses_amu(types: list[AtomType], mass_factors: Mapping[str, float]) -> list[float]:
    """Per-type masses with anion atoms scaled.

    Parameters
    ----------
    types : the atom types (:func:`pydriver.structures.assign_types`).
    mass_factors : {anion kind: factor}; kinds not given (or absent from ``types``) keep factor 1.

    Returns
    -------
    list of float
        Mass per type, in type order, in amu.
    """
    factors = validate_mass_factors(mass_factors)
    ordered = sorted(types, key=lambda t: t.type)
    return [t.mass_amu * (factors.get(t.anion, 1.0) if t.anion else 1.0) for t in ordered]


def mass_commands(types: list[AtomType], mass_factors: Mapping[str, float]) -> list[str]:
    """LAMMPS ``mass`` commands (one per type, by type label) for the scaled masses."""
    ordered = sorted(types, key=lambda t: t.type)
    return [f"mass {t.label} {m:.8f}" for t, m in zip(ordered, scaled_masses_amu(ordered, mass_factors))]
