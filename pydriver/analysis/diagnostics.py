"""Is a run diffusive? Diagnostics that say when D and sigma mean nothing, and the measured temperature.

A run is *diffusive* (its D is reported as measured) when the data resolve D from zero: the
per-ion estimate of :func:`pydriver.analysis.uncertainty.tracer_diffusivity` exceeds its two-sided
95 % Student-t bound. Otherwise D is reported as an upper bound (``diffusivity_upper_bound_95``)
and the reason is recorded. This test was chosen by calibration on synthetic crystals (ions
vibrating on sites and hopping, 1-20 hops per ion; docs/analysis.md): it accepts runs with one hop
per ion, rejects runs that only vibrate, and is not fooled by the vibrational MSD offset. The
study's 21 A^2 threshold is the *active-Na* definition (:mod:`pydriver.analysis.active`), not a
test of whether D is measurable; it and a log-log slope range can still be demanded here
(:class:`DiffusiveCriteria`), both off by default. The log-log slope is reported for the MSD and
for the MSD minus its fitted offset (the vibrational plateau), which is 1 for ``MSD = c + 6 D t``;
the slope gate uses the latter.

A fit window inside the ballistic regime is never diffusive (:func:`ballistic_window`): there every
ion's MSD grows like t^2, so each ion's D is "resolved" although no ion has left its site (seen on
runs of a few hundred fs, whose default window is 25-125 fs).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MIN_LOGLOG_SLOPE: float | None = None  # off: reported, not a gate
DEFAULT_MAX_LOGLOG_SLOPE: float | None = None
DEFAULT_MIN_MSD_A2 = 0.0  # off: the 21 A^2 threshold belongs to the active-Na definition
BALLISTIC_SLOPE = 1.3  # raw MSD log-log slope above this, with a negative fitted offset: free flight
TEMPERATURE_TOLERANCE = 0.03  # warn when the measured mean differs from the set point by more (relative)


@dataclass
class DiffusiveCriteria:
    """Optional extra gates of the diffusive regime (the resolution of D is always required).

    ``min_loglog_slope`` / ``max_loglog_slope``: range of the log-log slope of MSD minus its fitted
    offset (None: no gate); ``min_msd_A2``: mean MSD at the end of the fit window (0: no gate).
    """

    min_loglog_slope: float | None = DEFAULT_MIN_LOGLOG_SLOPE
    max_loglog_slope: float | None = DEFAULT_MAX_LOGLOG_SLOPE
    min_msd_A2: float = DEFAULT_MIN_MSD_A2

    def __post_init__(self):
        low, high = self.min_loglog_slope, self.max_loglog_slope
        if (low is None) != (high is None):
            raise ValueError("diffusive slope range: give both LOW and HIGH (--diffusive-slope LOW HIGH) or neither")
        if low is not None and not 0 < low < high:
            raise ValueError(f"diffusive slope range ({low}, {high}) must be 0 < low < high (--diffusive-slope)")
        if self.min_msd_A2 < 0:
            raise ValueError(f"diffusive min MSD {self.min_msd_A2} A^2 must be >= 0 (--diffusive-min-msd)")


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


def ballistic_window(raw_loglog_slope: float, msd_offset_A2: float) -> bool:
    """True when the fit window is still in the ballistic (free-flight) regime.

    Diffusion with vibrations gives ``MSD = c + 6 D t`` with a positive vibrational offset ``c``,
    hence a raw log-log slope below 1. Free flight (``MSD = <v^2> t^2``) fitted by a line gives a
    negative intercept and a slope near 2. Both signatures are required (slope >
    :data:`BALLISTIC_SLOPE` and offset < 0), so a noisy diffusive run is not rejected for one of them.
    """
    return bool(np.isfinite(raw_loglog_slope) and raw_loglog_slope > BALLISTIC_SLOPE and msd_offset_A2 < 0)


def diffusive_diagnostics(lag_time_ps: np.ndarray, msd_A2: np.ndarray, fit_start_ps: float, fit_end_ps: float,
                          active_fraction: float, criteria: DiffusiveCriteria | None = None,
                          species: str = "Na", resolved: bool = True, unresolved_reason: str | None = None,
                          msd_offset_A2: float = 0.0) -> dict:
    """Diffusive-regime diagnostics of one run (the ``diagnostics`` section of ``analysis.json``).

    Parameters
    ----------
    lag_time_ps : (n_lags,) lags; msd_A2 : (n_lags,) mean MSD of the diffusing species.
    fit_start_ps, fit_end_ps : the D fit window.
    active_fraction : fraction of active ions (SCIENCE.md definition), reported alongside.
    criteria : optional extra gates (default :class:`DiffusiveCriteria`: none).
    species : name used in the reason.
    resolved, unresolved_reason : whether the tracer D is resolved from zero (and why not), from
        :func:`pydriver.analysis.uncertainty.tracer_diffusivity`.
    msd_offset_A2 : fitted MSD intercept (vibrational plateau) subtracted before the log-log slope.

    Returns
    -------
    dict -- ``loglog_slope`` (of the MSD), ``loglog_slope_minus_offset`` (the gated one),
    ``msd_end_of_window_A2``,
    ``msd_offset_A2``, ``active_fraction``, ``d_resolved``, ``ballistic_window`` (:func:`ballistic_window`),
    ``diffusive`` (bool), ``reason`` (None
    when diffusive), ``criteria``.
    """
    criteria = criteria or DiffusiveCriteria()
    t = np.asarray(lag_time_ps, dtype=np.float64)
    msd = np.asarray(msd_A2, dtype=np.float64)
    sel = (t >= fit_start_ps - 1e-9) & (t <= fit_end_ps + 1e-9)
    slope = loglog_slope(t[sel], msd[sel] - msd_offset_A2)
    raw = loglog_slope(t[sel], msd[sel])
    end_msd = float(msd[np.flatnonzero(sel)[-1]])
    reasons = [] if resolved else [unresolved_reason or f"{species} D not resolved from zero"]
    ballistic = ballistic_window(raw, msd_offset_A2)
    if ballistic:
        reasons.append(f"fit window {fit_start_ps:.3g}-{fit_end_ps:.3g} ps in the ballistic regime (MSD log-log slope "
                       f"{raw:.2f} > {BALLISTIC_SLOPE}, offset {msd_offset_A2:.2g} A^2 < 0): no {species} has left "
                       "free flight; run longer or start the fit later (--fit-start)")
    if criteria.min_loglog_slope is not None:
        if not np.isfinite(slope):
            reasons.append("log-log slope of MSD minus its offset undefined (not positive in the fit window)")
        elif not criteria.min_loglog_slope <= slope <= criteria.max_loglog_slope:
            regime = "sub-diffusive or caged" if slope < criteria.min_loglog_slope else "ballistic or drifting"
            reasons.append(f"log-log slope of MSD minus offset {slope:.2f} outside {criteria.min_loglog_slope}-"
                           f"{criteria.max_loglog_slope} ({regime})")
    if criteria.min_msd_A2 > 0 and end_msd < criteria.min_msd_A2:
        reasons.append(f"mean {species} MSD at the end of the fit window {end_msd:.3g} A^2 < {criteria.min_msd_A2:g} "
                       "A^2 (--diffusive-min-msd)")
    return {"loglog_slope": raw, "loglog_slope_minus_offset": slope, "msd_end_of_window_A2": end_msd,
            "msd_offset_A2": float(msd_offset_A2), "active_fraction": float(active_fraction),
            "fit_start_ps": float(fit_start_ps), "fit_end_ps": float(fit_end_ps), "d_resolved": bool(resolved),
            "ballistic_window": ballistic, "diffusive": not reasons, "reason": "; ".join(reasons) or None, "criteria": asdict(criteria)}


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
