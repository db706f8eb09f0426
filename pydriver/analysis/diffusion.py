"""Pure transport formulas: MSD slope to D, Nernst-Einstein conductivity, Arrhenius fits.

Every function takes and returns plain numbers/arrays with units in the names; nothing here
reads files or keeps state, so each formula is unit-testable against a hand calculation.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from pydriver.units import (A2_PS_TO_CM2_S, A3_TO_CM3, BOLTZMANN_EV_K, BOLTZMANN_J_K, ELEMENTARY_CHARGE_C,
                            S_CM_TO_MS_CM)

log = logging.getLogger(__name__)

ARRHENIUS_MODES = ("sigma_T", "D")


def fit_line(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float, np.ndarray]:
    """(Weighted) least-squares line ``y = slope x + intercept``.

    Parameters
    ----------
    x, y : (n,) data; n >= 3.
    weights : (n,) or None -- inverse variances; None for ordinary least squares.

    Returns
    -------
    slope, intercept : floats.
    covariance : (2, 2) -- covariance of (slope, intercept); for OLS scaled by the residual
        variance ``SSR / (n - 2)`` (the textbook slope error used by pymatgen-analysis-diffusion).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 3:
        raise ValueError(f"need at least 3 points for a line fit with uncertainty, got {x.size}")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    design = np.column_stack([x, np.ones_like(x)])
    normal = design.T @ (design * w[:, None])
    cov = np.linalg.inv(normal)
    slope, intercept = cov @ (design.T @ (w * y))
    residual = y - (slope * x + intercept)
    scale = float((w * residual**2).sum() / (x.size - 2))
    if weights is None or scale > 1.0:  # weighted: inflate only when the scatter exceeds the errors
        cov = cov * scale
    return float(slope), float(intercept), cov


def diffusivity_from_msd(time_ps: np.ndarray, msd_A2: np.ndarray, dimension: int = 3
                         ) -> tuple[float, float, float]:
    """Einstein relation ``MSD = 2 d D t`` fitted by least squares (slope and intercept).

    Parameters
    ----------
    time_ps : (n,) lag times in ps inside the fit window.
    msd_A2 : (n,) MSD in A^2.
    dimension : d, 3 for bulk.

    Returns
    -------
    diffusivity_cm2_s, diffusivity_ols_std_cm2_s : D and the OLS slope error (which ignores the
        correlation between MSD points and so underestimates the true uncertainty; see
        docs/analysis.md).
    intercept_A2 : the fitted MSD offset (the vibrational plateau for ions on sites).

    Notes
    -----
    Einstein, Ann. Phys. 17 (1905) 549; Allen & Tildesley, Computer Simulation of Liquids,
    2nd ed. (2017), eq. 8.12.
    """
    slope, intercept, cov = fit_line(time_ps, msd_A2)
    factor = A2_PS_TO_CM2_S / (2.0 * dimension)
    return slope * factor, float(np.sqrt(cov[0, 0])) * factor, float(intercept)


def nernst_einstein_conductivity_mS_cm(diffusivity_cm2_s: float, n_ions: float, volume_A3: float,
                                       temperature_K: float, charge: float = 1.0) -> float:
    """Nernst-Einstein conductivity ``sigma = n (Z e)^2 D / (kB T)`` in mS/cm.

    Parameters
    ----------
    diffusivity_cm2_s : tracer (or charge) diffusivity in cm^2/s.
    n_ions : number of mobile ions in ``volume_A3``.
    volume_A3 : volume in A^3 (the time-averaged NPT volume).
    temperature_K : temperature in K.
    charge : Z, ionic charge in units of e.

    Notes
    -----
    E.g. Deng et al., Comput. Mater. Sci. 126 (2017) 92, eq. 3 (pymatgen ``get_conversion_factor``).
    """
    if temperature_K <= 0 or volume_A3 <= 0:
        raise ValueError(f"temperature_K={temperature_K} and volume_A3={volume_A3} must be > 0")
    density_cm3 = n_ions / (volume_A3 * A3_TO_CM3)
    sigma_s_cm = density_cm3 * (charge * ELEMENTARY_CHARGE_C) ** 2 * diffusivity_cm2_s / (BOLTZMANN_J_K * temperature_K)
    return sigma_s_cm * S_CM_TO_MS_CM


@dataclass
class ArrheniusFit:
    """Result of :func:`fit_arrhenius` (all keys unit-suffixed).

    ``bootstrap_ea_eV`` / ``bootstrap_ln_prefactor`` are draws from the fit's sampling distribution
    (used for extrapolated intervals); ``birge_ratio`` is sqrt(reduced chi^2) of the weighted fit.
    """

    mode: str
    ea_eV: float
    ea_std_eV: float
    ea_ci95_eV: tuple[float, float]
    ln_prefactor: float
    temperature_K: list[float]
    n_bootstrap: int
    bootstrap_ea_eV: np.ndarray
    bootstrap_ln_prefactor: np.ndarray
    ea_ci68_eV: tuple[float, float] = (float("nan"), float("nan"))
    birge_ratio: float = float("nan")
    dof: int = 0
    interval_method: str = "weighted least squares"

    def as_dict(self) -> dict:
        """JSON-ready dict (samples dropped)."""
        d = asdict(self)
        d.pop("bootstrap_ea_eV")
        d.pop("bootstrap_ln_prefactor")
        d["ea_ci95_eV"] = list(self.ea_ci95_eV)
        d["ea_ci68_eV"] = list(self.ea_ci68_eV)
        return d


def _arrhenius_y(temperature_K: np.ndarray, values: np.ndarray, mode: str) -> np.ndarray:
    if mode not in ARRHENIUS_MODES:
        raise ValueError(f"mode={mode!r}; allowed {ARRHENIUS_MODES}")
    if np.any(values <= 0):
        raise ValueError(f"Arrhenius fit needs positive values, got {values.tolist()}")
    return np.log(values * temperature_K) if mode == "sigma_T" else np.log(values)


def fit_arrhenius(temperature_K, values, errors=None, mode: str = "sigma_T", n_bootstrap: int = 2000,
                  seed: int = 0, log_errors=None) -> ArrheniusFit:
    """Weighted Arrhenius fit ``ln(sigma T) = ln A - Ea / (kB T)`` (``mode="sigma_T"``) or ``ln D`` (``"D"``).

    Parameters
    ----------
    temperature_K : (n,) temperatures, n >= 3 (distinct).
    values : (n,) conductivities (any unit) for ``sigma_T`` or diffusivities for ``D``.
    errors : (n,) one-sigma errors of ``values`` or None (used as ``log_errors = errors / values``).
    mode : ``"sigma_T"`` (default) or ``"D"``.
    n_bootstrap : draws from the fit's sampling distribution kept for extrapolated intervals.
    seed : random seed of those draws.
    log_errors : (n,) one-sigma errors of ``ln value`` (preferred: the calibrated estimators of
        :mod:`pydriver.analysis.uncertainty` give them directly).

    Returns
    -------
    ArrheniusFit
        Weighted least squares in ``ln value`` vs ``1/T`` with weights ``1/sigma_ln^2``; the
        covariance is ``(X^T W X)^-1``, scaled by the reduced chi^2 when the points scatter more
        than their errors (Birge ratio > 1; then Student-t quantiles on ``n - 2`` degrees of
        freedom, else normal ones). Without errors: ordinary least squares with t quantiles.
        Coverage of these intervals is measured on synthetic replicate sets in
        ``benchmarks/bench_uncertainty.py`` (docs/analysis.md).
    """
    t = np.asarray(temperature_K, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    y = _arrhenius_y(t, v, mode)
    if log_errors is None and errors is not None:
        log_errors = np.asarray(errors, dtype=np.float64) / v
    x = 1.0 / t
    if t.size < 3:
        raise ValueError(f"need at least 3 points for an Arrhenius fit with uncertainty, got {t.size}")
    w = None if log_errors is None else 1.0 / np.maximum(np.asarray(log_errors, dtype=np.float64), 1e-12) ** 2
    # fit_line scales the covariance by the reduced chi^2 for OLS, and for weights when it exceeds 1
    slope, intercept, cov = fit_line(x, y, w)
    dof = int(t.size - 2)
    chi2 = float(((1.0 if w is None else w) * (y - slope * x - intercept) ** 2).sum())
    birge = float(np.sqrt(chi2 / dof))
    scaled = w is None or birge > 1.0  # whether fit_line scaled cov: then Student-t quantiles
    q68, q95 = ((stats.t.ppf(0.5 + p / 2, dof) if scaled else stats.norm.ppf(0.5 + p / 2)) for p in (0.68, 0.95))
    ea = -slope * BOLTZMANN_EV_K
    ea_std = float(np.sqrt(cov[0, 0]) * BOLTZMANN_EV_K)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal([slope, intercept], cov, size=n_bootstrap)
    if scaled:  # multivariate t: normal draws over sqrt(chi2_dof / dof)
        draws = (draws - [slope, intercept]) / np.sqrt(rng.chisquare(dof, (n_bootstrap, 1)) / dof) + [slope, intercept]
    return ArrheniusFit(mode=mode, ea_eV=float(ea), ea_std_eV=ea_std,
                        ea_ci95_eV=(float(ea - q95 * ea_std), float(ea + q95 * ea_std)), ln_prefactor=float(intercept),
                        temperature_K=t.tolist(), n_bootstrap=int(n_bootstrap),
                        bootstrap_ea_eV=-draws[:, 0] * BOLTZMANN_EV_K, bootstrap_ln_prefactor=draws[:, 1],
                        ea_ci68_eV=(float(ea - q68 * ea_std), float(ea + q68 * ea_std)), birge_ratio=birge, dof=dof,
                        interval_method="weighted least squares, Birge-scaled" if scaled else "weighted least squares")


def arrhenius_value(ea_eV, ln_prefactor, temperature_K, mode: str = "sigma_T"):
    """Value of the Arrhenius law at ``temperature_K`` (sigma for ``sigma_T``, D for ``D``)."""
    y = ln_prefactor - np.asarray(ea_eV) / (BOLTZMANN_EV_K * temperature_K)
    return np.exp(y) / temperature_K if mode == "sigma_T" else np.exp(y)


def extrapolate_arrhenius(fit: ArrheniusFit, temperature_K: float = 300.0) -> dict:
    """Extrapolate a fit to ``temperature_K`` with a 95 % interval from the fit's sampling draws.

    Returns
    -------
    dict with ``value``, ``ci95_low``, ``ci95_high`` in the unit of the fitted values, and
    ``temperature_K``.
    """
    value = float(arrhenius_value(fit.ea_eV, fit.ln_prefactor, temperature_K, fit.mode))
    samples = arrhenius_value(fit.bootstrap_ea_eV, fit.bootstrap_ln_prefactor, temperature_K, fit.mode)
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"temperature_K": float(temperature_K), "value": value, "ci95_low": float(low),
            "ci95_high": float(high)}


MAX_COVARIANCE_POINTS = 400


def diffusivity_std_correlated(time_ps: np.ndarray, msd_A2: np.ndarray, n_particles: int, duration_ps: float,
                               dimension: int = 3) -> float:
    """Uncertainty of the OLS Einstein-fit D, with the correlation between MSD points included.

    Follows the idea of kinisi (McCluskey et al., J. Chem. Theory Comput. 20 (2024) 7225):
    displacements are taken as Gaussian, so the variance of the MSD at lag ``t`` is
    ``(2/d) m(t)^2 / N(t)`` with ``N(t) = n_particles * duration / t`` independent observations.
    Off-diagonal terms use the random-walk structure of Qian, Sheetz & Elson (Biophys. J. 60 (1991)
    910): ``cov(t_i <= t_j) = (2/d) m(t_i)^2 (3 t_j - t_i) / (2 n_particles duration)``, which is
    positive definite. ``m(t)`` is the fitted line through the origin (smooth, so the covariance
    does not inherit the noise). The OLS slope variance is ``[A S A^T]_00``,
    ``A = (X^T X)^-1 X^T`` (sandwich estimator); kinisi samples a Bayesian posterior instead.

    Parameters
    ----------
    time_ps : (n,) lag times in the fit window, > 0.
    msd_A2 : (n,) MSD values (tracer MSD, or MSCD with ``n_particles=1``).
    n_particles : independent particles averaged in the MSD.
    duration_ps : length of the trajectory the MSD came from.
    dimension : d.

    Returns
    -------
    diffusivity_std_cm2_s : one-sigma uncertainty of D in cm^2/s; NaN when the fitted slope is
        <= 0 (the model is undefined there; the caller records the reason).
    """
    t, m = np.asarray(time_ps, dtype=np.float64), np.asarray(msd_A2, dtype=np.float64)
    if t.size > MAX_COVARIANCE_POINTS:  # the slope variance converges long before this
        pick = np.linspace(0, t.size - 1, MAX_COVARIANCE_POINTS).astype(int)
        t, m = t[pick], m[pick]
    t = np.maximum(t, 1e-12)
    slope = float(np.dot(t, m) / np.dot(t, t))  # line through the origin
    if not slope > 0:  # the covariance model needs a growing MSD; no substitute formula
        log.warning("MSD slope %.3g A^2/ps <= 0: correlated-MSD uncertainty undefined (NaN)", slope)
        return float("nan")
    lo = np.minimum.outer(t, t)
    hi = np.maximum.outer(t, t)
    cov = (2.0 / dimension) * (slope * lo) ** 2 * (3.0 * hi - lo) / (2.0 * n_particles * duration_ps)
    design = np.column_stack([t, np.ones_like(t)])
    a_mat = np.linalg.pinv(design)
    slope_var = (a_mat @ cov @ a_mat.T)[0, 0]
    return float(np.sqrt(max(slope_var, 0.0))) * A2_PS_TO_CM2_S / (2.0 * dimension)
