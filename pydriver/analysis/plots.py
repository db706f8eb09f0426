"""Per-run matplotlib figures (Agg backend, written to files, never shown); sweep-level plots are in
:mod:`pydriver.report.plots`."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pydriver.units import A2_PS_TO_CM2_S

log = logging.getLogger(__name__)


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported lazily: matplotlib is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_msd(path, lag_time_ps, msd_by_label: dict, fit_start_ps: float, fit_end_ps: float,
             diffusivity_cm2_s: float | None = None, mobile_label: str = "Na", title: str | None = None,
             flag: str | None = None) -> Path:
    """MSD vs lag time for every species with the fit window shaded and the fitted line.

    ``title``: the run (structure, T, mass factors); ``flag``: a warning written on the plot (e.g.
    not diffusive).
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for label, msd in msd_by_label.items():  # type label B_BH4 shown as "B (BH4)"
        shown = f"{label.split('_', 1)[0]} ({label.split('_', 1)[1]})" if "_" in label else label
        ax.plot(lag_time_ps, msd, label=shown, lw=1.5 if label == mobile_label else 1.0)
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
    if title:
        ax.set_title(title, fontsize=9, pad=14 if flag else 6)
    if flag:  # between the title and the axes, where neither curves nor the legend can cover it
        ax.text(0.5, 1.01, flag, transform=ax.transAxes, ha="center", va="bottom", fontsize=8, color="tab:red")
    ax.legend(fontsize=7, loc="best")
    return save_figure(fig, path, plt)


def save_figure(fig, path, plt) -> Path:
    """Lay out, write ``fig`` to ``path`` (120 dpi) and close it; returns the path."""
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    log.debug("wrote %s", path)
    return path


def plot_reorientation(path, reorientation: dict, title: str | None = None) -> Path:
    """C_1(t) and C_2(t) of each anion kind (log axis) with the fitted exponentials and their times.

    ``reorientation``: kind -> entry of :func:`pydriver.analysis.reorientation.anion_reorientation`
    (arrays ``lag_time_ps``, ``c1``, ``c2``; ``tau_1_ps``, ``tau_1_fit_window_ps``, ...). Curves are
    drawn to the last lag where C > 1e-3 (the log axis); a fit is the line through C at the start
    of its window with slope -1/tau, over the window; an unresolved time is given as a lower bound.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    k = 0
    for kind, entry in reorientation.items():
        lag = np.asarray(entry["lag_time_ps"], dtype=float)
        for l, ls in ((1, "-"), (2, "--")):
            c = np.asarray(entry[f"c{l}"], dtype=float)
            keep = np.cumprod(c > 1e-3).astype(bool)
            tau, bound, window = (entry.get(f"tau_{l}_ps"), entry.get(f"tau_{l}_lower_bound_ps"),
                                  entry.get(f"tau_{l}_fit_window_ps"))
            if tau:
                text = f"$\\tau_{l}$ = {tau:.3g} ps"
            elif bound:
                text = f"$\\tau_{l}$ > {bound:.3g} ps"
            else:
                text = f"$\\tau_{l}$ not resolved"
            color = colors[k % len(colors)]
            ax.plot(lag[keep], c[keep], ls, color=color, lw=1.4, label=f"{kind} $C_{l}$ ({text})")
            if tau and window:
                t = np.linspace(window[0], window[1], 20)
                c0 = float(np.interp(window[0], lag, c))
                ax.plot(t, c0 * np.exp(-(t - window[0]) / tau), ":", color="k", lw=1.2)
            k += 1
    ax.plot([], [], ":", color="k", label="exponential fits")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 1.1)
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel(r"$C_l(t) = \langle P_l(\mathbf{u}(0)\cdot\mathbf{u}(t))\rangle$")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="best")
    return save_figure(fig, path, plt)
