"""Report figures across runs: Arrhenius and quantity-vs-mass-factor plots (Agg, written to files)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pydriver.analysis.diffusion import arrhenius_value
from pydriver.analysis.plots import pyplot, save_figure

log = logging.getLogger(__name__)


def plot_arrhenius(path, groups: dict, mode: str = "sigma_T") -> Path:
    """Arrhenius plot: ``groups`` maps a legend label to dict(temperature_K, value, error, fit)."""
    plt = pyplot()
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
    return save_figure(fig, path, plt)


def plot_vs_mass_factor(path, series: dict, ylabel: str) -> Path:
    """Quantity vs anion mass factor; ``series`` maps label -> (mass_factor, value, error) lists."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, (x, y, err) in series.items():
        order = np.argsort(x)
        e = None if err is None or any(v is None for v in err) else np.asarray(err, dtype=float)[order]
        ax.errorbar(np.asarray(x)[order], np.asarray(y)[order], yerr=e, fmt="o-", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("anion mass factor")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    return save_figure(fig, path, plt)
