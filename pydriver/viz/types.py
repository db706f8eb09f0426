"""Name and style the particle types of an imported dump.

OVITO names the types of a dump from its ``element`` column (``Na``, ``B``, ``H``: the two B types
of BH4 and B12H12 both become ``B``; the file's names win over edits, even with the column mapped
away) and leaves them unnamed without it. Unnamed types get their LAMMPS label (``B_BH4``,
``H_B12H12``, ...); every type gets radius and colour from :mod:`pydriver.viz.style`, by type
number, so BH4 and B12H12 differ either way. The edits go into the pipeline's source data: they hold
for every frame and are stored in an ``.ovito`` session state. Modifiers refer to types by number.
"""

from __future__ import annotations

import logging

from ovito.pipeline import Pipeline

from pydriver.structures.atom_types import AtomType, element_mass_amu
from pydriver.viz import style
from pydriver.viz.anions import cluster_formulas

log = logging.getLogger(__name__)


def source_types(pipeline: Pipeline) -> dict[int, str]:
    """``{type number: name OVITO gave it}`` (``""`` when unnamed) of the pipeline's source."""
    return {t.id: t.name for t in pipeline.source.data.particles.particle_types.types}


def types_from_elements(pipeline: Pipeline) -> dict[int, AtomType]:
    """Atom types of a dump with an ``element`` column but no ``run.json``.

    The anion kind of each B/H type is read from the first frame: the chemical bonds of
    :data:`~pydriver.viz.style.BOND_CUTOFFS_A` split the atoms into clusters; a type's kind is the
    formula of its clusters (``BH4``, ``B12H12``).

    Raises
    ------
    ValueError
        If the dump names no elements (no ``element`` column): then ``--types`` is needed.
    """
    named = source_types(pipeline)
    if not all(named.values()):
        raise ValueError("the dump has no element column and no run.json beside it; "
                         "give the types, e.g. --types '1:Na 2:B_BH4 3:H_BH4 4:B_B12H12 5:H_B12H12'")
    kinds = cluster_formulas(pipeline, named)
    out = {}
    for number, element in sorted(named.items()):
        kind = kinds.get(number)
        label = f"{element}_{kind}" if kind else element
        out[number] = AtomType(number, label, element, kind, element_mass_amu(element))
    labels = [t.label for t in out.values()]
    if len(set(labels)) != len(labels):
        out = {n: AtomType(n, f"{t.label}_{n}", t.element, t.anion, t.mass_amu) for n, t in out.items()}
    log.info("types from the dump's element column: %s", {n: t.label for n, t in out.items()})
    return out


def apply_types(pipeline: Pipeline, types: dict[int, AtomType]) -> None:
    """Give every particle type its label, display radius and colour.

    Raises
    ------
    ValueError
        If the dump holds a type number that ``types`` does not name.
    """
    ptypes = pipeline.source.data.particles_.particle_types_
    present = [t.id for t in ptypes.types]
    unknown = sorted(set(present) - set(types))
    if unknown:
        raise ValueError(f"dump atom types {unknown} not in the type map {sorted(types)}")
    for ptype in ptypes.types_:
        info = types[ptype.id]
        if not ptype.name:  # a name from the dump's element column stays (OVITO would restore it)
            ptype.name = info.label
        radius, color = style.type_style(info.element, info.anion)
        if radius is None:  # an element we have no style for: OVITO's table by element name
            name = ptype.name
            ptype.name = info.element
            ptype.load_defaults()
            ptype.name = name
        else:
            ptype.radius = radius
            ptype.color = color


def type_numbers(types: dict[int, AtomType], element: str | None = None, anion: str | None = "any") -> list[int]:
    """Type numbers of an element and/or anion kind (``anion="any"``: any, ``None``: free ions)."""
    return [n for n, t in sorted(types.items())
            if (element is None or t.element == element) and (anion == "any" or t.anion == anion)]


