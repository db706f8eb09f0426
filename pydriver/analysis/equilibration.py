"""Equilibration of the production thermo series: where it starts, whether it still drifts, and
means with their statistical errors.

* Start of the equilibrated part: pymbar's ``timeseries.detect_equilibration`` (Chodera, J. Chem.
  Theory Comput. 12 (2016) 1799): the first row ``t0`` that maximises the number of uncorrelated
  samples ``(N - t0) / g`` of the rest, applied to the potential energy and, under NPT, the volume;
  the later of the two starts is used.
* Means and standard errors: ``sem = std / sqrt(N / g)`` with ``g`` the statistical inefficiency
  (pymbar ``timeseries.statistical_inefficiency``; Flyvbjerg-type integrated autocorrelation), not
  the instantaneous spread, which is what ``thermo_*_std`` in ``run`` gives.
* Drift: OLS slope over the equilibrated part, its error scaled by ``sqrt(g)`` of the residuals
  (N / g independent samples); a drift is reported when ``|slope| / error`` exceeds the two-sided
  :data:`DRIFT_LEVEL` quantile of Student's t with ``N / g - 2`` degrees of freedom (2.58 for many
  independent samples, more for few: g estimated from a short series is biased low). On AR(1)
  series without drift the false-alarm rate is 1-3.5 % for N / g >= 100 and 4-6 % for
  N / g = 8-20.

Thermo columns are those of the decks' ``thermo_style`` (units metal: K, eV, A^3).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import stats

from pydriver.analysis.diffusion import fit_line

log = logging.getLogger(__name__)


def _timeseries():
    """pymbar's ``timeseries`` module, imported on first use (heavy; its loggers silenced first)."""
    for name in ("pymbar", "pymbar.timeseries", "pymbar.mbar_solvers"):  # import-time banners (JAX, cautions)
        logging.getLogger(name).setLevel(logging.ERROR)
    from pymbar import timeseries  # optional heavy dependency, loaded when a series is analysed

    return timeseries

#: two-sided significance level of the drift test
DRIFT_LEVEL = 0.01
#: fewest rows for detection and statistics; shorter series give null values and a warning
MIN_ROWS = 10
#: thermo columns (decks' thermo_style) -> output name and unit
SERIES = {"Temp": ("temperature", "K"), "Volume": ("volume", "A3"), "PotEng": ("potential_energy", "eV"),
          "Press": ("pressure", "bar")}
#: candidate starts tried by the detection (every ``N // DETECTION_POINTS``-th row: cost O(N x points))
DETECTION_POINTS = 200
#: series whose equilibration start and drift are tested
DETECTED = ("PotEng", "Volume")


def statistical_inefficiency(x: np.ndarray) -> float:
    """g = 1 + 2 sum_t (1 - t/N) C(t) of a series (pymbar); 1.0 for a constant or too short series."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0.0:
        return 1.0
    return float(max(1.0, _timeseries().statistical_inefficiency(x, fft=True)))


def mean_sem(x: np.ndarray) -> tuple[float, float, float]:
    """Mean, its standard error ``std / sqrt(N / g)`` and the statistical inefficiency g."""
    x = np.asarray(x, dtype=np.float64)
    g = statistical_inefficiency(x)
    sem = float(np.std(x, ddof=1) * np.sqrt(g / x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), sem, g


def equilibration_start(x: np.ndarray) -> int:
    """Index of the first equilibrated row of ``x`` (pymbar ``detect_equilibration``); 0 for a constant."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < MIN_ROWS or np.ptp(x) == 0.0:
        return 0
    t0, _, _ = _timeseries().detect_equilibration(x, fast=True, nskip=max(1, x.size // DETECTION_POINTS))
    return int(t0)


def drift(time_ps: np.ndarray, x: np.ndarray) -> dict:
    """Linear drift of ``x`` over ``time_ps``: slope, its error with the statistical inefficiency, z.

    Returns
    -------
    dict -- ``slope_per_ps``, ``slope_std_per_ps`` (OLS error x sqrt(g) of the residuals),
    ``z`` (slope / error), ``z_critical`` (t quantile), ``relative_change`` (slope x span / |mean|),
    ``significant`` (z > z_critical).
    """
    t, x = np.asarray(time_ps, dtype=np.float64), np.asarray(x, dtype=np.float64)
    slope, intercept, cov = fit_line(t, x)  # OLS: cov scaled by the residual variance
    g = statistical_inefficiency(x - (slope * t + intercept))
    sigma = float(np.sqrt(cov[0, 0] * g))
    z = abs(slope) / sigma if sigma > 0 else (0.0 if slope == 0 else float("inf"))
    critical = float(stats.t.ppf(1.0 - 0.5 * DRIFT_LEVEL, max(1.0, t.size / g - 2.0)))
    mean = float(x.mean())
    return {"slope_per_ps": float(slope), "slope_std_per_ps": sigma, "z": float(z), "z_critical": critical,
            "relative_change": float(slope * np.ptp(t) / abs(mean)) if mean else float("nan"),
            "significant": bool(z > critical)}


def thermo_equilibration(records: list[dict], dt_ps: float, production_start_step: int | None = None) -> dict:
    """Equilibrated part, drifts and means of the production thermo rows.

    Parameters
    ----------
    records : production thermo rows as {column header: value}, in step order (from
        :func:`pydriver.analysis.run_inputs.production_records`).
    dt_ps : MD time step (ps).
    production_start_step : step of time 0 (default the first row's step).

    Returns
    -------
    dict -- ``n_rows``, ``equilibrated_from_step``, ``equilibrated_from_ps``, ``n_equilibrated_rows``,
    per series present (``temperature``, ``volume``, ``potential_energy``, ``pressure``)
    ``<name>_mean_<unit>``, ``<name>_sem_<unit>``, ``<name>_statistical_inefficiency``, ``drift``
    ({name: :func:`drift`} for volume and potential energy) and ``drift_warnings`` (sentences);
    empty when there are no rows; only ``n_rows`` and a warning when fewer than :data:`MIN_ROWS`.
    """
    if not records:
        return {}
    if len(records) < MIN_ROWS:
        return {"n_rows": len(records),
                "drift_warnings": [f"{len(records)} production thermo rows (< {MIN_ROWS}): equilibration "
                                   "not tested; print thermo more often (thermo_every)"]}
    steps = np.array([r["Step"] for r in records], dtype=np.float64)
    start_step = steps[0] if production_start_step is None else float(production_start_step)
    time_ps = (steps - start_step) * dt_ps
    columns = {c: np.array([r[c] for r in records], dtype=np.float64) for c in SERIES
               if all(c in r for r in records)}
    t0 = max([equilibration_start(columns[c]) for c in DETECTED if c in columns], default=0)
    t0 = min(t0, len(records) - MIN_ROWS)  # keep enough rows for the statistics
    out: dict = {"n_rows": len(records), "equilibrated_from_step": int(steps[t0]),
                 "equilibrated_from_ps": round(float(time_ps[t0]), 9), "n_equilibrated_rows": len(records) - t0,
                 "drift": {}, "drift_warnings": []}
    for column, values in columns.items():
        name, unit = SERIES[column]
        mean, sem, g = mean_sem(values[t0:])
        out.update({f"{name}_mean_{unit}": mean, f"{name}_sem_{unit}": sem, f"{name}_statistical_inefficiency": g})
        if column in DETECTED and np.ptp(values[t0:]) > 0:
            d = drift(time_ps[t0:], values[t0:])
            out["drift"][name] = d
            if d["significant"]:
                out["drift_warnings"].append(
                    f"{name.replace('_', ' ')} still drifts in production after {time_ps[t0]:.3g} ps: "
                    f"{d['slope_per_ps']:.3g} {unit}/ps ({100 * d['relative_change']:+.2g} % over the part, "
                    f"{d['z']:.1f} sigma); equilibrate longer")
    return out
