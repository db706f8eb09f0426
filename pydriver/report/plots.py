"""Report figures across runs: Arrhenius and quantity-vs-mass-factor plots (Agg, written to files).

``*_figure`` functions build and return the matplotlib Figure (tests inspect the data and labels
given to matplotlib); ``plot_*`` functions build, save and close it.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np

from pydriver.analysis.diffusion import arrhenius_value
from pydriver.analysis.plots import pyplot, save_figure

log = logging.getLogger(__name__)

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
LINESTYLES = ("-", "--", ":", "-.")
#: y axis of the Arrhenius plot: the fitted quantity (ln(sigma T) or ln D against 1/T)
Y_LABELS = {"sigma_T": r"$\sigma T$ (mS K/cm)", "D": r"D (cm$^2$/s)"}
LEGEND_FONTSIZE = 9  # readable on a slide


def _inverse_thousand(x):
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(x != 0, 1000.0 / np.where(x != 0, x, 1.0), np.inf)


def _plotted(value, temperature_K, mode: str):
    """What the Arrhenius axis shows: sigma T for ``sigma_T`` (the fitted quantity), D for ``D``."""
    return np.asarray(value, dtype=float) * (np.asarray(temperature_K, dtype=float) if mode == "sigma_T" else 1.0)


def _group_points(ax, g: dict, color, marker: str, mode: str) -> None:
    """Fitted points (filled), excluded ones (hollow) and upper bounds (a bar with a downward arrow)."""
    for included in (True, False):
        pts = [p for p in g["points"] if p["included"] is included and p.get("upper_bound") is None
               and p["value"] is not None and np.isfinite(p["value"]) and p["value"] > 0]
        if not pts:
            continue
        t = np.array([p["temperature_K"] for p in pts])
        y = _plotted([p["value"] for p in pts], t, mode)
        err = _plotted([p["error"] if p["error"] is not None else np.nan for p in pts], t, mode)
        label = None if included else f"{g['structure']}, {g['mass_factors']}: excluded from fit"
        ax.errorbar(1000.0 / t, y, yerr=np.where(np.isfinite(err), err, 0.0), fmt=marker, color=color, capsize=2,
                    markerfacecolor=color if included else "none", label=label, zorder=3)
    bounds = [p for p in g["points"] if p.get("upper_bound") is not None and np.isfinite(p["upper_bound"])
              and p["upper_bound"] > 0]
    if bounds:
        t = np.array([p["temperature_K"] for p in bounds])
        y = _plotted([p["upper_bound"] for p in bounds], t, mode)
        ax.errorbar(1000.0 / t, y, yerr=[0.6 * y, np.zeros_like(y)], fmt="_", ms=12, mew=2, color=color,
                    capsize=0, uplims=True, zorder=3,
                    label=f"{g['structure']}, {g['mass_factors']}: upper bound (D not resolved, 95 %)")


#: candidate labels of the Arrhenius plot's temperature axis, K
TEMPERATURE_TICKS_K = (300, 350, 400, 450, 500, 600, 700, 800, 1000, 1200, 1500, 2000, 250, 200, 150, 100)
#: closest two temperature labels may sit on the 1000/T axis (1/K); matplotlib's own ticks crowded
#: 800-1000 K into one unreadable label in the CPU study's plot
MIN_TICK_SPACING = 0.12


def temperature_ticks_K(xlim_inverse_kK: tuple[float, float]) -> list[float]:
    """Temperatures (K) to label on the top axis of an Arrhenius plot with ``1000/T`` limits ``xlim``:
    the candidates inside the limits, in :data:`TEMPERATURE_TICKS_K` order of preference, none closer
    than :data:`MIN_TICK_SPACING` to another."""
    lo, hi = sorted(xlim_inverse_kK)
    kept: list[float] = []
    for t in TEMPERATURE_TICKS_K:
        x = 1000.0 / t
        if lo <= x <= hi and all(abs(x - 1000.0 / k) >= MIN_TICK_SPACING for k in kept):
            kept.append(float(t))
    return sorted(kept)


def arrhenius_figure(groups: dict, mode: str = "sigma_T"):
    """Arrhenius plot of every group, of the fitted quantity (sigma T or D, log scale) against 1000/T.

    Fitted points filled, excluded points hollow, upper bounds of unresolved runs as bars with a
    downward arrow, the fit line with Ea, the 300 K value with its 95 % interval (star), the
    temperature axis on top; the legend sits below the axes at a slide-readable size.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, g), color, marker in zip(groups.items(), itertools.cycle(colors), itertools.cycle(MARKERS)):
        fit = g.get("fit")
        _group_points(ax, g, color, marker, mode)
        if fit is None:  # a text-only legend entry
            ax.plot([], [], " ", label=f"{label}: no fit ({g.get('fit_reason')})")
            continue
        t_fit = np.array([p["temperature_K"] for p in g["points"] if p["included"]])
        tt = np.linspace(min(t_fit.min(), 300.0), t_fit.max(), 100)
        ax.plot(1000.0 / tt, _plotted(arrhenius_value(fit["ea_eV"], fit["ln_prefactor"], tt, mode), tt, mode), "-",
                color=color, label=f"{label}: $E_a$ = {fit['ea_eV']:.3f} $\\pm$ {fit['ea_std_eV']:.3f} eV")
        ext = g["at_300K"]
        word = "extrapolated" if ext["extrapolated"] else "interpolated"
        y300, lo, hi = _plotted([ext["value"], ext["ci95_low"], ext["ci95_high"]], ext["temperature_K"], mode)
        ax.errorbar([1000.0 / ext["temperature_K"]], [y300], yerr=[[y300 - lo], [hi - y300]], fmt="*", ms=10,
                    color=color, markerfacecolor="white", capsize=3, zorder=4,
                    label=f"{'σ' if mode == 'sigma_T' else 'D'}(300 K, {word}): {ext['value']:.2g} "
                          f"[{ext['ci95_low']:.2g}, {ext['ci95_high']:.2g}] {g['unit']}, 95% CI")
    if any(g.get("fit") for g in groups.values()):
        ax.axvline(1000.0 / 300.0, color="0.6", ls=":", lw=1)  # 300 K, labelled on the top axis
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel(Y_LABELS[mode])
    top = ax.secondary_xaxis("top", functions=(_inverse_thousand, _inverse_thousand))
    top.set_xticks(temperature_ticks_K(ax.get_xlim()))
    top.set_xlabel("T (K)")
    n_entries = len(ax.get_legend_handles_labels()[1])
    ax.legend(fontsize=LEGEND_FONTSIZE, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    fig.tight_layout()
    fig.subplots_adjust(bottom=min(0.55, 0.16 + 0.045 * n_entries))
    return fig


def plot_arrhenius(path, groups: dict, mode: str = "sigma_T") -> Path:
    """Write :func:`arrhenius_figure` to ``path``."""
    return save_figure(arrhenius_figure(groups, mode), path, pyplot())


def mass_factor_figure(series: dict, ylabel: str, fraction: bool = False):
    """Quantity vs anion mass factor; ``series`` maps label -> (mass_factor, value, error) lists.

    Ticks sit at the factors used; fraction axes run from 0 to 1; each series has its own marker
    and line style and is drawn with a small horizontal offset so overlapping series stay visible.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    factors = sorted({float(f) for x, _, _ in series.values() for f in x})
    n = max(len(series), 1)
    styles = zip(itertools.cycle(MARKERS), itertools.cycle(LINESTYLES))
    for k, ((label, (x, y, err)), (marker, ls)) in enumerate(zip(series.items(), styles)):
        order = np.argsort(x)
        xs = np.asarray(x, dtype=float)[order] * 10 ** (0.012 * (k - (n - 1) / 2))  # dodge on the log axis
        e = None if err is None or any(v is None for v in err) else np.asarray(err, dtype=float)[order]
        ax.errorbar(xs, np.asarray(y, dtype=float)[order], yerr=e, marker=marker, ls=ls, capsize=2,
                    markerfacecolor="none" if k % 2 else None, label=label)
    ax.set_xscale("log")
    ax.set_xticks(factors)
    ax.set_xticklabels([f"{f:g}" for f in factors])
    ax.minorticks_off()
    ax.set_xlabel("anion mass factor")
    ax.set_ylabel(ylabel)
    if fraction:
        ax.set_ylim(0.0, 1.0)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_vs_mass_factor(path, series: dict, ylabel: str, fraction: bool = False) -> Path:
    """Write :func:`mass_factor_figure` to ``path``."""
    return save_figure(mass_factor_figure(series, ylabel, fraction), path, pyplot())
