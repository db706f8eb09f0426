"""Analyse one run directory or trajectory file into ``analysis.json``, CSV tables, plots and density grids.

Entry points: :func:`analyze_run` (a run directory), :func:`analyze_file` (any trajectory file) and
:func:`analyze_paths` (either, many, with an output folder). All keys of ``analysis.json`` carry
their unit; every estimate has its uncertainty next to it; the parameters used are recorded under
``parameters``; undefined numbers are ``null`` with their reason under ``undefined``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from pydriver.analysis import (active, diagnostics, equilibration, framework, mechanism, molecules, rotation,
                               structure_stats)
from pydriver.analysis.ase_reader import read_ase_trajectory
from pydriver.analysis.dump_reader import is_lammps_dump, read_lammps_dump
from pydriver.analysis.options import AnalysisOptions
from pydriver.analysis.run_inputs import (RunMetadata, check_explicit, frame_steps, production_records,
                                          production_thermo,
                                          read_data_mol_ids, resolve_metadata, types_from_elements,
                                          usable_trajectory)
from pydriver.analysis.run_output import json_ready, run_warnings, summarise, write_outputs
from pydriver.analysis.trajectory import Trajectory
from pydriver.analysis.transport import DiffusionAnalysis
from pydriver.rundir import ANALYSIS_FILE, DATA_FILE, LOG_FILE, MANIFEST_FILE, RunManifest, find_dump

log = logging.getLogger(__name__)

__all__ = ["AnalysisOptions", "analyze_file", "analyze_paths", "analyze_run", "analyze_trajectory",
           "load_trajectory"]
TRAJECTORY_FORMATS = ("auto", "lammps", "ase")


def _frame_times(traj: Trajectory, meta: RunMetadata) -> np.ndarray:
    start = meta.production_start_step if meta.production_start_step is not None else int(traj.steps[0])
    if traj.steps[0] < start:
        log.warning("first dump step %d precedes production_start_step %d", traj.steps[0], start)
    return (traj.steps - start) * meta.dt_ps


def _per_atom(traj: Trajectory, meta: RunMetadata) -> dict:
    unknown = sorted(set(traj.types.tolist()) - set(meta.types))
    if unknown:
        raise ValueError(f"dump atom types {unknown} not in the type map {sorted(meta.types)}")
    info = [meta.types[int(t)] for t in traj.types]
    return {"labels": np.array([i.label for i in info]), "elements": np.array([i.element for i in info]),
            "anion": np.array([i.anion or "" for i in info]), "masses_amu": np.array([i.mass_amu for i in info])}


def _molecules(traj: Trajectory, run_dir: Path | None, atoms: dict, mobile: np.ndarray, opts: AnalysisOptions):
    mol_ids = traj.mol_ids
    if (mol_ids is None or not np.any(mol_ids > 0)) and run_dir is not None:
        from_data = read_data_mol_ids(run_dir / DATA_FILE)
        if from_data is not None and all(int(i) in from_data for i in traj.ids):
            log.warning("molecule ids taken from data.lmp (dump has none)")
            mol_ids = np.array([from_data[int(i)] for i in traj.ids])
    anion = np.where(atoms["anion"] == "", None, atoms["anion"])
    if mol_ids is not None and np.any(mol_ids > 0):
        return molecules.from_mol_ids(mol_ids, atoms["elements"], anion, exclude=mobile,
                                      bond_cutoff_A=opts.bond_cutoff_A)
    candidates = np.setdiff1d(np.arange(traj.n_atoms), mobile)
    if candidates.size == 0:
        log.info("no framework atoms: no anions")
        return molecules.Molecules([], [], "none", opts.bond_cutoff_A)
    log.warning("no molecule ids: anions detected as bond clusters (cutoff %.2f A) in the first frame",
                opts.bond_cutoff_A)
    return molecules.from_clusters(traj.positions_A[0], traj.cells_A[0], candidates, atoms["elements"], anion,
                                   opts.bond_cutoff_A)


def _structure(traj, atoms, mols, mobile, mobile_pos, dt_frame_ps, opts: AnalysisOptions) -> dict:
    """RDFs and coordination on sampled frames; NGP and van Hove of ``mobile_pos`` (drift-corrected)."""
    frames = structure_stats.sample_frames(traj.n_frames, opts.max_frames)
    cells = traj.cells_A[frames]
    ions = np.asarray(traj.positions_A[frames][:, mobile], dtype=np.float64)
    out = {"coordination": {}, "rdf": {}}
    out["rdf"]["Na-Na"] = structure_stats.rdf(ions, ions, cells, opts.rdf_max_A, same=True)
    if mols.members:
        centers = structure_stats.anion_centers(traj.positions_A, traj.cells_A, mols, atoms["masses_amu"], frames)
        for kind, idx in mols.by_kind().items():
            cutoff = opts.cn_cutoff_A.get(kind, structure_stats.FALLBACK_CN_CUTOFF_A)
            out["coordination"][kind] = structure_stats.coordination_numbers(ions, centers[:, idx], cells, cutoff)
            out["coordination"][kind]["time_ps"] = frames * dt_frame_ps
            out["rdf"][f"Na-{kind}"] = structure_stats.rdf(ions, centers[:, idx], cells, opts.rdf_max_A)
    out["ngp"] = structure_stats.non_gaussian_parameter(mobile_pos, dt_frame_ps)
    out["van_hove"] = structure_stats.self_van_hove(mobile_pos, dt_frame_ps)
    return out


def analyze_trajectory(traj: Trajectory, meta: RunMetadata, run_dir: Path | None, opts: AnalysisOptions,
                       temperature_K: float | None = None) -> dict:
    """Run every analysis on a trajectory; returns the in-memory results (arrays included).

    ``temperature_K`` (default the set point ``meta.temperature_K``) is used for Nernst-Einstein.
    """
    atoms = _per_atom(traj, meta)
    time_ps = _frame_times(traj, meta)
    temperature_K = meta.temperature_K if temperature_K is None else temperature_K
    transport = DiffusionAnalysis(traj.positions_A, time_ps, atoms["labels"], atoms["elements"], traj.volumes_A3,
                                  temperature_K, opts).run()
    tr = transport.results
    mobile = transport.mobile_index
    act = active.active_ions(tr["mobile_per_atom_msd_A2"], tr["lag_time_ps"], opts.active_threshold_A2,
                             opts.active_lag_ps, opts.active_lag_fraction)
    ions = np.asarray(traj.positions_A[:, mobile], dtype=np.float64)  # drift-corrected, used three times
    ions = ions if tr["drift_A"] is None else ions - tr["drift_A"][:, None, :]
    act["ever_active_fraction_vs_time"] = active.ever_active_vs_time(ions, np.arange(mobile.size), None,
                                                                     opts.active_threshold_A2)
    act.update(active.rate_active_ions(ions, transport.dt_frame_ps, tr["fit_start_ps"], tr["fit_end_ps"]))
    diag = diagnostics.diffusive_diagnostics(tr["lag_time_ps"], tr["mobile_msd_A2"], tr["fit_start_ps"],
                                             tr["fit_end_ps"], act["active_fraction"], opts.criteria(),
                                             opts.diffusing_element, tr["diffusivity_resolved"],
                                             tr["diffusivity_unresolved_reason"], tr["msd_offset_A2"])
    if diag["ballistic_window"]:  # every ion's D is "resolved" in free flight: the rate definition means nothing
        act.update(fraction_d_threshold=None, fraction_d_threshold_ci68=None, n_active_d_threshold=None,
                   d_threshold_reason="fit window in the ballistic regime")
    mols = _molecules(traj, run_dir, atoms, mobile, opts)
    frame = framework.framework_check(traj.positions_A, traj.cells_A, mols, atoms["labels"], atoms["masses_amu"],
                                      mobile, tr["drift_A"], transport.dt_frame_ps)
    rot = rotation.anion_rotation(traj.positions_A, traj.cells_A, mols, atoms["masses_amu"],
                                  transport.dt_frame_ps) if mols.members else {}
    struct = _structure(traj, atoms, mols, mobile, ions, transport.dt_frame_ps, opts)
    mech = mechanism.mechanism(ions, traj.cells_A, transport.dt_frame_ps, mols, traj.positions_A, atoms["elements"],
                               atoms["masses_amu"], tr["diffusivity_cm2_s"], tr.get("diffusivity_std_cm2_s"),
                               sites_file=Path(opts.sites_file) if opts.sites_file else None,
                               element=opts.diffusing_element, min_net_hops=opts.min_net_hops,
                               coupling_window_ps=opts.coupling_window_ps,
                               reorientation_fit_start_ps=opts.reorientation_fit_start_ps,
                               site_reference_file=Path(opts.site_reference_file) if opts.site_reference_file else None,
                               drift_A=tr["drift_A"])
    act.update(mech["active_hops"])
    return {"transport": tr, "active": act, "diagnostics": diag, "rotation": rot, "structure": struct,
            "molecules": mols, "atoms": atoms, "mobile": mobile, "time_ps": time_ps, "framework": frame,
            "mechanism": mech}


def load_trajectory(path: Path, traj_format: str = "auto", dump_every: int | None = None) -> Trajectory:
    """Read a trajectory file: a LAMMPS text dump, or anything ASE reads (XDATCAR, extxyz, ...).

    ``traj_format``: ``auto`` (a LAMMPS dump when the file starts with ``ITEM: TIMESTEP``), ``lammps``
    or ``ase``; ``dump_every``: MD steps between frames of files without step numbers or time stamps
    (None: left unknown, ``Trajectory.step_source == "unknown"``).
    """
    if traj_format not in TRAJECTORY_FORMATS:
        raise ValueError(f"trajectory format {traj_format!r}; allowed {TRAJECTORY_FORMATS}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trajectory file not found: {path}")
    log.info("reading %s", path)
    if traj_format == "lammps" or (traj_format == "auto" and is_lammps_dump(path)):
        return read_lammps_dump(path)
    return read_ase_trajectory(path, dump_every=dump_every)


def _analyse_and_write(traj: Trajectory, meta: RunMetadata, run_dir: Path | None, out_dir: Path, source: Path,
                       opts: AnalysisOptions, write: bool) -> dict:
    traj = usable_trajectory(traj, meta, opts, str(source))
    records = production_records(run_dir / LOG_FILE, meta.production_start_step) if run_dir is not None else []
    thermo = production_thermo(None, records=records)
    temperature_K, t_source, t_warning = diagnostics.choose_temperature(meta.temperature_K, thermo)
    if t_warning:
        log.warning("%s: %s", source, t_warning)
    results = analyze_trajectory(traj, meta, run_dir, opts, temperature_K)
    results["transport"]["temperature_source"] = t_source
    results["thermo"] = equilibration.thermo_equilibration(records, meta.dt_ps, meta.production_start_step)
    summary = summarise(results, traj, meta, opts, source, thermo)
    summary.update(mechanism.mechanism_summary(results["mechanism"]))
    summary["warnings"] = [w for w in (t_warning,) if w] + list(traj.warnings)
    summary["warnings"] += run_warnings(results)
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
        summary["files"] = write_outputs(out_dir, results, traj, summary, opts)
        (out_dir / ANALYSIS_FILE).write_text(json.dumps(json_ready(summary), indent=2, allow_nan=False))
        log.info("wrote %s", out_dir / ANALYSIS_FILE)
    return summary


def target_fit_window(opts: AnalysisOptions, target: dict | None) -> AnalysisOptions:
    """The fit window of a run with an adaptive ``target`` (``run.json``): fixed in ps for every run of it.

    Runs of one target stop at different lengths; fitted over fractions of their own length they
    would use different lags (and different active-Na lags). Unless the options give an explicit
    window, such a run is fitted over ``opts.fit_fraction`` of the target's ``min_prod_ps`` (the
    shortest any of its runs can be), and its active-Na lag is ``opts.active_lag_fraction`` of it;
    longer runs add time origins, not longer lags.
    """
    if not target or "min_prod_ps" not in target or opts.fit_start_ps is not None or opts.fit_end_ps is not None:
        return opts
    length_ps = float(target["min_prod_ps"])
    active_lag_ps = opts.active_lag_fraction * length_ps if opts.active_lag_ps is None else opts.active_lag_ps
    return replace(opts, fit_start_ps=opts.fit_fraction[0] * length_ps, fit_end_ps=opts.fit_fraction[1] * length_ps,
                   active_lag_ps=active_lag_ps)


def analyze_run(run_dir, opts: AnalysisOptions | None = None, temperature_K: float | None = None,
                dt_ps: float | None = None, type_map: str | None = None, write: bool = True,
                out_dir=None) -> dict:
    """Analyse ``run_dir`` and write ``analysis.json`` (+ CSV, PNG, CHGCAR, cube) into ``out_dir``.

    Parameters
    ----------
    run_dir : run directory (docs/run_directory.md).
    opts : analysis parameters (default :class:`AnalysisOptions`).
    temperature_K, dt_ps, type_map : used when run.json is absent, or to override it.
    write : write the output files.
    out_dir : output folder (default ``run_dir``).

    Returns
    -------
    dict -- the content of ``analysis.json``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    opts = opts or AnalysisOptions()
    run_json = run_dir / MANIFEST_FILE if (run_dir / MANIFEST_FILE).is_file() else None
    if run_json is None:
        check_explicit(str(run_dir), temperature_K, dt_ps)
    manifest = RunManifest.read(run_dir) if run_json is not None else None
    dump = find_dump(run_dir, manifest.dump_file if manifest else None)
    opts = target_fit_window(opts, manifest.extra.get("target") if manifest else None)
    traj = load_trajectory(dump, "lammps")
    meta = resolve_metadata(run_json, temperature_K, dt_ps, type_map, _named_types(traj), str(run_dir))
    return _analyse_and_write(traj, meta, run_dir, Path(out_dir) if out_dir else run_dir, dump, opts, write)


def analyze_file(path, opts: AnalysisOptions | None = None, temperature_K: float | None = None,
                 dt_ps: float | None = None, type_map: str | None = None, write: bool = True, out_dir=None,
                 dump_every: int | None = None, traj_format: str = "auto") -> dict:
    """Analyse one trajectory file of any name (LAMMPS dump, .gz, XDATCAR, extxyz, ...).

    When the file is the dump of a run directory (its folder's ``run.json`` names it), the run's
    metadata, ``data.lmp`` and ``log.lammps`` are used as in :func:`analyze_run`; otherwise
    ``temperature_K`` and ``dt_ps`` are required and the types come from ``type_map`` or from the
    elements the file names. Frame steps come from the file, else from ``dump_every``
    (:func:`~pydriver.analysis.run_inputs.frame_steps`). Outputs go to ``out_dir`` (default the
    file's folder).
    """
    path = Path(path)
    opts = opts or AnalysisOptions()
    manifest = path.parent / MANIFEST_FILE
    run_dir = None
    if manifest.is_file() and path.name in (RunManifest.read(path.parent).dump_file,
                                            f"{RunManifest.read(path.parent).dump_file}.gz"):
        run_dir = path.parent
    else:
        check_explicit(str(path), temperature_K, dt_ps)
    traj = load_trajectory(path, traj_format, dump_every)
    meta = resolve_metadata(manifest if run_dir else None, temperature_K, dt_ps, type_map, _named_types(traj),
                            str(path))
    traj = frame_steps(traj, meta.dt_ps, dump_every, str(path))
    return _analyse_and_write(traj, meta, run_dir, Path(out_dir) if out_dir else path.parent, path, opts, write)


def _named_types(traj: Trajectory):
    return types_from_elements(traj.types, traj.elements) if traj.elements is not None else None


def output_folders(paths: list[Path], out_dir: Path | None) -> list[Path | None]:
    """Output folder per input: ``out_dir`` for one input, ``out_dir/<name>`` for several (unique names)."""
    if out_dir is None:
        return [None] * len(paths)
    if len(paths) == 1:
        return [Path(out_dir)]
    names: list[str] = []
    for p in paths:
        stem = p.name if p.is_dir() else p.name.split(".")[0] or p.name
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}_{k}", k + 1
        names.append(name)
    return [Path(out_dir) / n for n in names]


def analyze_paths(paths, opts: AnalysisOptions | None = None, out_dir=None, **kwargs):
    """Analyse run directories and trajectory files; yields ``(path, summary)`` per input.

    ``kwargs`` go to :func:`analyze_run` / :func:`analyze_file` (temperature_K, dt_ps, type_map, and for
    files dump_every, traj_format). With several inputs and ``out_dir``, each gets ``out_dir/<name>``.
    """
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"not a run directory or trajectory file: {p}")
    run_keys = ("temperature_K", "dt_ps", "type_map")
    for path, out in zip(paths, output_folders(paths, Path(out_dir) if out_dir else None)):
        if path.is_dir():
            yield path, analyze_run(path, opts, out_dir=out, **{k: v for k, v in kwargs.items() if k in run_keys})
        else:
            yield path, analyze_file(path, opts, out_dir=out, **kwargs)
