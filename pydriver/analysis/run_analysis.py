"""Analyse one run directory into ``analysis.json``, CSV tables, plots and density grids.

Entry point: :func:`analyze_run`. All keys of ``analysis.json`` carry their unit; every estimate
has its uncertainty next to it; the parameters used are recorded under ``parameters``.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pydriver.analysis import active, density, molecules, plots, rotation, structure_stats
from pydriver.analysis.dump_reader import Trajectory, read_lammps_dump
from pydriver.analysis.run_inputs import (RunMetadata, find_dump, read_data_mol_ids, resolve_metadata,
                                          thermo_means)
from pydriver.analysis.transport import DEFAULT_FIT_FRACTION, DEFAULT_N_BLOCKS, DiffusionAnalysis

log = logging.getLogger(__name__)

ANALYSIS_FORMAT = "pydriver-analysis/1"


@dataclass
class AnalysisOptions:
    """User-settable parameters (defaults documented in docs/analysis.md)."""

    diffusing_element: str = "Na"
    charge: float = 1.0
    fit_start_ps: float | None = None
    fit_end_ps: float | None = None
    fit_fraction: tuple = DEFAULT_FIT_FRACTION
    origins: str = "all"
    drift_correction: bool = True
    n_blocks: int = DEFAULT_N_BLOCKS
    uncertainty: str = "kinisi"
    active_threshold_A2: float = active.DEFAULT_ACTIVE_THRESHOLD_A2
    active_lag_ps: float | None = None
    active_lag_fraction: float = active.DEFAULT_ACTIVE_LAG_FRACTION
    cn_cutoff_A: dict = field(default_factory=lambda: dict(structure_stats.DEFAULT_CN_CUTOFF_A))
    rdf_max_A: float = structure_stats.DEFAULT_RDF_MAX_A
    max_frames: int = structure_stats.DEFAULT_MAX_FRAMES
    bond_cutoff_A: float = molecules.DEFAULT_BOND_CUTOFF_A
    density_spacing_A: float = density.DEFAULT_GRID_SPACING_A
    plots: bool = True


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
        from_data = read_data_mol_ids(run_dir / "data.lmp")
        if from_data is not None and all(int(i) in from_data for i in traj.ids):
            log.warning("molecule ids taken from data.lmp (dump has none)")
            mol_ids = np.array([from_data[int(i)] for i in traj.ids])
    anion = np.where(atoms["anion"] == "", None, atoms["anion"])
    if mol_ids is not None and np.any(mol_ids > 0):
        return molecules.from_mol_ids(mol_ids, atoms["elements"], anion, exclude=mobile)
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
    from pydriver.analysis.run_output import summarise, write_outputs

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    opts = opts or AnalysisOptions()
    meta = resolve_metadata(run_dir, temperature_K, dt_ps, type_map)
    dump = find_dump(run_dir, meta)
    log.info("reading %s", dump)
    traj = read_lammps_dump(dump)
    results = analyze_trajectory(traj, meta, run_dir, opts)
    summary = summarise(results, traj, meta, opts, dump, thermo_means(run_dir / "log.lammps"))
    if write:
        summary["files"] = write_outputs(run_dir, results, traj, summary, opts)
        (run_dir / "analysis.json").write_text(json.dumps(summary, indent=2, default=_json_default))
        log.info("wrote %s", run_dir / "analysis.json")
    return summary


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def options_dict(opts: AnalysisOptions) -> dict:
    """Options as a JSON-ready dict."""
    d = asdict(opts)
    d["fit_fraction"] = list(opts.fit_fraction)
    return d


def write_csv(path: Path, columns: dict) -> Path:
    """Write equal-length columns (name -> 1-D array) to CSV."""
    names = list(columns)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in zip(*(np.asarray(columns[n]) for n in names)):
            writer.writerow([f"{v:.8g}" if isinstance(v, (float, np.floating)) else v for v in row])
    return path
