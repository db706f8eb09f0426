"""Analyse one run directory into ``analysis.json``, CSV tables, plots and density grids.

Entry point: :func:`analyze_run`. All keys of ``analysis.json`` carry their unit; every estimate
has its uncertainty next to it; the parameters used are recorded under ``parameters``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from pydriver.analysis import active, molecules, rotation, structure_stats
from pydriver.analysis.dump_reader import Trajectory, read_lammps_dump
from pydriver.analysis.options import AnalysisOptions
from pydriver.analysis.run_inputs import (RunMetadata, find_dump, read_data_mol_ids, resolve_metadata,
                                          thermo_means)
from pydriver.analysis.run_output import json_ready, summarise, write_outputs
from pydriver.analysis.transport import DiffusionAnalysis
from pydriver.rundir import ANALYSIS_FILE, DATA_FILE, LOG_FILE

log = logging.getLogger(__name__)

__all__ = ["AnalysisOptions", "analyze_run", "analyze_trajectory"]


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


def _molecules(traj: Trajectory, run_dir: Path, atoms: dict, mobile: np.ndarray, opts: AnalysisOptions):
    mol_ids = traj.mol_ids
    if mol_ids is None or not np.any(mol_ids > 0):
        from_data = read_data_mol_ids(run_dir / DATA_FILE)
        if from_data is not None and all(int(i) in from_data for i in traj.ids):
            log.warning("molecule ids taken from data.lmp (dump has none)")
            mol_ids = np.array([from_data[int(i)] for i in traj.ids])
    anion = np.where(atoms["anion"] == "", None, atoms["anion"])
    if mol_ids is not None and np.any(mol_ids > 0):
        return molecules.from_mol_ids(mol_ids, atoms["elements"], anion, exclude=mobile,
                                      bond_cutoff_A=opts.bond_cutoff_A)
    log.warning("no molecule ids: anions detected as bond clusters (cutoff %.2f A) in the first frame",
                opts.bond_cutoff_A)
    candidates = np.setdiff1d(np.arange(traj.n_atoms), mobile)
    return molecules.from_clusters(traj.positions_A[0], traj.cells_A[0], candidates, atoms["elements"], anion,
                                   opts.bond_cutoff_A)


def _structure(traj, atoms, mols, mobile, drift, dt_frame_ps, opts: AnalysisOptions) -> dict:
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
    mobile_pos = np.asarray(traj.positions_A[:, mobile], dtype=np.float64)
    if drift is not None:
        mobile_pos -= drift[:, None, :]
    out["ngp"] = structure_stats.non_gaussian_parameter(mobile_pos, dt_frame_ps)
    out["van_hove"] = structure_stats.self_van_hove(mobile_pos, dt_frame_ps)
    return out


def analyze_trajectory(traj: Trajectory, meta: RunMetadata, run_dir: Path, opts: AnalysisOptions) -> dict:
    """Run every analysis on a trajectory; returns the in-memory results (arrays included)."""
    atoms = _per_atom(traj, meta)
    time_ps = _frame_times(traj, meta)
    transport = DiffusionAnalysis(traj.positions_A, time_ps, atoms["labels"], atoms["elements"], traj.volumes_A3,
                                  meta.temperature_K, opts.diffusing_element, opts.charge, opts.fit_start_ps,
                                  opts.fit_end_ps, opts.fit_fraction, opts.origins, opts.drift_correction,
                                  opts.n_blocks, opts.uncertainty).run()
    tr = transport.results
    mobile = transport.mobile_index
    act = active.active_ions(tr["mobile_per_atom_msd_A2"], tr["lag_time_ps"], opts.active_threshold_A2,
                             opts.active_lag_ps, opts.active_lag_fraction)
    act["ever_active_fraction_vs_time"] = active.ever_active_vs_time(traj.positions_A, mobile, tr["drift_A"],
                                                                     opts.active_threshold_A2)
    mols = _molecules(traj, run_dir, atoms, mobile, opts)
    rot = rotation.anion_rotation(traj.positions_A, traj.cells_A, mols, atoms["masses_amu"],
                                  transport.dt_frame_ps) if mols.members else {}
    struct = _structure(traj, atoms, mols, mobile, tr["drift_A"], transport.dt_frame_ps, opts)
    return {"transport": tr, "active": act, "rotation": rot, "structure": struct, "molecules": mols,
            "atoms": atoms, "mobile": mobile, "time_ps": time_ps}


def analyze_run(run_dir, opts: AnalysisOptions | None = None, temperature_K: float | None = None,
                dt_ps: float | None = None, type_map: str | None = None, write: bool = True) -> dict:
    """Analyse ``run_dir`` and write ``analysis.json`` (+ CSV, PNG, CHGCAR, cube) into it.

    Parameters
    ----------
    run_dir : run directory (docs/run_directory.md).
    opts : analysis parameters (default :class:`AnalysisOptions`).
    temperature_K, dt_ps, type_map : used when run.json is absent, or to override it.
    write : write the output files.

    Returns
    -------
    dict -- the content of ``analysis.json``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    opts = opts or AnalysisOptions()
    meta = resolve_metadata(run_dir, temperature_K, dt_ps, type_map)
    dump = find_dump(run_dir, meta)
    log.info("reading %s", dump)
    traj = read_lammps_dump(dump)
    results = analyze_trajectory(traj, meta, run_dir, opts)
    summary = summarise(results, traj, meta, opts, dump, thermo_means(run_dir / LOG_FILE))
    if write:
        summary["files"] = write_outputs(run_dir, results, traj, summary, opts)
        (run_dir / ANALYSIS_FILE).write_text(json.dumps(json_ready(summary), indent=2, allow_nan=False))
        log.info("wrote %s", run_dir / ANALYSIS_FILE)
    return summary
