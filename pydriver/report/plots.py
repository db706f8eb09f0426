"""Report figures across runs: Arrhenius and quantity-vs-mass-factor plots (Agg, written to files).

``*_figure`` functions build and return the matplotlib Figure (tests inspect the data and labels
given to matplotlib); ``plot_*`` functions build, save and close it.
"""

from __future__ import annotations

import itertools
import logging
import textwrap
from pathlib import Path

import numpy as np

from pydriver.analysis.diffusion import arrhenius_value
from pydriver.analysis.plots import pyplot, save_figure

log = logging.getLogger(__name__)

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
LINESTYLES = ("-", "--", ":", "-.")
#: y axis of the Arrhenius plot: the fitted quantity (ln(sigma T) or ln D against 1/T)
Y_LABELS = {"sigma_T": r"$\sigma T$ (mS K/cm)", "D": r"D (cm$^2$/s)", "hop_rate": "Na hop rate per ion (1/ps)"}
#: the quantity's name in the 300 K legend entry
SYMBOLS = {"sigma_T": "σ", "D": "D", "hop_rate": "hop rate"}
#: legend text of upper bounds (a group may give its own as ``bound_label``)
BOUND_LABEL = "upper bound (D not resolved, 95 %)"
LEGEND_FONTSIZE = 9  # readable on a slide
LEGEND_WRAP = 90  # characters per legend line below the Arrhenius axes


def _inverse_thousand(x):
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(x != 0, 1000.0 / np.where(x != 0, x, 1.0), np.inf)


def _plotted(value, temperature_K, mode: str):
    """What the Arrhenius axis shows: sigma T for ``sigma_T`` (the fitted quantity), D for ``D``."""
    return np.asarray(value, dtype=float) * (np.asarray(temperature_K, dtype=float) if mode == "sigma_T" else 1.0)


def _group_points(ax, g: dict, color, marker: str, mode: str, series_label: str) -> list:
    """Fitted points (filled), excluded ones (hollow) and upper bounds (a bar with a downward arrow).

    Returns the group's legend entries, ``[(handle, label)]``: first the series itself (its filled
    points, or its marker alone when none was fitted) labelled ``series_label``, then the excluded
    points and the upper bounds.
    """
    entries = []
    for included in (True, False):
        pts = [p for p in g["points"] if p["included"] is included and p.get("upper_bound") is None
               and p["value"] is not None and np.isfinite(p["value"]) and p["value"] > 0]
        if not pts:
            continue
        t = np.array([p["temperature_K"] for p in pts])
        y = _plotted([p["value"] for p in pts], t, mode)
        err = _plotted([p["error"] if p["error"] is not None else np.nan for p in pts], t, mode)
        label = series_label if included else f"{g['structure']}, {g['mass_factors']}: excluded from fit"
        handle = ax.errorbar(1000.0 / t, y, yerr=np.where(np.isfinite(err), err, 0.0), fmt=marker, color=color,
                             capsize=2, markerfacecolor=color if included else "none", label=label, zorder=3)
        entries.append((handle, label))
    if not entries or entries[0][1] != series_label:  # no fitted point: the marker names the series
        handle, = ax.plot([], [], ls="none", marker=marker, color=color, label=series_label)
        entries.insert(0, (handle, series_label))
    bounds = [p for p in g["points"] if p.get("upper_bound") is not None and np.isfinite(p["upper_bound"])
              and p["upper_bound"] > 0]
    if bounds:
        t = np.array([p["temperature_K"] for p in bounds])
        y = _plotted([p["upper_bound"] for p in bounds], t, mode)
        label = f"{g['structure']}, {g['mass_factors']}: {g.get('bound_label', BOUND_LABEL)}"
        handle = ax.errorbar(1000.0 / t, y, yerr=[0.6 * y, np.zeros_like(y)], fmt="_", ms=12, mew=2, color=color,
                             capsize=0, uplims=True, zorder=3, label=label)
        entries.append((handle, label))
    return entries


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


#: the y range of an Arrhenius plot spans its points and fit lines times/over this factor; a wider 95 %
#: interval (few temperatures: Student t with 1-2 degrees of freedom) runs off the axes, its numbers
#: stay in the legend
ARRHENIUS_Y_MARGIN = 100.0


def _clip_to_data(ax) -> None:
    """Limit a log y axis to the plotted markers and lines (not error bars) with :data:`ARRHENIUS_Y_MARGIN`."""
    caps = {id(cap) for c in ax.containers if hasattr(c, "lines") for cap in (c.lines[1] or ())}
    ys = [np.asarray(line.get_ydata(), dtype=float) for line in ax.lines
          if len(line.get_ydata()) and id(line) not in caps and line.get_transform() == ax.transData]
    ys = np.concatenate(ys) if ys else np.array([])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if ys.size:
        low, high = ax.get_ylim()
        ax.set_ylim(max(low, ys.min() / ARRHENIUS_Y_MARGIN), min(high, ys.max() * ARRHENIUS_Y_MARGIN))


def arrhenius_figure(groups: dict, mode: str = "sigma_T"):
    """Arrhenius plot of every group, of the fitted quantity (sigma T or D, log scale) against 1000/T.

    Each group (structure, mass setting) is one series with its own colour and marker, named in the
    legend (with the reason when it has no fit). Fitted points filled, excluded points hollow, upper
    bounds of unresolved runs as bars with a downward arrow, the fit line with Ea, the 300 K value
    with its 95 % interval (star), the temperature axis on top; the legend lists the entries group by
    group below the axes at a slide-readable size.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    entries = []
    for (label, g), color, marker in zip(groups.items(), itertools.cycle(colors), itertools.cycle(MARKERS)):
        fit = g.get("fit")
        series = label if fit is not None else textwrap.fill(f"{label}: no fit ({g.get('fit_reason')})",
                                                             LEGEND_WRAP)
        group_entries = _group_points(ax, g, color, marker, mode, series)
        entries += group_entries[:1]
        if fit is not None:
            t_fit = np.array([p["temperature_K"] for p in g["points"] if p["included"]])
            tt = np.linspace(min(t_fit.min(), 300.0), t_fit.max(), 100)
            text = f"{label}: $E_a$ = {fit['ea_eV']:.3f} $\\pm$ {fit['ea_std_eV']:.3f} eV"
            line, = ax.plot(1000.0 / tt, _plotted(arrhenius_value(fit["ea_eV"], fit["ln_prefactor"], tt, mode), tt,
                                                   mode), "-", color=color, label=text)
            entries.append((line, text))
            ext = g["at_300K"]
            word = "extrapolated" if ext["extrapolated"] else "interpolated"
            y300, lo, hi = _plotted([ext["value"], ext["ci95_low"], ext["ci95_high"]], ext["temperature_K"], mode)
            text = (f"{SYMBOLS[mode]}(300 K, {word}): {ext['value']:.2g} "
                    f"[{ext['ci95_low']:.2g}, {ext['ci95_high']:.2g}] {g['unit']}, 95% CI")
            star = ax.errorbar([1000.0 / ext["temperature_K"]], [y300], yerr=[[y300 - lo], [hi - y300]], fmt="*",
                               ms=10, color=color, markerfacecolor="white", capsize=3, zorder=4, label=text)
            entries.append((star, text))
        entries += group_entries[1:]
    if any(g.get("fit") for g in groups.values()):
        ax.axvline(1000.0 / 300.0, color="0.6", ls=":", lw=1)  # 300 K, labelled on the top axis
    ax.set_yscale("log")
    _clip_to_data(ax)
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel(Y_LABELS[mode])
    top = ax.secondary_xaxis("top", functions=(_inverse_thousand, _inverse_thousand))
    top.set_xticks(temperature_ticks_K(ax.get_xlim()))
    top.set_xlabel("T (K)")
    n_entries = sum(text.count("\n") + 1 for _, text in entries)
    ax.legend([h for h, _ in entries], [text for _, text in entries], fontsize=LEGEND_FONTSIZE, loc="upper center",
              bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    fig.tight_layout()
    fig.subplots_adjust(bottom=min(0.55, 0.16 + 0.045 * n_entries))
    return fig


def plot_arrhenius(path, groups: dict, mode: str = "sigma_T") -> Path:
    """Write :func:`arrhenius_figure` to ``path``."""
    return save_figure(arrhenius_figure(groups, mode), path, pyplot())


def mass_factor_figure(series: dict, ylabel: str, fraction: bool = False, log_y: bool = False):
    """Quantity vs anion mass factor; ``series`` maps label -> (mass_factor, value, error) lists.

    Ticks sit at the factors used; fraction axes run from 0 to 1 (``log_y``: a log axis, for times
    that differ by decades between anion kinds); each series has its own marker and line style and
    is drawn with a small horizontal offset so overlapping series stay visible.
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
    if log_y:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")  # 0.6, not 6 x 10^-1
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_vs_mass_factor(path, series: dict, ylabel: str, fraction: bool = False, log_y: bool = False) -> Path:
    """Write :func:`mass_factor_figure` to ``path``."""
    return save_figure(mass_factor_figure(series, ylabel, fraction, log_y), path, pyplot())


#: series drawn in the coupling-profile figure (those with the most hops)
MAX_PROFILE_SERIES = 6


def coupling_profile_figure(profiles: dict):
    """Hop rate against the time since a neighbouring anion's reorientation event, over the rate without one.

    ``profiles`` maps label -> ``profile`` of a ``coupling.<kind>`` section (``time_since_event_ps``
    bin starts, ``hop_rate_ratio``, ``hop_rate_ratio_ci95``) plus ``n_hops_total``; the
    :data:`MAX_PROFILE_SERIES` with the most hops are drawn, as steps over each bin with the 95 %
    interval shaded; 1 (no coupling) is the dotted line.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    chosen = sorted(profiles.items(), key=lambda item: -(item[1].get("n_hops_total") or 0))[:MAX_PROFILE_SERIES]
    styles = zip(itertools.cycle(LINESTYLES), plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for (label, p), (ls, color) in zip(chosen, styles):
        t = np.asarray(p["time_since_event_ps"], dtype=float)
        width = t[1] - t[0] if t.size > 1 else 0.1
        edges = np.append(t, t[-1] + width)
        ratio = np.array([np.nan if v is None else v for v in p["hop_rate_ratio"]], dtype=float)
        ci = np.array([[np.nan, np.nan] if c is None or None in c else c for c in p["hop_rate_ratio_ci95"]],
                      dtype=float)
        ax.stairs(ratio, edges, ls=ls, color=color, lw=1.5, baseline=None,
                  label=f"{label} ({p.get('n_hops_total', '?')} hops)")
        ax.fill_between(np.repeat(edges, 2)[1:-1], np.repeat(ci[:, 0], 2), np.repeat(ci[:, 1], 2), color=color,
                        alpha=0.15, lw=0, step=None)
    ax.axhline(1.0, color="0.4", ls=":", lw=1)
    ax.set_xlabel("time since a neighbouring anion's reorientation event (ps)")
    ax.set_ylabel("hop rate / hop rate without a recent event")
    ax.set_ylim(bottom=0.0)
    ax.plot([], [], " ", label="shaded: 95 % interval; dotted: no coupling")
    ax.legend(fontsize=LEGEND_FONTSIZE - 1, loc="best")
    fig.tight_layout()
    return fig


def plot_coupling_profile(path, profiles: dict) -> Path:
    """Write :func:`coupling_profile_figure` to ``path``."""
    return save_figure(coupling_profile_figure(profiles), path, pyplot())


def _panel_grid(plt, n_panels: int, panel_height: float):
    """Figure and (rows, 2) axes for ``n_panels`` panels of 6.0 x ``panel_height`` inches (one column for one)."""
    n = max(n_panels, 1)
    ncols = min(n, 2)
    nrows = int(np.ceil(n / ncols))
    return plt.subplots(nrows, ncols, figsize=(6.0 * ncols, panel_height * nrows), squeeze=False)


def _finish_panels(fig, axes, n_used: int):
    """Hide the axes past the panels drawn, tighten the layout; returns the figure."""
    for ax in axes.ravel()[n_used:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


#: panels of the site-occupancy figure
MAX_SITE_PANELS = 6


def site_occupancy_figure(panels: dict):
    """Mean Na per site, sites sorted by occupancy, one panel per run; bars coloured by site family.

    ``panels`` maps a title -> ``{"occupancy": [...], "std": [...], "family": [...] or None}``
    (the first :data:`MAX_SITE_PANELS`). Error bars are one standard error.
    """
    plt = pyplot()
    chosen = list(panels.items())[:MAX_SITE_PANELS]
    fig, axes = _panel_grid(plt, len(chosen), 3.2)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (title, p) in zip(axes.ravel(), chosen):
        occ = np.asarray(p["occupancy"], dtype=float)
        std = np.array([np.nan if v is None else v for v in (p.get("std") or [None] * occ.size)], dtype=float)
        order = np.argsort(-occ, kind="stable")
        family = p.get("family")
        x = np.arange(occ.size)
        if family is None:
            ax.bar(x, occ[order], yerr=np.nan_to_num(std[order]), color=colors[0], width=0.8,
                   error_kw={"lw": 0.8, "capsize": 1})
        else:
            fam = np.asarray(family)[order]
            for k, f in enumerate(np.unique(fam)):
                sel = fam == f
                ax.bar(x[sel], occ[order][sel], yerr=np.nan_to_num(std[order][sel]), color=colors[k % len(colors)],
                       width=0.8, error_kw={"lw": 0.8, "capsize": 1}, label=f"family {f}")
            ax.legend(fontsize=LEGEND_FONTSIZE - 1, ncol=2)
        ax.set_title(f"{title}: {occ.size} sites, {occ.sum():.1f} Na on sites", fontsize=9)
        ax.set_xlabel("sites, most occupied first")
        ax.set_ylabel("mean Na on the site")
        ax.set_xlim(-0.8, occ.size - 0.2)
    return _finish_panels(fig, axes, len(chosen))


def plot_site_occupancy(path, panels: dict) -> Path:
    """Write :func:`site_occupancy_figure` to ``path``."""
    return save_figure(site_occupancy_figure(panels), path, pyplot())


#: panels of the slab-profile figure, and the colours of the slab kinds (as in the OVITO renders)
MAX_SLAB_PANELS = 6
SLAB_COLORS = {"BH4": "tab:green", "B12H12": "tab:blue"}


def _slab_spans(layers: list[dict], boundaries: list[float]) -> list[tuple[float, float, str]]:
    """(start, end, kind) of each slab over [0, 1), sorted: the boundaries cut the periodic axis into
    intervals, each holding layers of one kind (a slab across 1 -> 0 is two spans)."""
    cuts = sorted(float(b) % 1.0 for b in boundaries)
    spans = []
    for i, start in enumerate(cuts):
        end = cuts[(i + 1) % len(cuts)] + (1.0 if i + 1 == len(cuts) else 0.0)
        mid = [lay["kind"] for lay in layers if start <= float(lay["frac"]) < end or start <= float(lay["frac"]) + 1 < end]
        kind = mid[0] if mid else "?"
        spans += [(start, min(end, 1.0), kind)] + ([(0.0, cuts[0], kind)] if end > 1.0 else [])
    return sorted(spans)


def slab_profile_figure(panels: dict):
    """Density of the mobile ions along the stacking axis, one panel per run: the run (line) and its first
    analysed frame (dashed; the start of production), over slabs shaded by anion kind, with the anion
    layers as ticks.

    ``panels`` maps a title -> a report row's ``slab_profile`` (``n_bins``, ``ion_frames``, ``first_frame``,
    ``layers``, ``boundaries_frac``, ``stacking_axis``, ``fraction_time``); the first :data:`MAX_SLAB_PANELS`.
    Densities are per unit of the fractional coordinate (a uniform spread is 1).
    """
    plt = pyplot()
    chosen = list(panels.items())[:MAX_SLAB_PANELS]
    fig, axes = _panel_grid(plt, len(chosen), 3.0)
    for ax, (title, p) in zip(axes.ravel(), chosen):
        n_bins = int(p["n_bins"])
        x = (np.arange(n_bins) + 0.5) / n_bins
        run = np.asarray(p["ion_frames"], dtype=float) * n_bins
        first = np.asarray(p["first_frame"], dtype=float) * n_bins
        top = max(run.max(), first.max(), 1.0) * 1.1
        shaded = set()
        for start, end, kind in _slab_spans(p["layers"], p["boundaries_frac"]):
            label = f"{kind} slabs" if kind not in shaded else None
            shaded.add(kind)
            ax.axvspan(start, end, color=SLAB_COLORS.get(kind, "0.8"), alpha=0.15, lw=0, label=label)
        for lay in p["layers"]:
            ax.plot([lay["frac"]] * 2, [0, 0.05 * top], color=SLAB_COLORS.get(lay["kind"], "0.5"), lw=2)
        ax.step(x, first, where="mid", color="0.45", ls="--", lw=0.9, label="first analysed frame")
        ax.step(x, run, where="mid", color="k", lw=1.2, label="whole run")
        times = ", ".join(f"{k} {v:.2f}" for k, v in sorted((p.get("fraction_time") or {}).items()))
        ax.set_title(f"{title}\nion time in slabs: {times}", fontsize=9)
        ax.set_xlabel(f"fractional coordinate along {p.get('stacking_axis') or 'the stacking axis'}")
        ax.set_ylabel("ion density (uniform = 1)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, top)
        ax.legend(fontsize=LEGEND_FONTSIZE - 1, ncol=2, loc="upper right")
    return _finish_panels(fig, axes, len(chosen))


def plot_slab_profile(path, panels: dict) -> Path:
    """Write :func:`slab_profile_figure` to ``path``."""
    return save_figure(slab_profile_figure(panels), path, pyplot())
