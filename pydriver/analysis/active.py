"""Active mobile ions, by two definitions, each with a 68 % interval of the active fraction.

SCIENCE.md: a Na ion is "active" when its own MSD over the run reaches at least 21 A^2 (H atoms
that only rotate reach about 18 A^2); the paper applies it over 1 ns.

* ``fraction_msd_21A2`` (:func:`active_ions`): the ion's MSD averaged over all time origins at a
  lag of half the production run (default) reaches 21 A^2. Over a run of a few ps this asks for a
  far higher mobility than over 1 ns, so short and long runs give different fractions.
* ``fraction_d_threshold`` (:func:`rate_active_ions`): the same criterion as a rate, meaningful for
  any run length: an ion counts when its own diffusivity is resolved above
  ``D* = 21 A^2 / (6 x 1 ns)`` = 3.5e-7 cm^2/s, i.e. ``(D_i - D*) / sigma0_i > 2`` with sigma0_i
  its error were it diffusing at D*.

* ``fraction_hops`` (:func:`hop_active_ions`): the ion made at least k (default 2) site-to-site
  hops not undone by a return (:mod:`pydriver.analysis.hops`).

Intervals: Jeffreys binomial interval over ions (:func:`jeffreys_interval`).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import stats
from scipy.ndimage import uniform_filter1d

from pydriver.analysis.equilibration import mean_sem
from pydriver.units import A2_PS_TO_CM2_S

log = logging.getLogger(__name__)

DEFAULT_ACTIVE_THRESHOLD_A2 = 21.0
DEFAULT_ACTIVE_LAG_FRACTION = 0.5
#: the paper's window over which an active ion reaches 21 A^2 (SCIENCE.md)
PAPER_WINDOW_PS = 1000.0
#: D* = 21 A^2 / (6 x 1 ns): the paper's active-ion criterion as a rate, in A^2/ps (3.5e-7 cm^2/s)
D_THRESHOLD_A2_PS = DEFAULT_ACTIVE_THRESHOLD_A2 / (6.0 * PAPER_WINDOW_PS)
#: an ion counts as active by rate when (D_i - D*) / sigma_i exceeds this (one-sided 97.7 % for a
#: Gaussian error): a vibrating ion is counted by chance in about 2 % of runs, not 16 % as at 1 sigma
RESOLVED_Z = 2.0
#: fewest time origins of the per-ion D (its vibrational noise needs a spread)
MIN_ORIGINS = 3
#: central probability of the reported intervals
CI_PROBABILITY = 0.68


def jeffreys_interval(k: int, n: int, probability: float = CI_PROBABILITY) -> tuple[float, float]:
    """Equal-tailed Jeffreys interval of a binomial proportion ``k / n``.

    The quantiles ``(1 -/+ probability) / 2`` of Beta(k + 1/2, n - k + 1/2), with the lower end 0 at
    ``k = 0`` and the upper end 1 at ``k = n`` (Brown, Cai & DasGupta, Stat. Sci. 16 (2001) 101,
    sec. 4.1.2). Chosen over a bootstrap over ions, which gives a zero-width interval when all or no
    ions are active (the common case in small cells), and over Wald; its coverage stays close to
    nominal down to n of about 10. It treats ions as independent draws: ions that hop together make
    the true spread larger.

    Raises
    ------
    ValueError
        If not ``0 <= k <= n`` with ``n >= 1``.
    """
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"binomial interval needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    tail = 0.5 * (1.0 - probability)
    low = 0.0 if k == 0 else float(stats.beta.ppf(tail, k + 0.5, n - k + 0.5))
    high = 1.0 if k == n else float(stats.beta.ppf(1.0 - tail, k + 0.5, n - k + 0.5))
    return low, high


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
        ``fraction_msd_21A2`` and its alias ``active_fraction``, ``fraction_msd_21A2_ci68`` (68 %
        Jeffreys interval), ``n_active``, ``n_ions``, ``active_lag_ps``, ``active_threshold_A2``,
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
    n_active = int(active.sum())
    return {"fraction_msd_21A2": float(active.mean()),
            "fraction_msd_21A2_ci68": list(jeffreys_interval(n_active, int(active.size))),
            "active_fraction": float(active.mean()), "n_active": n_active,
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


def _random_walk_relative_std(n1: int, n2: int, n_origins: int) -> float:
    """sigma(D) / D of :func:`rate_active_ions`' per-ion estimator for a 3-D Gaussian random walk.

    ``y_o = |r(o + n2) - r(o)|^2 - |r(o + n1) - r(o)|^2`` averaged over ``n_origins`` consecutive
    origins. For Gaussian increments of variance s^2 per component and frame,
    ``Cov(|A|^2, |B|^2) = 6 s^4 L^2`` with ``L`` the overlap (frames) of the two displacement
    intervals, so ``Var(mean y) = 6 s^4 / M^2 sum_k (M - |k|) h(k)`` with
    ``h(k) = L(n2, n2, k)^2 - L(n2, n1, k)^2 - L(n1, n2, k)^2 + L(n1, n1, k)^2`` (exact; the
    single-particle case of Qian, Sheetz & Elson, Biophys. J. 60 (1991) 910).
    """
    k = np.arange(-min(n2, n_origins) + 1, min(n2, n_origins))

    def overlap(a: int, b: int) -> np.ndarray:  # frames shared by [0, a) and [k, k + b)
        return np.clip(np.minimum(a, k + b) - np.maximum(0, k), 0, None).astype(np.float64)

    h = overlap(n2, n2) ** 2 - overlap(n2, n1) ** 2 - overlap(n1, n2) ** 2 + overlap(n1, n1) ** 2
    total = float(((n_origins - np.abs(k)) * h).sum())
    return float(np.sqrt(6.0 * max(total, 0.0)) / (3.0 * n_origins * (n2 - n1)))


def per_ion_diffusivity(positions_A: np.ndarray, dt_frame_ps: float, fit_start_ps: float,
                        fit_end_ps: float) -> dict:
    """Each ion's diffusivity over the fit window, its standard error and the parts of that error.

    Parameters
    ----------
    positions_A : (n_frames, n_ions, 3) unwrapped, drift-corrected positions (A), evenly spaced frames.
    dt_frame_ps : time between frames (ps).
    fit_start_ps, fit_end_ps : the run's MSD fit window (lags, ps).

    Returns
    -------
    dict -- ``d_A2_ps`` (n_ions,); ``std_A2_ps`` (n_ions,) = sqrt(walk^2 + vibration^2);
    ``window_ps`` (the lags used: the fit window, its end moved to leave 3 time origins if needed);
    ``walk_relative_std`` (random-walk part / D, one number); ``vibration_std_A2_ps`` (n_ions,).

    Notes
    -----
    ``D_i = [MSD_i(t2) - MSD_i(t1)] / (6 (t2 - t1))``: the slope of the ion's own all-origin MSD
    between the ends of the fit window (a two-point fit on the origins common to both lags), so the
    vibrational plateau cancels. Its error has two parts: (a) the exact error of this estimator for
    a Gaussian random walk with diffusivity D (:func:`_random_walk_relative_std`, proportional to
    D; it underestimates the error of an ion with very few hops); (b) vibrational noise: the
    standard error of the mean of ``y_o = |r(o + n2) - r(o)|^2 - |r(o + n1) - r(o)|^2`` after
    removing its slow part (moving average over ``n1`` frames, which holds the random-walk
    fluctuations already in (a)), with its statistical inefficiency (pymbar). On synthetic ions
    (Gaussian walks, independent vibrations) (a) matches the spread of D_i over ions and (b) the
    spread of D_i of vibrating ions to within 5 %.

    Raises
    ------
    ValueError
        If the window does not hold two distinct lags inside the run.
    """
    r = np.asarray(positions_A, dtype=np.float64)
    n_frames = r.shape[0]
    n1 = int(round(fit_start_ps / dt_frame_ps))
    n2 = min(int(round(fit_end_ps / dt_frame_ps)), n_frames - MIN_ORIGINS)  # a window to the run's end: 3 origins
    if not 0 <= n1 < n2:
        raise ValueError(f"fit window [{fit_start_ps}, {fit_end_ps}] ps gives lags {n1}..{n2} frames of "
                         f"{n_frames}; per-ion D needs 0 <= start < end <= {n_frames - MIN_ORIGINS} frames "
                         "(set --fit-start-ps/--fit-end-ps)")
    origins = n_frames - n2
    y = (((r[n2:] - r[:origins]) ** 2).sum(axis=-1)
         - ((r[n1:n1 + origins] - r[:origins]) ** 2).sum(axis=-1))  # (n_origins, n_ions)
    scale = 6.0 * (n2 - n1) * dt_frame_ps
    d = y.mean(axis=0) / scale
    fast = y - uniform_filter1d(y, size=max(3, n1), axis=0, mode="nearest")
    vibration = np.array([mean_sem(col)[1] for col in fast.T]) / scale
    relative = _random_walk_relative_std(n1, n2, origins)
    std = np.hypot(np.maximum(d, 0.0) * relative, vibration)
    return {"d_A2_ps": d, "std_A2_ps": std, "walk_relative_std": relative, "vibration_std_A2_ps": vibration,
            "window_ps": [n1 * dt_frame_ps, n2 * dt_frame_ps]}


def rate_active_ions(positions_A: np.ndarray, dt_frame_ps: float, fit_start_ps: float, fit_end_ps: float,
                     d_threshold_A2_ps: float = D_THRESHOLD_A2_PS, z: float = RESOLVED_Z) -> dict:
    """Ions active by rate: own diffusivity resolved above ``D*`` (default 21 A^2 / (6 x 1 ns)).

    Rule: an ion counts when ``(D_i - D*) / sigma0_i > z`` with
    ``sigma0_i = sqrt((D* x walk_relative_std)^2 + vibration_std_i^2)``, the error D_i would have if
    the ion diffused at exactly D* (:func:`per_ion_diffusivity`): a one-sided test of
    ``D_i <= D*`` at about 2.3 % for z = 2. On synthetic runs of 8 ps (window 0.8-4 ps, vibrations
    0.3 A) no vibrating ion is counted and 43 %, 86 % and 96 % of ions with D = 3, 10 and 30 D*
    are: a short run gives a lower bound of the fraction.

    Parameters
    ----------
    positions_A : (n_frames, n_ions, 3) unwrapped, drift-corrected positions of the mobile ions (A).
    dt_frame_ps : time between frames; fit_start_ps, fit_end_ps : the run's fit window (ps).
    d_threshold_A2_ps : D* in A^2/ps; z : resolution in standard errors.

    Returns
    -------
    dict -- ``fraction_d_threshold``, ``fraction_d_threshold_ci68`` (68 % Jeffreys interval),
    ``n_active_d_threshold``, ``d_threshold_cm2_s``, ``d_threshold_z``, ``d_threshold_window_ps`` (lags
    of the per-ion D), ``ion_diffusivity_cm2_s`` and
    ``ion_diffusivity_std_cm2_s`` (lists per ion, dump-row order of the mobile ions).
    """
    per_ion = per_ion_diffusivity(positions_A, dt_frame_ps, fit_start_ps, fit_end_ps)
    d = per_ion["d_A2_ps"]
    sigma0 = np.hypot(d_threshold_A2_ps * per_ion["walk_relative_std"], per_ion["vibration_std_A2_ps"])
    resolved = d - d_threshold_A2_ps > z * sigma0
    k, n = int(resolved.sum()), int(resolved.size)
    return {"fraction_d_threshold": k / n, "fraction_d_threshold_ci68": list(jeffreys_interval(k, n)),
            "n_active_d_threshold": k, "d_threshold_cm2_s": d_threshold_A2_ps * A2_PS_TO_CM2_S,
            "d_threshold_z": float(z), "d_threshold_window_ps": per_ion["window_ps"],
            "ion_diffusivity_cm2_s": (d * A2_PS_TO_CM2_S).tolist(),
            "ion_diffusivity_std_cm2_s": (per_ion["std_A2_ps"] * A2_PS_TO_CM2_S).tolist()}


#: net hops (not undone by a return) an ion needs to count as active by hops
DEFAULT_MIN_NET_HOPS = 2


def hop_active_ions(net_hops_per_ion: np.ndarray, min_net_hops: int = DEFAULT_MIN_NET_HOPS) -> dict:
    """Ions active by hops: at least ``min_net_hops`` site-to-site hops not undone by a return.

    Parameters
    ----------
    net_hops_per_ion : (n_ions,) net hops of each ion (:func:`pydriver.analysis.hops.net_hops`: a
        hop back to the previous site cancels the hop that left it, so rattling between two sites
        counts at most 1).
    min_net_hops : k, default 2.

    Returns
    -------
    dict -- ``fraction_hops``, ``fraction_hops_ci68`` (68 % Jeffreys interval over ions),
    ``n_active_hops``, ``hops_min_net``.

    Raises
    ------
    ValueError
        If there are no ions or ``min_net_hops`` < 1.
    """
    net = np.asarray(net_hops_per_ion)
    if net.size == 0 or min_net_hops < 1:
        raise ValueError(f"hop-active fraction needs >= 1 ion and min_net_hops >= 1; got {net.size} ions, "
                         f"min_net_hops={min_net_hops}")
    k = int((net >= min_net_hops).sum())
    return {"fraction_hops": k / net.size, "fraction_hops_ci68": list(jeffreys_interval(k, int(net.size))),
            "n_active_hops": k, "hops_min_net": int(min_net_hops)}
