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
