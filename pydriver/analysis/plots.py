"""Matplotlib figures (Agg backend, written to files, never shown)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_msd(path, lag_time_ps, msd_by_label: dict, fit_start_ps: float, fit_end_ps: float,
             diffusivity_cm2_s: float | None = None, mobile_label: str = "Na") -> Path:
    """MSD vs lag time for every species with the fit window shaded and the fitted line."""
    from pydriver.analysis.diffusion import A2_PS_TO_CM2_S

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, msd in msd_by_label.items():
        ax.plot(lag_time_ps, msd, label=label, lw=1.5 if label == mobile_label else 1.0)
    ax.axvspan(fit_start_ps, fit_end_ps, color="0.85", label="fit window")
    if diffusivity_cm2_s is not None:
        slope = 6.0 * diffusivity_cm2_s / A2_PS_TO_CM2_S
        t = np.array([fit_start_ps, fit_end_ps])
        msd = np.asarray(msd_by_label.get(mobile_label, next(iter(msd_by_label.values()))))
        sel = (lag_time_ps >= fit_start_ps) & (lag_time_ps <= fit_end_ps)
        offset = np.mean(msd[sel] - slope * lag_time_ps[sel])
        ax.plot(t, slope * t + offset, "k--", label=f"6Dt, D={diffusivity_cm2_s:.2e} cm$^2$/s")
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel(r"MSD ($\AA^2$)")
    ax.legend(fontsize=7)
    return _save(fig, path, plt)


def plot_arrhenius(path, groups: dict, mode: str = "sigma_T") -> Path:
    """Arrhenius plot: ``groups`` maps a legend label to dict(temperature_K, value, error, fit)."""
    from pydriver.analysis.diffusion import arrhenius_value

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, g in groups.items():
        t = np.asarray(g["temperature_K"], dtype=float)
        v = np.asarray(g["value"], dtype=float)
        y = v * t if mode == "sigma_T" else v
        err = None if g.get("error") is None else np.asarray(g["error"], dtype=float) * (t if mode == "sigma_T" else 1)
        ax.errorbar(1000.0 / t, y, yerr=err, fmt="o", label=label)
        fit = g.get("fit")
        if fit is not None:
            tt = np.linspace(min(t.min(), 300.0), t.max(), 50)
            yy = arrhenius_value(fit["ea_eV"], fit["ln_prefactor"], tt, mode) * (tt if mode == "sigma_T" else 1)
            ax.plot(1000.0 / tt, yy, "--", label=f"Ea = {fit['ea_eV']:.3f} eV")
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel(r"$\sigma T$ (mS K / cm)" if mode == "sigma_T" else r"D (cm$^2$/s)")
    ax.legend(fontsize=7)
    return _save(fig, path, plt)


def plot_vs_mass_factor(path, series: dict, ylabel: str) -> Path:
    """Quantity vs anion mass factor; ``series`` maps label -> (mass_factor, value, error) lists."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, (x, y, err) in series.items():
        order = np.argsort(x)
        e = None if err is None or any(v is None for v in err) else np.asarray(err, dtype=float)[order]
        ax.errorbar(np.asarray(x)[order], np.asarray(y)[order], yerr=e, fmt="o-", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("anion mass factor")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    return _save(fig, path, plt)


def _save(fig, path, plt) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    log.debug("wrote %s", path)
    return path
