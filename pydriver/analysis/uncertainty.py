"""Calibrated uncertainties of the tracer diffusivity, the charge diffusivity and the Haven ratio.

The estimators were chosen by calibration, not by formula: on ensembles of synthetic crystal
trajectories with known answers (:func:`pydriver.analysis.synthetic.hopping_crystal`: ions
vibrating on sites and hopping between them, 12-100 ions, 1-20 hops per ion) each interval was
required to contain the truth as often as it claims (``benchmarks/bench_uncertainty.py``, table in
docs/analysis.md). Gaussian MSD-covariance models (kinisi's approach) and block averaging give
intervals that are too narrow in that regime: with few hops the squared displacements are far from
Gaussian, and an uncertainty computed from the fitted slope shrinks exactly when the slope is low.

* **Tracer D** (:func:`tracer_diffusivity`): every mobile ion gives its own slope ``D_i`` (OLS fit of
  its all-origin MSD over the fit window, intercept free so the vibrational plateau does not bias
  it); ``D = mean(D_i)`` equals the slope of the mean MSD. Its uncertainty is the leave-one-ion-out
  jackknife of ``ln D`` with Student-t quantiles on ``n_ions - 1`` degrees of freedom (Efron & Stein,
  Ann. Stat. 9 (1981) 586; the log scale absorbs the Poisson-like skew of few-hop data). This
  captures non-Gaussian displacements and the time correlation of each ion exactly. Ions that
  move together (concerted hops) are not independent: :func:`correlated_groups` links ions whose
  displacement increments correlate beyond chance, and the jackknife then leaves out one group at a
  time (grouped jackknife, ``G - 1`` degrees of freedom).
* **Charge D** (:func:`charge_diffusivity`): one collective displacement only, so its relative
  error is set by the fit window alone. ``D_hat / D`` is a pivotal quantity for a Gaussian random
  walk (the collective displacement is a sum over ions); its distribution for the run's frame count
  and window is simulated once (parametric bootstrap, fixed seed, cached) and inverted.
* **Haven ratio** (:func:`haven_ratio`): the two pivots combined by Monte Carlo.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.sparse.csgraph import connected_components

from pydriver.analysis.msd import msd_fft

CI_LEVELS = (0.68, 0.95)
PIVOT_MAX_FRAMES = 512  # the pivot depends on the window's shape only; simulate on at most this grid
PIVOT_SAMPLES = 4000
PIVOT_SEED = 20241207
CORRELATION_Z = 4.5  # link threshold of correlated_groups, in null standard deviations (Bonferroni, ~1e3 pairs)
MIN_CORRELATION_SEGMENTS = 6  # fewer increments per ion: no grouping


@dataclass
class Interval:
    """A point estimate with its 68 % and 95 % intervals (same unit as ``value``).

    ``std`` is the symmetric one-sigma error for weights and tables (``value * sigma_ln``: the
    intervals themselves are asymmetric). ``resolved`` is False when the 95 % interval cannot
    exclude zero; ``upper_bound_95`` is then the number to report. ``reason`` says why a number is
    unresolved or undefined.
    """

    value: float
    std: float
    ci68: tuple[float, float]
    ci95: tuple[float, float]
    sigma_ln: float
    resolved: bool
    upper_bound_95: float
    method: str
    dof: int | None = None
    reason: str | None = None

    def scaled(self, factor: float) -> Interval:
        """The same interval for ``factor * quantity`` (unit conversions, Nernst-Einstein)."""
        return Interval(self.value * factor, self.std * factor, (self.ci68[0] * factor, self.ci68[1] * factor),
                        (self.ci95[0] * factor, self.ci95[1] * factor), self.sigma_ln, self.resolved,
                        self.upper_bound_95 * factor, self.method, self.dof, self.reason)


PIVOT_PROBABILITIES = (0.025, 0.16, 0.84, 0.975)


def _pivot_interval(value: float, q: np.ndarray) -> tuple[tuple[float, float], tuple[float, float], float]:
    """68 % and 95 % intervals and sigma_ln of ``value`` from pivot quantiles at :data:`PIVOT_PROBABILITIES`."""
    return ((value / q[2], value / q[1]), (value / q[3], value / q[0]),
            float((np.log(q[2]) - np.log(q[1])) / 2.0))


def _nan_interval(method: str, reason: str, value: float = float("nan")) -> Interval:
    nan = float("nan")
    return Interval(value, nan, (nan, nan), (nan, nan), nan, False, nan, method, None, reason)


def per_ion_slopes(lag_ps: np.ndarray, per_ion_msd_A2: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OLS slope (A^2/ps) of each particle's MSD over the lags selected by ``mask``.

    Parameters
    ----------
    lag_ps : (n_lags,); per_ion_msd_A2 : (n_lags, n_ions); mask : (n_lags,) bool, >= 2 lags.

    Returns
    -------
    (n_ions,) slopes; ``mean(slopes)`` is the slope of the mean MSD (OLS is linear).
    """
    t = np.asarray(lag_ps, dtype=np.float64)[mask]
    design = np.column_stack([t, np.ones_like(t)])
    coef = np.linalg.lstsq(design, np.asarray(per_ion_msd_A2, dtype=np.float64)[mask], rcond=None)[0]
    return coef[0]


def mean_pivot_quantiles(n_walkers: int, n_frames: int, start: int, stop: int, probabilities) -> np.ndarray:
    """Quantiles of ``D_hat / D`` for the mean MSD of ``n_walkers`` independent Gaussian walkers."""
    single = _pivot_samples(int(n_frames), int(start), int(stop))
    rng = np.random.default_rng(PIVOT_SEED + 2)
    means = np.empty(PIVOT_SAMPLES)
    step = max(1, 4_000_000 // max(n_walkers, 1))
    for lo in range(0, PIVOT_SAMPLES, step):
        k = min(step, PIVOT_SAMPLES - lo)
        means[lo:lo + k] = single[rng.integers(0, single.size, (k, n_walkers))].mean(axis=1)
    return np.quantile(means, probabilities)


def correlated_groups(positions_A: np.ndarray, segment_frames: int, z: float = CORRELATION_Z,
                      min_segments: int = MIN_CORRELATION_SEGMENTS) -> np.ndarray:
    """Groups of ions that move together (concerted hops), from their displacement increments.

    Each ion's trajectory is cut into ``K`` consecutive segments of ``segment_frames`` frames; for two
    ions ``i, j`` the normalised correlation of their increment vectors is
    ``c_ij = sum_k dr_i(k) . dr_j(k) / sqrt(sum_k |dr_i(k)|^2 sum_k |dr_j(k)|^2)``. Independent ions
    give ``c_ij`` about ``N(0, 1 / (3 K))``; ions whose hops share a vector (concerted migration),
    or mirror it, give ``|c_ij|`` near the fraction of the increments' variance that hops carry.
    Pairs with ``|c_ij| > z / sqrt(3 K)`` (``z`` Bonferroni-sized for the ~n^2/2 pairs: about one
    false link per 30 runs of 48 ions) are linked, and the groups are the connected components.

    Parameters
    ----------
    positions_A : (n_frames, n_ions, 3) unwrapped positions of the diffusing ions (drift removed).
    segment_frames : frames per segment (the fit window's first lag: beyond the vibrations).
    z : link threshold in units of the null standard deviation ``1 / sqrt(3 K)``.
    min_segments : with fewer segments every ion is its own group (too little data to link).

    Returns
    -------
    (n_ions,) int group label per ion, labels ``0 .. G-1`` in order of first appearance.
    """
    n_frames, n_ions = positions_A.shape[:2]
    segment_frames = max(1, int(segment_frames))
    k = (n_frames - 1) // segment_frames
    labels = np.arange(n_ions)
    if k < min_segments or n_ions < 2:
        return labels
    marks = np.asarray(positions_A[: k * segment_frames + 1 : segment_frames], dtype=np.float64)
    inc = np.diff(marks, axis=0)  # (K, n_ions, 3)
    flat = inc.transpose(1, 0, 2).reshape(n_ions, -1)
    norm = np.sqrt((flat ** 2).sum(axis=1))
    norm[norm == 0] = np.inf
    corr = (flat @ flat.T) / np.outer(norm, norm)
    linked = np.abs(corr) > z / np.sqrt(3.0 * k)
    np.fill_diagonal(linked, False)
    _, components = connected_components(linked, directed=False)
    _, first = np.unique(components, return_index=True)
    order = np.argsort(np.argsort(first))
    return order[components]


def tracer_diffusivity(slopes_A2_ps: np.ndarray, dimension: int = 3, window: tuple[int, int, int] | None = None,
                       groups: np.ndarray | None = None) -> Interval:
    """Tracer D (A^2/ps) from per-ion MSD slopes: mean, log-jackknife interval, resolution test.

    Parameters
    ----------
    slopes_A2_ps : (n_ions,) per-ion MSD slopes (:func:`per_ion_slopes`), n_ions >= 2.
    dimension : d in ``MSD = 2 d D t``.
    window : ``(n_frames, start, stop)`` of the fit; when given, the interval is never narrower
        than that of independent Gaussian walkers with the same window (their pivot, which does
        not depend on the estimate: the jackknife of few strongly skewed per-walker slopes is too
        narrow for Brownian motion, the pivot too narrow for hopping).
    groups : (n_ions,) group label per ion (:func:`correlated_groups`): ions of one group are not
        independent, so the jackknife leaves out one group at a time (the grouped jackknife, with
        ``G - 1`` degrees of freedom for ``G`` groups); default: every ion its own group.

    Returns
    -------
    Interval in A^2/ps. ``resolved`` when the linear t statistic ``D / s`` exceeds the two-sided 95 %
    Student-t quantile (``s``: the jackknife standard error of the mean; the slope is told from
    zero); otherwise ``upper_bound_95`` is ``D + t_95 s`` (at least that quantile times the error
    when D <= 0).
    """
    d_i = np.asarray(slopes_A2_ps, dtype=np.float64) / (2.0 * dimension)
    n = d_i.size
    if n < 2:
        return _nan_interval("ions", f"{n} mobile ion(s): the per-ion uncertainty needs >= 2",
                             float(d_i.mean()) if n else float("nan"))
    labels = np.arange(n) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    g = int(labels.max()) + 1
    if g < 2:
        return _nan_interval("ions", f"all {n} mobile ions move as one group: the per-ion uncertainty needs >= 2 "
                                     "independent groups", float(d_i.mean()))
    value = float(d_i.mean())
    group_sum = np.bincount(labels, weights=d_i, minlength=g)
    group_size = np.bincount(labels, minlength=g)
    leave_one_out = (d_i.sum() - group_sum) / (n - group_size)
    s_lin = float(np.sqrt((g - 1) / g * ((leave_one_out - leave_one_out.mean()) ** 2).sum()))
    t68, t95 = (float(stats.t.ppf(0.5 + level / 2, g - 1)) for level in CI_LEVELS)
    resolved = value > t95 * s_lin
    upper = max(value, 0.0) + t95 * s_lin
    if value > 0 and np.all(leave_one_out > 0):
        ln_loo = np.log(leave_one_out)
        sigma_ln = float(np.sqrt((g - 1) / g * ((ln_loo - ln_loo.mean()) ** 2).sum()))
        ci68 = (value * np.exp(-t68 * sigma_ln), value * np.exp(t68 * sigma_ln))
        ci95 = (value * np.exp(-t95 * sigma_ln), value * np.exp(t95 * sigma_ln))
        method = "ions" if g == n else f"ions ({g} groups of concerted ions)"
        if window is not None:
            quantiles = mean_pivot_quantiles(g, *window, PIVOT_PROBABILITIES)
            gauss68, gauss95, sigma_gauss = _pivot_interval(value, quantiles)
            if sigma_gauss > sigma_ln:
                sigma_ln, method, ci68, ci95 = sigma_gauss, "ions (Gaussian-walker floor)", gauss68, gauss95
        std = value * sigma_ln
    else:  # some ion subsets do not move on average: linear interval, never a resolved value
        sigma_ln, method = float("nan"), "ions"
        ci68 = (value - t68 * s_lin, value + t68 * s_lin)
        ci95 = (value - t95 * s_lin, value + t95 * s_lin)
        std = s_lin
    independent = f"{n} ions" if g == n else f"{n} ions in {g} groups"
    reason = None if resolved else (
        f"D not resolved from zero: D / std = {value / s_lin if s_lin > 0 else float('nan'):.2f} < {t95:.2f} "
        f"(Student t, 95 %, {independent}); reported as an upper bound")
    return Interval(value, std, (float(ci68[0]), float(ci68[1])), (float(ci95[0]), float(ci95[1])), sigma_ln,
                    bool(resolved), float(upper), method, g - 1, reason)


@functools.lru_cache(maxsize=64)
def _pivot_samples(n_frames: int, start: int, stop: int) -> np.ndarray:
    """Sorted samples of ``D_hat / D`` for one 3-D Gaussian walker over frames ``[start, stop)`` of the MSD."""
    if n_frames > PIVOT_MAX_FRAMES:  # same relative window on a coarser grid (continuum limit)
        scale = (PIVOT_MAX_FRAMES - 1) / (n_frames - 1)
        start, stop = int(round(start * scale)), max(int(round((stop - 1) * scale)) + 1, int(round(start * scale)) + 3)
        n_frames = PIVOT_MAX_FRAMES
    rng = np.random.default_rng(PIVOT_SEED)
    lag = np.arange(n_frames, dtype=np.float64)
    design = np.column_stack([lag[start:stop], np.ones(stop - start)])
    pinv = np.linalg.pinv(design)[0]
    out = []
    batch = max(1, 2_000_000 // (3 * n_frames))
    for lo in range(0, PIVOT_SAMPLES, batch):
        k = min(batch, PIVOT_SAMPLES - lo)
        walk = np.cumsum(rng.normal(0.0, 1.0, (n_frames, k, 3)), axis=0)  # 2 D dt = 1: MSD slope 3/frame
        out.append(pinv @ msd_fft(walk)[start:stop] / 3.0)
    return np.sort(np.concatenate(out))


def pivot_quantiles(n_frames: int, start: int, stop: int, probabilities) -> np.ndarray:
    """Quantiles of ``D_hat / D_true`` for a Gaussian walker's MSD fitted over lags ``[start, stop)``."""
    return np.quantile(_pivot_samples(int(n_frames), int(start), int(stop)), probabilities)


def charge_diffusivity(diffusivity: float, n_frames: int, start: int, stop: int) -> Interval:
    """Charge (collective) D with intervals from the Gaussian-walker pivot, in the unit of ``diffusivity``.

    Parameters
    ----------
    diffusivity : charge D from the OLS slope of the mean squared charge displacement over the fit
        window (any unit: the pivot is a ratio).
    n_frames : frames of the trajectory; start, stop : lag indices of the fit window (stop exclusive).

    Returns
    -------
    Interval; a non-positive D is undefined in log scale and gives NaN intervals with a reason.
    """
    value = float(diffusivity)
    if not value > 0:
        return _nan_interval("pivot", f"charge diffusivity {value:.3g} <= 0 in the fit window (MSD slope not "
                             "positive): no net charge transport resolved", value)
    ci68, ci95, sigma_ln = _pivot_interval(value, pivot_quantiles(n_frames, start, stop, PIVOT_PROBABILITIES))
    return Interval(value, value * sigma_ln, ci68, ci95, sigma_ln, True, ci95[1], "pivot")


def haven_ratio(tracer: Interval, charge: Interval, n_frames: int, start: int, stop: int,
                n_samples: int = PIVOT_SAMPLES) -> Interval:
    """Haven ratio ``D_tracer / D_charge`` with intervals from both pivots (Monte Carlo, fixed seed).

    The tracer error enters as its Student-t log-scale error; the two errors are combined as
    independent (conservative: they are positively correlated for independent ions).
    """
    if not (np.isfinite(charge.value) and charge.value > 0 and np.isfinite(tracer.value) and tracer.value > 0):
        return _nan_interval("pivot", "tracer or charge diffusivity not positive: Haven ratio undefined")
    value = tracer.value / charge.value
    ratio = _pivot_samples(int(n_frames), int(start), int(stop))
    rng = np.random.default_rng(PIVOT_SEED + 1)
    pick = rng.integers(0, ratio.size, n_samples)
    if np.isfinite(tracer.sigma_ln) and tracer.dof:
        tracer_err = tracer.sigma_ln * rng.standard_t(tracer.dof, n_samples)
    else:
        tracer_err = np.zeros(n_samples)
    positive = ratio[pick] > 0
    samples = value * ratio[pick][positive] * np.exp(-tracer_err[positive])  # H_true / H_hat = r e^{-eps}
    lo95, lo68, hi68, hi95 = np.quantile(samples, [0.025, 0.16, 0.84, 0.975])
    sigma_ln = float((np.log(hi68) - np.log(lo68)) / 2.0)
    return Interval(value, value * sigma_ln, (float(lo68), float(hi68)), (float(lo95), float(hi95)), sigma_ln,
                    True, float(hi95), "pivot")
