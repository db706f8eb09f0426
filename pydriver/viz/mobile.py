"""Colour the mobile ions (Na) by the analysis's per-atom MSD or active flag.

Built from OVITO's own modifiers only (no Python modifier), so the same pipeline opens in the free
OVITO desktop application: the ions are chosen by an ``ExpressionSelectionModifier`` on their ids,
the MSD enters as a ``ComputePropertyModifier`` expression that maps each id to its value, and
``AssignColorModifier`` / ``ColorCodingModifier`` colour them.
"""

from __future__ import annotations

import numpy as np
from ovito.modifiers import (AssignColorModifier, ClearSelectionModifier, ColorCodingModifier,
                             ComputePropertyModifier, ExpressionSelectionModifier, SelectTypeModifier)
from ovito.pipeline import Pipeline

from pydriver.viz import style
from pydriver.viz.per_atom import PerAtom

#: particle property that holds the per-atom MSD in the pipeline
MSD_PROPERTY = "msd_A2"


def ids_expression(ids) -> str:
    """OVITO selection expression true for the given atom ids (``"0"`` for none)."""
    ids = [int(i) for i in np.atleast_1d(ids)]
    return " || ".join(f"ParticleIdentifier=={i}" for i in ids) if ids else "0"


def select_ids(pipeline: Pipeline, ids) -> ExpressionSelectionModifier:
    """Append a selection of the atoms with the given ids."""
    mod = ExpressionSelectionModifier(expression=ids_expression(ids))
    pipeline.modifiers.append(mod)
    return mod


def add_active_coloring(pipeline: Pipeline, per_atom: PerAtom, mobile_types: list[int]) -> None:
    """Colour the mobile ions: active ones :data:`~style.ACTIVE_COLOR`, the rest :data:`~style.INACTIVE_COLOR`."""
    pipeline.modifiers.append(SelectTypeModifier(types=set(mobile_types)))
    pipeline.modifiers.append(AssignColorModifier(color=style.INACTIVE_COLOR))
    select_ids(pipeline, per_atom.active_ids)
    pipeline.modifiers.append(AssignColorModifier(color=style.ACTIVE_COLOR))
    pipeline.modifiers.append(ClearSelectionModifier())


def msd_expression(per_atom: PerAtom) -> str:
    """Expression giving each listed ion its MSD in A^2 (0 for other atoms)."""
    terms = [f"(ParticleIdentifier=={int(i)})*{float(m):.6g}" for i, m in zip(per_atom.ids, per_atom.msd_A2)]
    return " + ".join(terms) if terms else "0"


def add_msd_coloring(pipeline: Pipeline, per_atom: PerAtom, mobile_types: list[int],
                     max_msd_A2: float | None = None) -> ColorCodingModifier:
    """Colour the mobile ions by their MSD (Viridis, 0 to ``max_msd_A2``, default the largest)."""
    pipeline.modifiers.append(ComputePropertyModifier(output_property=MSD_PROPERTY,
                                                      expressions=[msd_expression(per_atom)]))
    pipeline.modifiers.append(SelectTypeModifier(types=set(mobile_types)))
    top = float(max_msd_A2 if max_msd_A2 is not None else max(per_atom.msd_A2.max(), 1e-6))
    mod = ColorCodingModifier(property=MSD_PROPERTY, start_value=0.0, end_value=top, only_selected=True,
                              gradient=ColorCodingModifier.Viridis(), auto_adjust_range=False)
    pipeline.modifiers.append(mod)
    pipeline.modifiers.append(ClearSelectionModifier())
    return mod
