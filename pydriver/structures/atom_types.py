"""LAMMPS atom types per (element, anion kind), in the fixed project order.

Order: 1 ``Na``, 2 ``B_BH4``, 3 ``H_BH4``, 4 ``B_B12H12``, 5 ``H_B12H12``; then other closo
kinds (``B_B{n}H{n}``, ``H_B{n}H{n}``, by n descending after B12H12), then other elements
(not in an anion) by atomic number. Kinds absent from the structure are dropped, the order of
the rest is kept. Several types map to one element of the potential (``pair_coeff`` list).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from pydriver.structures.anions import CLOSO_SIZES, AnionMap, closo_kind

#: anion kinds in type order (after Na): BH4, then closo cages from B12H12 down to B6H6
ANION_ORDER = ["BH4", *[closo_kind(n) for n in sorted(CLOSO_SIZES, reverse=True)]]


@dataclass(frozen=True)
class AtomType:
    """One LAMMPS atom type.

    Attributes
    ----------
    type : LAMMPS type number (1-based).
    label : LAMMPS type label (``Na``, ``B_BH4``, ...).
    element : chemical element given to the potential.
    anion : anion kind (``BH4``, ``B12H12``, ...) or ``None`` for free ions.
    mass_amu : mass of this type in amu: the element's, or the mass-scaled one in a run manifest.
    """

    type: int
    label: str
    element: str
    anion: str | None
    mass_amu: float

    def as_dict(self) -> dict:
        """JSON-ready dict (keys as in ``run.json``)."""
        return asdict(self)


def element_mass_amu(element: str) -> float:
    """Standard atomic mass of ``element`` in amu: ASE's table, the masses decks write into data files.

    Raises
    ------
    ValueError
        If ``element`` is not a chemical symbol.
    """
    if element not in atomic_numbers:
        raise ValueError(f"unknown element {element!r}")
    return float(atomic_masses[atomic_numbers[element]])


def _type_key(element: str, anion: str | None) -> tuple:
    """Sort key giving the fixed type order."""
    if anion is None and element == "Na":
        return (0,)
    if anion is not None:
        return (1, ANION_ORDER.index(anion), 0 if element == "B" else 1)
    return (2, atomic_numbers[element])


def assign_types(atoms: Atoms, anion_map: AnionMap) -> tuple[list[AtomType], np.ndarray]:
    """Assign LAMMPS types.

    Parameters
    ----------
    atoms : the structure.
    anion_map : its anions (:func:`pydriver.structures.anions.find_anions`).

    Returns
    -------
    (list of AtomType, (n_atoms,) int array)
        The types in order, and the type number of every atom.
    """
    symbols = atoms.get_chemical_symbols()
    pairs = {(s, k) for s, k in zip(symbols, anion_map.kinds)}
    ordered = sorted(pairs, key=lambda p: _type_key(*p))
    types = []
    for number, (element, anion) in enumerate(ordered, start=1):
        label = element if anion is None else f"{element}_{anion}"
        mass_amu = element_mass_amu(element)
        types.append(AtomType(number, label, element, anion, mass_amu))
    index = {(t.element, t.anion): t.type for t in types}
    type_ids = np.array([index[(s, k)] for s, k in zip(symbols, anion_map.kinds)], dtype=int)
    return types, type_ids


def pair_coeff_elements(types: list[AtomType]) -> list[str]:
    """Element per type, in type order: the tail of ``pair_coeff * * MODEL.pt ...``."""
    return [t.element for t in sorted(types, key=lambda t: t.type)]
