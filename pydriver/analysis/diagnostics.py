"""Is a run diffusive? Diagnostics that say when D and sigma mean nothing, and the measured temperature.

A run is *diffusive* when, over the MSD fit window, the MSD grows linearly in time (log-log slope
near 1: not ballistic, not caged) and the diffusing ions have gone far enough to have left their
sites (mean MSD at the end of the window at least the study's active threshold, 21 A^2, see
SCIENCE.md). Otherwise the fitted D (and sigma) is reported as an upper bound: a slope fitted to the
ballistic or caging part of the MSD overestimates the long-time D.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from pydriver.analysis.active import DEFAULT_ACTIVE_THRESHOLD_A2

log = logging.getLogger(__name__)

DEFAULT_MIN_LOGLOG_SLOPE = 0.8
DEFAULT_MAX_LOGLOG_SLOPE = 1.2
DEFAULT_MIN_MSD_A2 = DEFAULT_ACTIVE_THRESHOLD_A2  # the study's active threshold
TEMPERATURE_TOLERANCE = 0.03  # warn when the measured mean differs from the set point by more (relative)


@dataclass
class DiffusiveCriteria:
    """Named, overridable thresholds of the diffusive regime (defaults: slope 0.8-1.2, MSD >= 21 A^2)."""

    min_loglog_slope: float = DEFAULT_MIN_LOGLOG_SLOPE
    max_loglog_slope: float = DEFAULT_MAX_LOGLOG_SLOPE
    min_msd_A2: float = DEFAULT_MIN_MSD_A2

    def __post_init__(self):
        if not 0 < self.min_loglog_slope < self.max_loglog_slope:
            raise ValueError(f"diffusive slope range ({self.min_loglog_slope}, {self.max_loglog_slope}) must be "
                             "0 < low < high")
        if self.min_msd_A2 <= 0:
            raise ValueError(f"diffusive min MSD {self.min_msd_A2} A^2 must be > 0")


def loglog_slope(lag_time_ps: np.ndarray, msd_A2: np.ndarray) -> float:
    """Least-squares slope of ``log MSD`` vs ``log t`` (1 for diffusion, 2 ballistic, ~0 caged).

    Parameters
    ----------
    lag_time_ps : (n,) lags inside the fit window.
    msd_A2 : (n,) MSD at those lags.

    Returns
    -------
    float -- the slope; NaN when fewer than 2 lags have ``t > 0`` and ``MSD > 0``.
    """
    t, m = np.asarray(lag_time_ps, dtype=np.float64), np.asarray(msd_A2, dtype=np.float64)
    keep = (t > 0) & (m > 0)
    if keep.sum() < 2 or np.ptp(np.log(t[keep])) == 0:
        return float("nan")
    return float(np.polyfit(np.log(t[keep]), np.log(m[keep]), 1)[0])


def diffusive_diagnostics(lag_time_ps: np.ndarray, msd_A2: np.ndarray, fit_start_ps: float, fit_end_ps: float,
                          active_fraction: float, criteria: DiffusiveCriteria | None = None,
                          species: str = "Na") -> dict:
    """Diffusive-regime diagnostics of one run (the ``diagnostics`` section of ``analysis.json``).

    Parameters
    ----------
    lag_time_ps : (n_lags,) lags; msd_A2 : (n_lags,) mean MSD of the diffusing species.
    fit_start_ps, fit_end_ps : the D fit window.
    active_fraction : fraction of active ions (SCIENCE.md definition), reported alongside.
    criteria : thresholds (default :class:`DiffusiveCriteria`).
    species : name used in the reason.

    Returns
    -------
    dict -- ``loglog_slope``, ``msd_end_of_window_A2``, ``active_fraction``, ``diffusive`` (bool),
    ``reason`` (None when diffusive), ``criteria``.
    """
    criteria = criteria or DiffusiveCriteria()
    t = np.asarray(lag_time_ps, dtype=np.float64)
    sel = (t >= fit_start_ps - 1e-9) & (t <= fit_end_ps + 1e-9)
    slope = loglog_slope(t[sel], np.asarray(msd_A2)[sel])
    end_msd = float(np.asarray(msd_A2)[np.flatnonzero(sel)[-1]])
    reasons = []
    if not np.isfinite(slope):
        reasons.append("log-log MSD slope undefined (MSD not positive in the fit window)")
    elif not criteria.min_loglog_slope <= slope <= criteria.max_loglog_slope:
        regime = "sub-diffusive or caged" if slope < criteria.min_loglog_slope else "ballistic or drifting"
        reasons.append(f"log-log MSD slope {slope:.2f} outside {criteria.min_loglog_slope}-"
                       f"{criteria.max_loglog_slope} ({regime})")
    if end_msd < criteria.min_msd_A2:
        reasons.append(f"mean {species} MSD at the end of the fit window {end_msd:.3g} A^2 < {criteria.min_msd_A2:g} "
                       "A^2 (the ions have not left their sites)")
    return {"loglog_slope": slope, "msd_end_of_window_A2": end_msd, "active_fraction": float(active_fraction),
            "fit_start_ps": float(fit_start_ps), "fit_end_ps": float(fit_end_ps), "diffusive": not reasons,
            "reason": "; ".join(reasons) or None, "criteria": asdict(criteria)}


def choose_temperature(set_point_K: float, thermo: dict, tolerance: float = TEMPERATURE_TOLERANCE
                       ) -> tuple[float, str, str | None]:
    """Temperature for Nernst-Einstein and Arrhenius: the measured production mean when known.

    Parameters
    ----------
    set_point_K : thermostat set point.
    thermo : from :func:`pydriver.analysis.run_inputs.production_thermo` (may be empty).
    tolerance : relative difference above which a warning is returned.

    Returns
    -------
    temperature_K, source (``"measured"`` or ``"set point"``), warning or None.
    """
    measured = thermo.get("thermo_temperature_K")
    if measured is None or not np.isfinite(measured) or measured <= 0:
        return float(set_point_K), "set point", None
    warning = None
    if abs(measured - set_point_K) > tolerance * set_point_K:
        warning = (f"measured mean temperature {measured:.1f} K differs from the set point {set_point_K:g} K by "
                   f"{abs(measured / set_point_K - 1):.1%} (> {tolerance:.0%}); the measured one is used")
    return float(measured), "measured", warning
