"""Turn in-memory analysis results into the ``analysis.json`` summary and the CSV/PNG/grid files."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from pydriver import __version__
from pydriver.analysis import density, plots
from pydriver.analysis.labels import run_title
from pydriver.analysis.trajectory import Trajectory
from pydriver.analysis.options import AnalysisOptions
from pydriver.analysis.run_inputs import RunMetadata
from pydriver.rundir import (ANALYSIS_TABLE_FILE, MSD_PLOT_FILE, MSD_TABLE_FILE, NGP_TABLE_FILE, PER_ATOM_FILE,
                             REORIENTATION_PLOT_FILE, REORIENTATION_TABLE_FILE, SITE_HOPS_TABLE_FILE,
                             SITES_TABLE_FILE, VAN_HOVE_TABLE_FILE, AnalysisSummary, coordination_table_file,
                             density_grid_files, rdf_table_file)

log = logging.getLogger(__name__)

TRANSPORT_ARRAYS = ("lag_time_ps", "msd_A2", "mobile_msd_A2", "mobile_per_atom_msd_A2", "mscd_A2", "drift_A")


def summarise(results: dict, traj: Trajectory, meta: RunMetadata, opts: AnalysisOptions, dump: Path,
              thermo: dict) -> dict:
    """The JSON-ready summary (scalars and small tables only)."""
    tr = results["transport"]
    transport = {k: v for k, v in tr.items() if k not in TRANSPORT_ARRAYS}
    diag = results["diagnostics"]
    transport["diffusive"] = diag["diffusive"]
    transport["bound"] = None if diag["diffusive"] else "upper"
    if not diag["diffusive"]:
        transport["flag"] = (f"not diffusive ({diag['reason']}): diffusivity and conductivity are upper bounds "
                             "and the run is excluded from Arrhenius fits")
    act = {k: v for k, v in results["active"].items() if not isinstance(v, np.ndarray)}
    coordination = {kind: {k: v for k, v in c.items() if not isinstance(v, np.ndarray)}
                    for kind, c in results["structure"]["coordination"].items()}
    final_msd = {label: float(m[-1]) for label, m in tr["msd_A2"].items()}
    half = int(np.argmin(np.abs(tr["lag_time_ps"] - 0.5 * tr["lag_time_ps"][-1])))
    measured = {k.replace("thermo_temperature", "measured_temperature"): v for k, v in thermo.items()
                if k.startswith("thermo_temperature")}
    frame = results.get("framework")
    if frame is not None:
        diag = {**diag, "framework_solid": frame["solid"], "framework_reason": frame["reason"]}
    extra = {"thermo": results.get("thermo") or {}}
    if frame is not None:
        extra["framework"] = {k: v for k, v in frame.items() if k not in ("solid", "reason")}
    return AnalysisSummary(
        pydriver_version=__version__,
        run={"dump_file": str(dump.name), "source_format": traj.source_format, "metadata_source": meta.source,
             "formula": meta.formula, "structure_source": meta.structure_source,
             "structure_name": meta.structure_name,
             "anion_counts": meta.anion_counts, "temperature_K": meta.temperature_K,
             "set_temperature_K": meta.temperature_K, **measured, "dt_ps": meta.dt_ps,
             "mass_factors": meta.mass_factors,
             "production_start_step": meta.production_start_step, "n_frames": traj.n_frames,
             "n_atoms": traj.n_atoms, "first_step": int(traj.steps[0]), "last_step": int(traj.steps[-1]),
             "coordinates": traj.coordinates, "reader_warnings": traj.warnings,
             "types": {str(t): {"label": i.label, "element": i.element, "anion": i.anion,
                                "mass_amu": i.mass_amu} for t, i in meta.types.items()},
             **thermo},
        parameters=opts.to_dict(),
        transport=transport,
        diagnostics=diag,
        msd_at_half_run_A2={label: float(m[half]) for label, m in tr["msd_A2"].items()},
        msd_at_end_A2=final_msd,
        active=act,
        rotation=results["rotation"],
        anions={"source": results["molecules"].source,
                "counts": {k: len(v) for k, v in results["molecules"].by_kind().items()}},
        coordination=coordination,
        extra=extra,
    ).to_dict()


def run_warnings(results: dict) -> list[str]:
    """Warnings of the framework check and of the production thermo series (drift, too few rows)."""
    out = list((results.get("thermo") or {}).get("drift_warnings", []))
    frame = results.get("framework")
    if frame is not None and not frame["solid"]:
        out.append(f"framework not solid ({frame['reason']}): the run is marked in reports and excluded from "
                   "Arrhenius fits")
    return out


def per_atom_table(results: dict, ids: np.ndarray) -> dict:
    """Per-atom columns of the diffusing species in dump-id order: ``id``, ``msd_A2``, ``active``.

    ``msd_A2`` is each ion's MSD at the last lag (the end of the run, drift removed); ``active``
    is 1 when its origin-averaged MSD at the active lag reaches the active threshold (SCIENCE.md).
    """
    mobile = results["mobile"]
    order = np.argsort(ids[mobile], kind="stable")
    act = results["active"]
    active_flags = np.asarray(act["ion_msd_at_lag_A2"]) >= act["active_threshold_A2"]
    per_atom = results["transport"]["mobile_per_atom_msd_A2"]
    return {"id": ids[mobile][order], "msd_A2": np.asarray(per_atom[-1])[order],
            "active": active_flags[order].astype(int)}


def write_outputs(run_dir: Path, results: dict, traj: Trajectory, summary: dict, opts: AnalysisOptions) -> dict:
    """Write CSV tables, plots and density grids; returns ``{name: filename}``."""
    tr, st = results["transport"], results["structure"]
    files = {}
    columns = {"lag_time_ps": tr["lag_time_ps"]}
    columns.update({f"msd_A2_{label}": m for label, m in tr["msd_A2"].items()})
    columns["mscd_A2"] = tr["mscd_A2"]
    columns["active_fraction_vs_lag"] = results["active"]["active_fraction_vs_lag"]
    columns["ever_active_fraction_vs_time"] = results["active"]["ever_active_fraction_vs_time"]
    files["msd_csv"] = write_csv(run_dir / MSD_TABLE_FILE, columns).name
    files["per_atom_csv"] = write_csv(run_dir / PER_ATOM_FILE, per_atom_table(results, traj.ids)).name
    files["summary_csv"] = write_csv(run_dir / ANALYSIS_TABLE_FILE,
                                     {k: [v] for k, v in _flat_scalars(summary).items()}).name
    for kind, c in st["coordination"].items():
        files[f"cn_{kind}_csv"] = write_csv(run_dir / coordination_table_file(kind),
                                            {"time_ps": c["time_ps"], "mean_cn": c["mean_cn_vs_frame"]}).name
    for pair, g in st["rdf"].items():
        files[f"rdf_{pair}_csv"] = write_csv(run_dir / rdf_table_file(pair), {"r_A": g["r_A"], "g": g["g"]}).name
    files["ngp_csv"] = write_csv(run_dir / NGP_TABLE_FILE, {"lag_time_ps": st["ngp"]["lag_time_ps"],
                                                          "alpha2": st["ngp"]["alpha2"]}).name
    vh = st["van_hove"]
    vh_cols = {"r_A": vh["r_A"]}
    vh_cols.update({f"radial_probability_per_A_t{t:.4g}ps": vh[f"{t:.4g}"]["radial_probability_per_A"]
                    for t in vh["lags_ps"]})
    files["van_hove_csv"] = write_csv(run_dir / VAN_HOVE_TABLE_FILE, vh_cols).name
    files.update(_write_density(run_dir, results, traj, opts))
    files.update(write_mechanism_tables(run_dir, results.get("mechanism") or {}, traj.cells_A.mean(axis=0)))
    if opts.plots:
        files["msd_png"] = plots.plot_msd(run_dir / MSD_PLOT_FILE, tr["lag_time_ps"], tr["msd_A2"], tr["fit_start_ps"],
                                          tr["fit_end_ps"], tr["diffusivity_cm2_s"], _mobile_label(results),
                                          title=run_title(summary["run"]),
                                          flag=None if summary["diagnostics"]["diffusive"] else "not diffusive: "
                                          "D is an upper bound").name
        reorient = (results.get("mechanism") or {}).get("reorientation") or {}
        if reorient:
            files["reorientation_png"] = plots.plot_reorientation(run_dir / REORIENTATION_PLOT_FILE, reorient,
                                                                  title=run_title(summary["run"])).name
    return files


def site_table(mech: dict, cell_A: np.ndarray) -> dict:
    """Columns of ``sites.csv``: one row per site of the mobile ions (empty without sites).

    ``site`` (index used by ``site_hops.csv``), ``frac_a/b/c`` and ``x_A/y_A/z_A`` (position in the
    mean cell ``cell_A``), ``family`` (-1 for sites found from the density), ``core_radius_A``,
    ``occupancy`` (mean ions holding the site) with ``occupancy_std``, ``n_departures`` (hops out of
    it), ``residence_time_ps`` (ion time on the site / hops out of it; ``nan`` when no ion left it) with
    ``residence_time_std_ps`` (Poisson, ``tau / sqrt(n_departures)``), ``slab`` (anion kind of the
    slab the site is in, ``sites.slabs.kind_per_site``; empty when the run has no anion slabs) and,
    with slabs, ``cn_<kind>`` per anion kind (centres of that kind within its coordination cutoff,
    ``sites.slabs.coordination_per_site``).
    """
    sites, events = mech.get("sites") or {}, mech.get("hop_events")
    if not sites.get("n_sites") or "frac" not in sites:
        return {}
    frac = np.asarray(sites["frac"], dtype=float)
    n = frac.shape[0]
    cart = frac @ np.asarray(cell_A, dtype=float)
    departures = (np.bincount(events.from_site, minlength=n) if events is not None else np.zeros(n, int))
    occupied = np.asarray(sites["occupied_time_ps"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        residence = np.where(departures > 0, occupied / np.maximum(departures, 1), np.nan)
    family = sites.get("family")
    slabs = sites.get("slabs") or {}
    slab_kind = slabs.get("kind_per_site")
    table = {"site": np.arange(n), "frac_a": frac[:, 0], "frac_b": frac[:, 1], "frac_c": frac[:, 2],
             "x_A": cart[:, 0], "y_A": cart[:, 1], "z_A": cart[:, 2],
             "family": np.asarray(family, dtype=int) if family is not None else np.full(n, -1),
             "core_radius_A": np.asarray(sites["core_radius_A"], dtype=float),
             "occupancy": np.asarray(sites["occupancy_per_site"], dtype=float),
             "occupancy_std": np.asarray(sites["occupancy_std_per_site"], dtype=float),
             "n_departures": departures, "residence_time_ps": residence,
             "residence_time_std_ps": residence / np.sqrt(np.maximum(departures, 1)),
             "slab": np.array(slab_kind if slab_kind is not None else [""] * n, dtype=object)}
    for kind, counts in sorted((slabs.get("coordination_per_site") or {}).items()):
        table[f"cn_{kind}"] = np.asarray(counts, dtype=int)
    return table


def site_hop_table(mech: dict) -> dict:
    """Columns of ``site_hops.csv``: ``from_site``, ``to_site``, ``n_hops`` for every ordered pair with hops."""
    events = mech.get("hop_events")
    if events is None:
        return {}
    pairs, counts = (np.unique(np.stack([events.from_site, events.to_site], axis=1), axis=0, return_counts=True)
                     if events.n_hops else (np.zeros((0, 2), int), np.zeros(0, int)))
    return {"from_site": pairs[:, 0], "to_site": pairs[:, 1], "n_hops": counts}


def reorientation_table(reorientation: dict) -> dict:
    """Columns of ``reorientation.csv``: ``lag_time_ps`` and ``c1_<kind>``, ``c2_<kind>`` per anion kind."""
    if not reorientation:
        return {}
    lags = [np.asarray(e["lag_time_ps"]) for e in reorientation.values()]
    lag = max(lags, key=len)
    columns = {"lag_time_ps": lag}
    for kind, entry in reorientation.items():
        for l in (1, 2):
            c = np.full(lag.size, np.nan)
            values = np.asarray(entry[f"c{l}"], dtype=float)
            c[:values.size] = values
            columns[f"c{l}_{kind}"] = c
    return columns


def write_mechanism_tables(run_dir: Path, mech: dict, cell_A: np.ndarray) -> dict:
    """Write ``sites.csv``, ``site_hops.csv`` and ``reorientation.csv`` where there is something to write."""
    files = {}
    for key, name, columns in (("sites_csv", SITES_TABLE_FILE, site_table(mech, cell_A)),
                               ("site_hops_csv", SITE_HOPS_TABLE_FILE, site_hop_table(mech)),
                               ("reorientation_csv", REORIENTATION_TABLE_FILE,
                                reorientation_table(mech.get("reorientation") or {}))):
        if columns:
            files[key] = write_csv(run_dir / name, columns).name
    return files


def _mobile_label(results) -> str:
    labels = results["atoms"]["labels"][results["mobile"]]
    return str(labels[0])


def _write_density(run_dir: Path, results: dict, traj: Trajectory, opts: AnalysisOptions) -> dict:
    mobile = results["mobile"]
    cell = traj.cells_A.mean(axis=0)
    shape = density.grid_shape(cell, opts.density_spacing_A)
    frames = np.arange(traj.n_frames)
    grid = density.probability_density(traj.positions_A, traj.cells_A, mobile, shape, frames)
    pos0 = np.asarray(traj.positions_A[0], dtype=np.float64)
    frac0 = (pos0 @ np.linalg.inv(traj.cells_A[0])) % 1.0
    symbols = results["atoms"]["elements"]
    comment = f"{opts.diffusing_element} probability density from {traj.n_frames} frames"
    chgcar_name, cube_name = density_grid_files(opts.diffusing_element)
    chg = density.write_chgcar(run_dir / chgcar_name, grid, cell, symbols, frac0,
                               comment)
    cube = density.write_cube(run_dir / cube_name, grid, cell, symbols,
                              frac0 @ cell, comment)
    return {"density_chgcar": chg.name, "density_cube": cube.name}


def _flat_scalars(summary: dict, prefix: str = "") -> dict:
    """Flatten nested scalars (``transport.diffusivity_cm2_s``) for the one-row CSV."""
    out = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_scalars(value, f"{name}."))
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[name] = value
    return out


def json_ready(obj):
    """Copy of ``obj`` for strict JSON: numpy values as Python ones, NaN and inf as ``None``.

    An undefined number is never written as a number: its reason is recorded next to it (the
    ``undefined`` maps of ``analysis.json``), and strict JSON readers (jq, JavaScript) cannot parse NaN.
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_csv(path: Path, columns: dict) -> Path:
    """Write equal-length columns (name -> 1-D array) to CSV."""
    names = list(columns)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in zip(*(np.asarray(columns[n]) for n in names)):
            writer.writerow([f"{v:.8g}" if isinstance(v, (float, np.floating)) else v for v in row])
    return path
