"""Build the OVITO pipelines of one picture of a run: which atoms, bonds, colours, surfaces, lines.

Modes (``--what``):

* ``structure`` -- every atom by element (our radii and colours), the cell drawn.
* ``anions`` -- anions as clusters: intra-anion bonds, one colour per anion kind, polyhedra.
* ``active`` -- anions as bonds, the mobile ions coloured by the analysis's active flag (or MSD).
* ``density`` -- the mobile-ion density isosurface with the anions as polyhedra (Figure 3A-like).
* ``hops`` -- trajectory lines of chosen mobile ions (default: the analysis's active ones, else the
  ones that get farthest from their start along their unwrapped paths).
* ``rotation`` -- trajectory lines of the H atoms of one anion.
* ``sites`` -- the analysis's Na sites as small spheres coloured by occupancy and lines between
  site pairs weighted by their hop count (:mod:`pydriver.viz.sites`), anions as bonds, Na hidden.

Atoms are wrapped into the cell for display (after the trajectory lines, which are unwrapped paths
drawn wrapped into the cell piecewise: :mod:`pydriver.viz.trajectories`); then every anion is made
whole again (:func:`pydriver.viz.anions.add_clusters`), so an anion across a cell face is drawn with
its full bonds, partly outside the cell, instead of as bond stubs on both faces. With polyhedra the
atoms' pipeline holds a grown, hidden cell and a last pipeline draws the dump's cell
(:func:`pydriver.viz.anions.add_polyhedra`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from ovito.io import import_file
from ovito.modifiers import (DeleteSelectedModifier, ExpressionSelectionModifier, SelectTypeModifier,
                             WrapPeriodicImagesModifier)
from ovito.pipeline import Pipeline

from pydriver.structures.atom_types import AtomType
from pydriver.viz import anions, mobile, per_atom, sites, style, trajectories, types as vtypes
from pydriver.viz.density import density_pipeline
from pydriver.viz.run_files import RunFiles

log = logging.getLogger(__name__)

MODES = ("structure", "anions", "active", "density", "hops", "rotation", "sites")
#: the diffusing element whose ions are coloured, traced and shown as density
MOBILE_ELEMENT = "Na"
#: ions traced in ``hops`` mode when neither ids nor an analysis choose them
DEFAULT_N_HOPS = 3


@dataclass
class SceneOptions:
    """What to draw.

    Attributes
    ----------
    what : one of :data:`MODES`.
    threshold_per_A3 : density isolevel in ions per A^3 (``density``; default 5x the mean density).
    ion_ids : mobile-ion ids to trace (``hops``).
    anion_mol : molecule id of the anion to trace (``rotation``; default the first).
    color_by : ``active`` (flag) or ``msd`` (per-atom MSD) in ``active`` mode.
    polyhedra : draw anion polyhedra (``anions``, ``density``).
    line_frames : (first, last) frames of the trajectory lines (default all).
    """

    what: str = "structure"
    threshold_per_A3: float | None = None
    ion_ids: list[int] | None = None
    anion_mol: int | None = None
    color_by: str = "active"
    polyhedra: bool = True
    line_frames: tuple[int, int] | None = None

    def validate(self) -> SceneOptions:
        """Raise ``ValueError`` for an unknown mode or colouring."""
        if self.what not in MODES:
            raise ValueError(f"--what {self.what!r}; choose one of {', '.join(MODES)}")
        if self.color_by not in ("active", "msd"):
            raise ValueError(f"--color-by {self.color_by!r}; choose active or msd")
        return self


@dataclass
class Scene:
    """The pipelines of one picture (structure first) and what was chosen on the way."""

    pipelines: list[Pipeline]
    types: dict[int, AtomType]
    n_frames: int
    notes: dict = field(default_factory=dict)

    @property
    def structure(self) -> Pipeline:
        """The pipeline of the atoms."""
        return self.pipelines[0]


def build_scene(files: RunFiles, opts: SceneOptions) -> Scene:
    """Pipelines for ``opts.what`` from a run's files.

    Raises
    ------
    FileNotFoundError
        If a mode needs an analysis output the run does not have.
    ValueError
        For a bad threshold, ion id, anion id, or types that cannot be named.
    """
    opts.validate()
    pipeline = open_dump(files.dump)
    types = files.types or vtypes.types_from_elements(pipeline)
    vtypes.apply_types(pipeline, types)
    if opts.what == "structure":
        _element_colors(pipeline, types)
    scene = Scene([pipeline], types, pipeline.source.num_frames)
    mobile_types = vtypes.type_numbers(types, MOBILE_ELEMENT, None)
    if opts.what == "hops":
        ids = _hop_ids(files, pipeline, opts, mobile_types)
        trajectories.add_lines(pipeline, ids, style.HOP_LINE_COLOR, opts.line_frames)
        scene.notes["ion_ids"] = [int(i) for i in ids]
    pipeline.modifiers.append(WrapPeriodicImagesModifier())
    if opts.what != "structure":
        anions.add_bonds(pipeline, types)
        anions.add_clusters(pipeline, types)
    if opts.what == "rotation":  # sampled from the whole anion, drawn around it
        mol_id, h_ids = trajectories.anion_h_ids(pipeline, vtypes.type_numbers(types, "H"), opts.anion_mol)
        trajectories.add_lines(pipeline, h_ids, style.ROTATION_LINE_COLOR, opts.line_frames, fold_into_cell=False)
        scene.notes.update(anion_mol=mol_id, h_ids=[int(i) for i in h_ids])
    polyhedra = opts.what in ("anions", "density") and opts.polyhedra
    if polyhedra:
        anions.add_polyhedra(pipeline, types)  # grows the cell of this pipeline and hides it
    if opts.what == "active":
        _color_mobile(files, pipeline, opts, mobile_types, scene)
    if opts.what == "density":
        if files.density is None:
            files.require_analysis("density")
            raise FileNotFoundError(f"--what density: no density grid (*_density.CHGCAR) in {files.dump.parent}; "
                                    "rerun `python -m pydriver analyze`")
        grid, info, threshold = density_pipeline(files.density, opts.threshold_per_A3)
        scene.pipelines.append(grid)
        scene.notes.update(threshold_per_A3=threshold, density_range_per_A3=(info.min_per_A3, info.max_per_A3))
        if mobile_types:  # the density shows where the ions go; their spheres would hide it
            pipeline.modifiers.append(SelectTypeModifier(types=set(mobile_types)))
            pipeline.modifiers.append(DeleteSelectedModifier())
    if opts.what == "sites":
        _add_sites(files, pipeline, scene, mobile_types)
    if polyhedra:
        scene.pipelines.append(cell_outline(files.dump))  # last: the density grid stays pipelines[1]
    return scene


def open_dump(dump) -> Pipeline:
    """Import a dump with all its frames."""
    # multiple_frames: without it, an import after a render in the same process sees one frame (ovito 3.15)
    return import_file(str(dump), multiple_frames=True)


def cell_outline(dump) -> Pipeline:
    """Pipeline that draws only the cell of the dump (every frame's; no atoms)."""
    pipeline = open_dump(dump)
    pipeline.modifiers.append(ExpressionSelectionModifier(expression="1"))
    pipeline.modifiers.append(DeleteSelectedModifier())
    return pipeline


def _element_colors(pipeline: Pipeline, types: dict[int, AtomType]) -> None:
    """Colour every type by its element only (``structure`` mode)."""
    plain = {n: AtomType(t.type, t.label, t.element, None, t.mass_amu) for n, t in types.items()}
    vtypes.apply_types(pipeline, plain)


def mobile_per_atom(files: RunFiles, pipeline: Pipeline, mobile_types: list[int], what: str) -> per_atom.PerAtom:
    """Per-ion MSD and active flag: ``per_atom.csv`` if present, else ``analysis.json``."""
    if files.per_atom is not None:
        return per_atom.read_per_atom_csv(files.per_atom)
    summary = files.require_analysis(what)
    data = pipeline.source.data
    ids = np.asarray(data.particles.identifiers)[np.isin(np.asarray(data.particles.particle_types), mobile_types)]
    return per_atom.from_summary(summary, ids)


def _add_sites(files: RunFiles, pipeline: Pipeline, scene: Scene, mobile_types: list[int]) -> None:
    """The site network as pipelines[1] (in the cell of the dump's first frame); the Na spheres removed."""
    if files.sites is None:
        files.require_analysis("sites")
        where = files.run_dir or files.dump.parent
        reason = ((files.analysis.extra.get("sites") or {}).get("reason") if files.analysis else None)
        raise FileNotFoundError(f"--what sites: no sites.csv in {where}" + (f" (analysis: {reason})" if reason else
                                "; rerun `python -m pydriver analyze`"))
    network = sites.read_site_network(files.sites, files.site_hops)
    scene.pipelines.append(sites.sites_pipeline(network, np.asarray(pipeline.source.data.cell[...])))
    scene.notes.update(n_sites=int(network.frac.shape[0]), n_site_pairs=int(len(network.pair)),
                       n_hops=int(network.n_hops.sum()))
    if mobile_types:  # the sites show where the ions sit; their spheres would hide them
        pipeline.modifiers.append(SelectTypeModifier(types=set(mobile_types)))
        pipeline.modifiers.append(DeleteSelectedModifier())


def _color_mobile(files, pipeline, opts, mobile_types, scene) -> None:
    values = mobile_per_atom(files, pipeline, mobile_types, "active")
    if opts.color_by == "msd":
        mobile.add_msd_coloring(pipeline, values, mobile_types)
    else:
        mobile.add_active_coloring(pipeline, values, mobile_types)
    scene.notes.update(active_ids=[int(i) for i in values.active_ids], n_mobile=int(values.ids.size))


def _hop_ids(files: RunFiles, pipeline: Pipeline, opts: SceneOptions, mobile_types: list[int]) -> np.ndarray:
    """Ions to trace: ``--ions``, else the analysis's active ions, else the :data:`DEFAULT_N_HOPS` ions
    that get farthest from their start along their unwrapped paths (an ion vibrating across a cell
    face is not one of them)."""
    data = pipeline.source.compute(0)
    ids = np.sort(np.asarray(data.particles.identifiers)[np.isin(np.asarray(data.particles.particle_types),
                                                                 mobile_types)])
    if opts.ion_ids:
        unknown = sorted(set(opts.ion_ids) - set(ids.tolist()))
        if unknown:
            raise ValueError(f"--ions {unknown}: not {MOBILE_ELEMENT} atom ids of this dump")
        return np.array(opts.ion_ids)
    if files.per_atom is not None or files.analysis is not None:
        values = mobile_per_atom(files, pipeline, mobile_types, "hops")
        if values.active_ids.size:
            log.info("hops: tracing the %d active ions of the analysis: %s", values.active_ids.size,
                     values.active_ids.tolist())
            return values.active_ids
    excursion_A = trajectories.max_excursions_A(files.dump, ids, opts.line_frames)
    order = np.argsort(-excursion_A, kind="stable")[:DEFAULT_N_HOPS]
    log.info("hops: ions %s get farthest from their start (%s A)", ids[order].tolist(),
             ", ".join(f"{d:.2f}" for d in excursion_A[order]))
    return ids[order]
