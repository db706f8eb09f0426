"""OVITO pictures of MD runs: anions as clusters, mobile Na by MSD/active flag, Na density isosurfaces,
trajectory lines (hops, anion rotation), headless renders and OVITO session states.

Modules (one job each): :mod:`~pydriver.viz.style` (radii, colours, cutoffs),
:mod:`~pydriver.viz.run_files` (what a run holds), :mod:`~pydriver.viz.per_atom` (per-ion MSD/active),
:mod:`~pydriver.viz.types` (type names and styles), :mod:`~pydriver.viz.anions` (bonds, clusters,
polyhedra), :mod:`~pydriver.viz.mobile` (Na colouring), :mod:`~pydriver.viz.density` (isosurface),
:mod:`~pydriver.viz.trajectories` (lines), :mod:`~pydriver.viz.scene` (the pipelines of one mode),
:mod:`~pydriver.viz.render` (Tachyon PNG/movie), :mod:`~pydriver.viz.session` (``.ovito`` files).
Everything but ``style``, ``run_files`` and ``per_atom`` imports ``ovito`` (the ``viz`` extra).
"""
