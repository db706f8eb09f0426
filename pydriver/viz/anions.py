"""Anions as clusters: chemical bonds inside each anion, one colour per kind, optional polyhedra.

Bonds: OVITO's ``CreateBondsModifier`` with pair cutoffs per type label (B-H and B-B of the same
anion kind only, :data:`~pydriver.viz.style.BOND_CUTOFFS_A`), so no bond joins two anions or an
anion and Na. Clusters: ``ClusterAnalysisModifier`` over those bonds on the anion atoms; one
cluster = one anion. Whole anions: the same modifier with ``unwrap_particles=True`` walks each
anion's bonds from one of its atoms and moves every bonded atom by whole cell vectors next to its
neighbour (minimum image; the bonds' periodic shifts become zero), so an anion that crosses a cell
face after the atoms were wrapped into the cell is drawn whole with short bonds, partly outside the
cell, instead of as bond stubs on opposite faces. Polyhedra (optional): BH4 as tetrahedra
(``CoordinationPolyhedraModifier`` around B, whose four bonded H are the corners), the B12 cages as
icosahedra (alpha-shape ``ConstructSurfaceModifier`` of the cage B atoms, probe radius 2.0 A:
closes every 1.78 A-edged face of one cage but cannot bridge two cages > 3.5 A apart). B12H12's H stay ball-and-stick.
OVITO folds every surface back into the cell at its periodic faces, which would cut the polyhedron
of an anion across a face in two; the polyhedra are therefore built in the cell grown
:data:`POLYHEDRA_CELL_GROWTH` times about its centre (an ``AffineTransformationModifier`` on the
cell only: atoms and bonds stay where they are), so each whole anion lies inside it and its
polyhedron is drawn whole. The grown cell must not be drawn: :func:`add_polyhedra` hides the cell of
the pipeline, and the caller draws the real cell from another pipeline of the same dump.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from ovito.data import CutoffNeighborFinder
from ovito.modifiers import (AffineTransformationModifier, ClearSelectionModifier, ClusterAnalysisModifier,
                             ConstructSurfaceModifier, CoordinationPolyhedraModifier, CreateBondsModifier,
                             SelectTypeModifier)
from ovito.pipeline import Pipeline
from ovito.vis import BondsVis
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pydriver.structures.atom_types import AtomType
from pydriver.viz import style

#: alpha-shape probe radius (A) that closes a B12 cage (face circumradius 1.03 A) but no gap between cages
CAGE_PROBE_RADIUS_A = 2.0
#: anion kinds drawn as closed cages by the alpha shape (others with a central B as coordination polyhedra)
CAGE_KINDS_MIN_B = 6
#: the cell is grown this many times about its centre before the polyhedra are built (module docstring)
POLYHEDRA_CELL_GROWTH = 3.0


def bond_cutoffs(types: dict[int, AtomType]) -> list[tuple[int, int, float]]:
    """``(type_a, type_b, cutoff_A)`` for every bonded pair of types inside one anion kind.

    Types are referred to by number everywhere in our pipelines: a dump with an ``element`` column
    makes OVITO name both B types ``B``, so names would not tell BH4 from B12H12.
    """
    out = []
    anion_types = [t for t in types.values() if t.anion]
    for i, a in enumerate(anion_types):
        for b in anion_types[i:]:
            key = tuple(sorted((a.element, b.element)))
            if a.anion == b.anion and key in style.BOND_CUTOFFS_A:
                out.append((a.type, b.type, style.BOND_CUTOFFS_A[key]))
    return out


def add_bonds(pipeline: Pipeline, types: dict[int, AtomType]) -> CreateBondsModifier:
    """Append the intra-anion bonds (uniform colour per bond: the anion colour of its atoms)."""
    mod = CreateBondsModifier(mode=CreateBondsModifier.Mode.Pairwise)
    for a, b, cutoff in bond_cutoffs(types):
        mod.set_pairwise_cutoff(a, b, cutoff)
    mod.vis.width = 2 * style.BOND_WIDTH_A
    mod.vis.coloring_mode = BondsVis.ColoringMode.ByParticle
    pipeline.modifiers.append(mod)
    return mod


def add_clusters(pipeline: Pipeline, types: dict[int, AtomType]) -> ClusterAnalysisModifier:
    """Append the cluster analysis over bonds of the anion atoms (output: ``Cluster`` per particle) that
    also makes every anion whole (module docstring); needs :func:`add_bonds` before it.

    The number of clusters is the data attribute ``ClusterAnalysis.cluster_count``.
    """
    pipeline.modifiers.append(SelectTypeModifier(types={t.type for t in types.values() if t.anion}))
    mod = ClusterAnalysisModifier(neighbor_mode=ClusterAnalysisModifier.NeighborMode.Bonding, only_selected=True,
                                  sort_by_size=True, unwrap_particles=True)
    pipeline.modifiers.append(mod)
    pipeline.modifiers.append(ClearSelectionModifier())
    return mod


def add_polyhedra(pipeline: Pipeline, types: dict[int, AtomType]) -> None:
    """Append polyhedra: BH4-like anions (one B) as coordination tetrahedra, closo cages as closed B shells.

    Needs whole anions (:func:`add_clusters` before it). Grows the pipeline's cell and hides it
    (module docstring): draw the cell from another pipeline.
    """
    pipeline.modifiers.append(grow_cell(np.asarray(pipeline.source.compute(0).cell.matrix), POLYHEDRA_CELL_GROWTH))
    pipeline.source.data.cell_.vis.enabled = False
    kinds = sorted({t.anion for t in types.values() if t.anion})
    for kind in kinds:
        borons = {t.type for t in types.values() if t.anion == kind and t.element == "B"}
        if not borons:
            continue
        color = style.anion_color(kind)
        pipeline.modifiers.append(SelectTypeModifier(types=borons))
        if _n_boron(kind) >= CAGE_KINDS_MIN_B:
            mod = ConstructSurfaceModifier(method=ConstructSurfaceModifier.Method.AlphaShape,
                                           radius=CAGE_PROBE_RADIUS_A, only_selected=True)
            mod.vis.show_cap = False
        else:
            mod = CoordinationPolyhedraModifier()
        mod.vis.surface_color = color
        mod.vis.surface_transparency = 0.35
        mod.vis.highlight_edges = True
        pipeline.modifiers.append(mod)
        pipeline.modifiers.append(ClearSelectionModifier())


def grow_cell(cell_matrix: np.ndarray, factor: float) -> AffineTransformationModifier:
    """Modifier that scales the cell (only) by ``factor`` about its centre.

    Parameters
    ----------
    cell_matrix : (3, 4) OVITO cell matrix (cell vectors as columns, then the origin), in A; the
        centre of this cell stays fixed (for an NPT trajectory, frame 0's: the other frames' cells
        grow about a point within the cell's change of that centre).
    factor : scale factor (> 1).
    """
    vectors, origin = cell_matrix[:, :3], cell_matrix[:, 3]
    centre = origin + vectors.sum(axis=1) / 2
    transformation = np.zeros((3, 4))
    transformation[:, :3] = factor * np.eye(3)
    transformation[:, 3] = (1 - factor) * centre
    return AffineTransformationModifier(transformation=transformation, operate_on={"cell"})


def _n_boron(kind: str) -> int:
    """Number of B atoms in an anion formula such as ``BH4`` (1) or ``B12H12`` (12)."""
    digits = kind[1:kind.index("H")] if kind.startswith("B") and "H" in kind else ""
    return int(digits) if digits else 1


def cluster_formulas(pipeline: Pipeline, element_names: dict[int, str]) -> dict[int, str]:
    """Anion kind of each B/H type in frame 0 of a pipeline whose types are element names.

    Returns ``{type number: formula}`` (``"BH4"``, ``"B12H12"``), the most common formula of the
    clusters the type's atoms belong to; types outside B-H clusters are left out.
    """
    data = pipeline.source.compute(0)
    elements = np.array([element_names[int(t)] for t in data.particles.particle_types])
    bonds = _element_bonds(data, elements)
    cluster = _components(len(elements), bonds)
    formulas = {}
    for c in np.unique(cluster):
        members = elements[cluster == c]
        if len(members) > 1:
            counts = Counter(members)
            formulas[c] = f"B{_n(counts['B'])}H{_n(counts['H'])}"
    kinds: dict[int, Counter] = {}
    for t, c in zip(np.asarray(data.particles.particle_types), cluster):
        if c in formulas:
            kinds.setdefault(int(t), Counter())[formulas[c]] += 1
    return {t: counter.most_common(1)[0][0] for t, counter in kinds.items()}


def _n(count: int) -> str:
    return "" if count == 1 else str(count)


def _element_bonds(data, elements: np.ndarray) -> np.ndarray:
    """Pairs ``(i, j)``, i < j, within the element-pair cutoffs (periodic images included)."""
    finder = CutoffNeighborFinder(max(style.BOND_CUTOFFS_A.values()), data)
    pairs, deltas = finder.find_all()
    distance = np.linalg.norm(deltas, axis=1)
    cutoff = np.array([style.BOND_CUTOFFS_A.get(tuple(sorted((elements[i], elements[j]))), 0.0) for i, j in pairs])
    keep = (distance <= cutoff) & (pairs[:, 0] < pairs[:, 1])
    return pairs[keep]


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes (scipy's graph routine)."""
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]
