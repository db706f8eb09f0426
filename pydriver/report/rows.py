"""One flat, unit-suffixed table row per analysed run (``analysis.json``), with human names.

Rows name runs as people do (:mod:`pydriver.analysis.labels`): ``structure`` (``NaBH4``,
``Na3(BH4)(B12H12) (oNBH)``), ``mass_factors`` (``BH4 x5`` or ``unscaled``), and carry every value
with its uncertainty; an undefined value is ``None`` with its reason in ``undefined``.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

from pydriver.analysis.labels import mass_factor_label, structure_name
from pydriver.model_file import read_metadata
from pydriver.report.mechanism import mechanism_columns
from pydriver.rundir import ANALYSIS_FILE, MANIFEST_FILE, AnalysisSummary, RunManifest

log = logging.getLogger(__name__)

UNSCALED = "unscaled"
TRANSPORT_KEYS = ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "conductivity_mS_cm", "conductivity_std_mS_cm",
                  "charge_diffusivity_cm2_s", "charge_diffusivity_std_cm2_s", "haven_ratio", "haven_ratio_std",
                  "mean_volume_A3", "diffusivity_sigma_ln", "diffusivity_ci68_cm2_s", "diffusivity_ci95_cm2_s",
                  "diffusivity_upper_bound_95_cm2_s", "conductivity_ci95_mS_cm", "conductivity_upper_bound_95_mS_cm",
                  "haven_ratio_ci68")


def find_analyses(paths) -> list[Path]:
    """``analysis.json`` files in the given run directories or below the given folders."""
    found = []
    for p in map(Path, paths):
        if p.is_file() and p.name == ANALYSIS_FILE:
            found.append(p)
        elif (p / ANALYSIS_FILE).is_file():
            found.append(p / ANALYSIS_FILE)
        elif p.is_dir():
            found.extend(sorted(p.rglob(ANALYSIS_FILE)))
        else:
            raise FileNotFoundError(f"not a run directory or folder: {p}")
    if not found:
        raise FileNotFoundError(f"no {ANALYSIS_FILE} under {[str(p) for p in paths]}; run `analyze` first")
    return sorted(set(found))


def mass_key(mass_factors: dict, anion_kinds=None) -> tuple[str, float]:
    """(scaled anion kinds, factor): ``("B12H12", 5.0)``; unscaled runs give ``("none", 1.0)``."""
    scaled = {k: float(v) for k, v in (mass_factors or {}).items()
              if float(v) != 1.0 and (anion_kinds is None or k in anion_kinds)}
    if not scaled:
        return "none", 1.0
    return "+".join(sorted(scaled)), max(scaled.values())


def _model_dtype(run_dir: Path, model: dict) -> str | None:
    """The model's precision: recorded in ``run.json``, else read from the model file's metadata."""
    if model.get("dtype"):
        return str(model["dtype"])
    path = Path(str(model.get("path") or ""))
    path = path if path.is_absolute() else run_dir / path
    return _file_dtype(str(path.resolve()), path.stat().st_mtime_ns) if path.is_file() else None


@lru_cache(maxsize=16)
def _file_dtype(path: str, _mtime_ns: int) -> str | None:
    """dtype in a model file's metadata (cached per file version: the runs of a sweep share one file)."""
    try:
        return str(read_metadata(path).get("dtype"))
    except (OSError, ValueError, KeyError):
        return None


def run_settings(run_dir: Path, run: dict) -> dict:
    """What a run actually used, from its ``run.json`` (absent: ``None`` values).

    Returns
    -------
    dict -- ``structure_file`` (file name), ``seed``, ``pressure_bar``, ``dt_fs``, ``production_ps``
    (analysed), ``barostat`` (coupling), ``model_dtype``, ``model_sha256`` (first 12 hex digits).
    """
    out = {"structure_file": Path(str(run.get("structure_source"))).name if run.get("structure_source") else None,
           "seed": None, "pressure_bar": None, "dt_fs": float(run["dt_ps"]) * 1e3 if run.get("dt_ps") else None,
           "production_ps": None, "barostat": None, "model_dtype": None, "model_sha256": None}
    if run.get("first_step") is not None and run.get("last_step") is not None and run.get("dt_ps"):
        out["production_ps"] = (int(run["last_step"]) - int(run["first_step"])) * float(run["dt_ps"])
    manifest = run_dir / MANIFEST_FILE
    if not manifest.is_file():
        return out
    try:
        m = RunManifest.read(run_dir)
    except (OSError, ValueError):
        return out
    model = m.model or {}
    out.update({"seed": m.seed, "pressure_bar": m.pressure_bar, "barostat": (m.barostat or {}).get("couple"),
                "model_dtype": _model_dtype(run_dir, model),
                "model_sha256": str(model["sha256"])[:12] if model.get("sha256") else None})
    return out


def run_row(path: Path) -> dict:
    """One table row (flat, unit-suffixed) from an ``analysis.json``.

    Raises
    ------
    ValueError
        If the file is not an ``analysis.json`` of a known format.
    """
    summary = AnalysisSummary.from_dict(json.loads(Path(path).read_text()), str(path))
    run, tr, diag = summary.run, summary.transport, summary.diagnostics
    kinds = run.get("anion_counts") or (summary.anions.get("counts") or None)
    scaled, factor = mass_key(run.get("mass_factors"), kinds)
    row = {"run_dir": str(Path(path).parent), "structure": structure_name(run), "formula": run.get("formula") or "",
           "temperature_K": run["temperature_K"],
           "mass_factors": mass_factor_label(run.get("mass_factors"), kinds) or UNSCALED,
           "scaled_anions": scaled, "mass_factor": factor,
           "fit_temperature_K": tr.get("temperature_K", run["temperature_K"]),
           "temperature_source": tr.get("temperature_source", "set point"),
           "measured_temperature_K": run.get("measured_temperature_K"),
           "measured_temperature_std_K": run.get("measured_temperature_std_K")}
    row.update({key: tr.get(key) for key in TRANSPORT_KEYS})
    row["diffusive"] = diag.get("diffusive")  # None: analysed before the diagnostics existed
    row["not_diffusive_reason"] = diag.get("reason")
    row["loglog_slope"] = diag.get("loglog_slope")
    row["loglog_slope_minus_offset"] = diag.get("loglog_slope_minus_offset")  # 1: diffusive past the plateau
    row["msd_end_of_window_A2"] = diag.get("msd_end_of_window_A2")
    act = summary.active
    row["active_fraction"] = act.get("fraction_msd_21A2", act["active_fraction"])  # MSD >= 21 A^2 in the run
    row["active_fraction_ci68"] = act.get("fraction_msd_21A2_ci68")
    row["active_fraction_d_threshold"] = act.get("fraction_d_threshold")  # D resolved above 21 A^2 / 6 ns
    row["active_fraction_d_threshold_ci68"] = act.get("fraction_d_threshold_ci68")
    row["active_n_active"], row["active_n_ions"] = act.get("n_active"), act.get("n_ions")  # replicate pooling
    # False: the framework melted, diffused or the cell changed shape; None: analysed before the check existed
    row["framework_solid"] = diag.get("framework_solid")
    row["framework_reason"] = diag.get("framework_reason")
    thermo = summary.extra.get("thermo") or {}
    row["equilibrated_from_ps"] = thermo.get("equilibrated_from_ps")
    row["thermo_drift_warnings"] = list(thermo.get("drift_warnings") or [])
    for kind, rot in summary.rotation.items():
        row[f"rotation_{kind}_rad_ps"] = rot["rotation_rate_rad_ps"]
        row[f"rotation_{kind}_std_rad_ps"] = rot["rotation_rate_std_rad_ps"]
    row.update(mechanism_columns(summary.extra, act))
    row["undefined"] = dict(tr.get("undefined") or {})
    row.update(run_settings(Path(path).parent, run))
    row["temperature_warning"] = next((w for w in summary.warnings if "measured mean temperature" in w), None)
    return row
