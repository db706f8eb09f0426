"""Active mobile ions: ions whose own time-origin-averaged MSD reaches a threshold.

SCIENCE.md: a Na ion is "active" when its own MSD over the run reaches at least 21 A^2 (H atoms
that only rotate reach about 18 A^2). Here "its own MSD" is the ion's MSD averaged over all time
origins at a lag of half the production run (default), which is far less noisy than the single
displacement from t = 0.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_ACTIVE_THRESHOLD_A2 = 21.0
DEFAULT_ACTIVE_LAG_FRACTION = 0.5


def active_ions(per_atom_msd_A2: np.ndarray, lag_time_ps: np.ndarray, threshold_A2: float = DEFAULT_ACTIVE_THRESHOLD_A2,
                lag_ps: float | None = None, lag_fraction: float = DEFAULT_ACTIVE_LAG_FRACTION) -> dict:
    """Classify ions as active from their own origin-averaged MSD.

    Parameters
    ----------
    per_atom_msd_A2 : (n_lags, n_ions) -- per-ion MSD averaged over time origins (A^2).
    lag_time_ps : (n_lags,) -- lag times (ps), starting at 0.
    threshold_A2 : MSD an ion must reach to count as active (default 21 A^2).
    lag_ps : lag at which to compare; default ``lag_fraction`` x the run length.
    lag_fraction : default lag as a fraction of the run (0.5).

    Returns
    -------
    dict
        ``active_fraction``, ``n_active``, ``n_ions``, ``active_lag_ps``, ``active_threshold_A2``,
        ``ion_msd_at_lag_A2`` (list per ion), ``active_fraction_vs_lag`` ((n_lags,) fraction of ions
        whose MSD at each lag is above the threshold).

    Raises
    ------
    ValueError
        If ``lag_ps`` is outside the lags or the threshold is not positive.
    """
    lag_time_ps = np.asarray(lag_time_ps, dtype=np.float64)
    if threshold_A2 <= 0:
        raise ValueError(f"threshold_A2={threshold_A2} must be > 0")
    if not 0.0 < lag_fraction <= 1.0:
        raise ValueError(f"lag_fraction={lag_fraction} must be in (0, 1]")
    target = lag_fraction * lag_time_ps[-1] if lag_ps is None else float(lag_ps)
    if not lag_time_ps[0] < target <= lag_time_ps[-1] + 1e-9:
        raise ValueError(f"active lag {target} ps outside the lags (0, {lag_time_ps[-1]}] ps")
    index = int(np.argmin(np.abs(lag_time_ps - target)))
    at_lag = per_atom_msd_A2[index]
    active = at_lag >= threshold_A2
    vs_lag = (per_atom_msd_A2 >= threshold_A2).mean(axis=1)
    return {"active_fraction": float(active.mean()), "n_active": int(active.sum()),
            "n_ions": int(active.size), "active_lag_ps": float(lag_time_ps[index]),
            "active_threshold_A2": float(threshold_A2), "ion_msd_at_lag_A2": at_lag.tolist(),
            "active_fraction_vs_lag": vs_lag}


def ever_active_vs_time(positions_A: np.ndarray, ion_index: np.ndarray, drift_A: np.ndarray | None = None,
                        threshold_A2: float = DEFAULT_ACTIVE_THRESHOLD_A2) -> np.ndarray:
    """Fraction of ions that have moved >= sqrt(threshold) from their start by each frame.

    Parameters
    ----------
    positions_A : (n_frames, n_atoms, 3) unwrapped positions.
    ion_index : (n_ions,) atoms to follow.
    drift_A : (n_frames, 3) framework drift to remove, or None.
    threshold_A2 : squared displacement threshold (A^2).

    Returns
    -------
    fraction : (n_frames,) non-decreasing fraction of ions whose ``|r(t') - r(0)|^2`` reached the
        threshold at some ``t' <= t``.
    """
    r = np.asarray(positions_A[:, ion_index], dtype=np.float64)
    if drift_A is not None:
        r = r - drift_A[:, None, :]
    sq = ((r - r[:1]) ** 2).sum(axis=-1)
    reached = np.maximum.accumulate(sq, axis=0) >= threshold_A2
    return reached.mean(axis=1)
