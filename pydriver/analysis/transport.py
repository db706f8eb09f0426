"""Tracer and charge diffusivity, conductivity and Haven ratio of one MD run.

:class:`DiffusionAnalysis` is configured in ``__init__`` and computed by :meth:`run`, which returns
``self`` with everything in ``.results`` (a dict with unit-suffixed keys).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from pydriver.analysis.diffusion import (diffusivity_from_msd, diffusivity_std_correlated,
                                        nernst_einstein_conductivity_mS_cm)
from pydriver.analysis.dump_reader import read_lammps_dump
from pydriver.analysis.msd import MSD_ORIGINS, collective_msd, framework_drift, per_atom_msd
from pydriver.analysis.options import DEFAULT_FIT_FRACTION, UNCERTAINTY_METHODS, AnalysisOptions
from pydriver.analysis.trajectory import uneven_gaps
from pydriver.analysis.uncertainty import (charge_diffusivity, correlated_groups, haven_ratio, per_ion_slopes,
                                           tracer_diffusivity)
from pydriver.units import A2_PS_TO_CM2_S, A3_TO_CM3

log = logging.getLogger(__name__)

MIN_FIT_POINTS = 3
UNDEFINED_KINISI_REASON = ("MSD slope <= 0 in the fit window: the correlated-MSD (kinisi-style) model needs a "
                           "positive slope; use --uncertainty block")


@dataclass
class FitWindow:
    """Lag-time window of the MSD fit (ps), inclusive."""

    start_ps: float
    end_ps: float

    @classmethod
    def of_run(cls, duration_ps: float, fit_start_ps: float | None, fit_end_ps: float | None,
               fit_fraction: tuple[float, float]) -> FitWindow:
        """Explicit start/end (ps) where given, else those fractions of ``duration_ps`` (not checked)."""
        return cls(fit_fraction[0] * duration_ps if fit_start_ps is None else float(fit_start_ps),
                   fit_fraction[1] * duration_ps if fit_end_ps is None else float(fit_end_ps))

    def inside(self, time_ps: np.ndarray) -> np.ndarray:
        """Boolean mask of lags inside the window (any number of them)."""
        return (time_ps >= self.start_ps - 1e-9) & (time_ps <= self.end_ps + 1e-9)

    def mask(self, time_ps: np.ndarray) -> np.ndarray:
        """Boolean mask of lags inside the window; ``ValueError`` when fewer than ``MIN_FIT_POINTS``."""
        sel = self.inside(time_ps)
        if sel.sum() < MIN_FIT_POINTS:
            raise ValueError(f"fit window [{self.start_ps}, {self.end_ps}] ps holds {int(sel.sum())} lags; "
                             f"need >= {MIN_FIT_POINTS} (lags {time_ps[0]}..{time_ps[-1]} ps)")
        return sel

    def within(self, duration_ps: float) -> bool:
        """True when ``0 <= start < end <= duration_ps``."""
        return 0.0 <= self.start_ps < self.end_ps <= duration_ps + 1e-9


def resolve_fit_window(duration_ps: float, fit_start_ps: float | None, fit_end_ps: float | None,
                       fit_fraction: tuple[float, float] = DEFAULT_FIT_FRACTION) -> FitWindow:
    """Fit window from explicit times, else from fractions of ``duration_ps``.

    Raises
    ------
    ValueError
        If the window is empty or outside ``[0, duration_ps]``.
    """
    window = FitWindow.of_run(duration_ps, fit_start_ps, fit_end_ps, fit_fraction)
    if not window.within(duration_ps):
        raise ValueError(f"fit window [{window.start_ps}, {window.end_ps}] ps must satisfy 0 <= start < end <= "
                         f"{duration_ps} ps")
    return window


def block_edges(n_frames: int, n_blocks: int) -> np.ndarray:
    """Frame indices cutting ``n_frames`` into ``n_blocks`` contiguous blocks (``n_blocks + 1`` edges)."""
    return np.linspace(0, n_frames, n_blocks + 1).astype(int)


class DiffusionAnalysis:
    """MSD, self and charge diffusivity, Nernst-Einstein conductivity and Haven ratio.

    Parameters
    ----------
    positions_A : (n_frames, n_atoms, 3) -- unwrapped positions (memory-mapped is fine).
    time_ps : (n_frames,) -- frame times; must be evenly spaced.
    labels : (n_atoms,) str -- species label per atom (e.g. ``Na``, ``B_BH4``); MSDs are per label.
    elements : (n_atoms,) str -- chemical element per atom.
    volumes_A3 : (n_frames,) -- cell volume per frame; the mean gives the number density.
    temperature_K : temperature for Nernst-Einstein.
    options : :class:`~pydriver.analysis.options.AnalysisOptions` (defaults stated there, once); this
        class uses ``diffusing_element`` (the mobile ion; all other atoms form the framework),
        ``charge`` (its Z in e), ``fit_start_ps``/``fit_end_ps`` (default ``fit_fraction`` of the
        run), ``origins`` (``"all"``: FFT average over time origins; ``"first"``: pymatgen's
        ``smoothed=False``), ``drift_correction`` (subtract the framework's mean displacement, as
        pymatgen), ``n_blocks`` (>= 2, block-averaging uncertainty) and ``uncertainty`` (which
        estimate becomes ``diffusivity_std_cm2_s``: ``"ions"``, per-ion log-jackknife for D and
        Gaussian-walker pivot for charge D, calibrated, see :mod:`pydriver.analysis.uncertainty`;
        ``"kinisi"``, Gaussian correlated-MSD model; ``"block"``, spread of block estimates; all
        three are always reported).
    **overrides : any option by name, replacing the value in ``options`` (e.g. ``fit_start_ps=2.0``).

    Raises
    ------
    ValueError
        For an unknown option, a bad ``uncertainty``/``origins``/``n_blocks``, no atom of the
        diffusing element, too few or unevenly spaced frames, or a fit window outside the run.
    """

    def __init__(self, positions_A, time_ps, labels, elements, volumes_A3, temperature_K: float,
                 options: AnalysisOptions | None = None, **overrides):
        unknown = sorted(set(overrides) - set(AnalysisOptions.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown analysis options {unknown}; known: {sorted(AnalysisOptions.__dataclass_fields__)}")
        opts = replace(options or AnalysisOptions(), **overrides)
        self.options = opts
        diffusing_element, uncertainty, origins, n_blocks = (opts.diffusing_element, opts.uncertainty, opts.origins,
                                                             opts.n_blocks)
        if uncertainty not in UNCERTAINTY_METHODS:
            raise ValueError(f"uncertainty={uncertainty!r}; allowed {UNCERTAINTY_METHODS}")
        self.uncertainty = uncertainty
        if origins not in MSD_ORIGINS:
            raise ValueError(f"origins={origins!r}; allowed {MSD_ORIGINS}")
        if n_blocks < 2:
            raise ValueError(f"n_blocks={n_blocks}; need >= 2 for an uncertainty")
        self.positions_A = positions_A
        self.time_ps = np.asarray(time_ps, dtype=np.float64)
        self.labels = np.asarray(labels).astype(str)
        self.elements = np.asarray(elements).astype(str)
        self.volumes_A3 = np.asarray(volumes_A3, dtype=np.float64)
        self.temperature_K = float(temperature_K)
        self.diffusing_element, self.charge = diffusing_element, float(opts.charge)
        self.origins, self.drift_correction, self.n_blocks = origins, bool(opts.drift_correction), int(n_blocks)
        self.mobile_index = np.flatnonzero(self.elements == diffusing_element)
        self.framework_index = np.flatnonzero(self.elements != diffusing_element)
        if self.mobile_index.size == 0:
            raise ValueError(f"no atoms of diffusing_element={diffusing_element!r}; elements present "
                             f"{sorted(set(self.elements))}")
        if self.time_ps.size < 2 * MIN_FIT_POINTS:
            raise ValueError(f"need >= {2 * MIN_FIT_POINTS} frames, got {self.time_ps.size}")
        uneven = uneven_gaps(self.time_ps)
        if uneven.size:
            pairs = ", ".join(f"{self.time_ps[i]:g} -> {self.time_ps[i + 1]:g} ps" for i in uneven[:5])
            raise ValueError(f"frames must be evenly spaced; uneven at {pairs}")
        self.dt_frame_ps = float(self.time_ps[1] - self.time_ps[0])
        self.duration_ps = float(self.time_ps[-1] - self.time_ps[0])
        self.window = resolve_fit_window(self.duration_ps, opts.fit_start_ps, opts.fit_end_ps, tuple(opts.fit_fraction))
        self.fit_fraction = (self.window.start_ps / self.duration_ps, self.window.end_ps / self.duration_ps)
        self.results: dict = {}

    @classmethod
    def from_lammps_dump(cls, path, type_elements: dict[int, str], dt_ps: float, temperature_K: float,
                         production_start_step: int | None = None, **kwargs) -> DiffusionAnalysis:
        """Build from a dump file; ``type_elements`` maps LAMMPS type to element (labels = elements).

        ``dt_ps`` is the MD time step; frame times are ``(step - production_start_step) * dt_ps``.
        """
        traj = read_lammps_dump(path)
        missing = sorted(set(traj.types.tolist()) - set(type_elements))
        if missing:
            raise ValueError(f"types {missing} not in type_elements {sorted(type_elements)}")
        elements = np.array([type_elements[int(t)] for t in traj.types])
        start = traj.steps[0] if production_start_step is None else production_start_step
        return cls(traj.positions_A, (traj.steps - start) * dt_ps, elements, elements, traj.volumes_A3,
                   temperature_K, **kwargs)

    def _drift(self, frames: slice) -> np.ndarray | None:
        if not self.drift_correction:
            return None
        return framework_drift(self.positions_A[frames], self.framework_index)

    def run(self) -> DiffusionAnalysis:
        """Compute MSDs, D (with block uncertainty), conductivity, charge D and Haven ratio."""
        lag_ps = self.time_ps - self.time_ps[0]
        drift = self._drift(slice(None))
        msd_by_label = {}
        per_atom_mobile = None
        for label in sorted(set(self.labels)):
            index = np.flatnonzero(self.labels == label)
            per_atom = per_atom_msd(self.positions_A, index, drift, self.origins)
            msd_by_label[label] = per_atom.mean(axis=1)
            if np.isin(index, self.mobile_index).all() and index.size == self.mobile_index.size:
                per_atom_mobile = per_atom
        if per_atom_mobile is None:
            per_atom_mobile = per_atom_msd(self.positions_A, self.mobile_index, drift, self.origins)
        msd_mobile = per_atom_mobile.mean(axis=1)
        mscd = collective_msd(self.positions_A, self.mobile_index, drift, self.origins)
        sel = self.window.mask(lag_ps)
        d_cm2_s, d_ols, msd_offset_A2 = diffusivity_from_msd(lag_ps[sel], msd_mobile[sel])
        dq_cm2_s, dq_ols, _ = diffusivity_from_msd(lag_ps[sel], mscd[sel])
        blocks = self._block_estimates()
        n_mobile = self.mobile_index.size
        blocks["diffusivity_kinisi"] = diffusivity_std_correlated(lag_ps[sel], msd_mobile[sel], n_mobile,
                                                                  self.duration_ps)
        blocks["charge_kinisi"] = diffusivity_std_correlated(lag_ps[sel], mscd[sel], 1, self.duration_ps)
        window = np.flatnonzero(sel)
        start, stop = int(window[0]), int(window[-1]) + 1
        # concerted ions from increments over segments of the window's first lag: only those frames are read
        step = max(start, 1)
        marks = self.positions_A[::step][:, self.mobile_index]
        groups = correlated_groups(marks if drift is None else marks - drift[::step][:, None, :], 1)
        blocks["tracer_interval"] = tracer_diffusivity(per_ion_slopes(lag_ps, per_atom_mobile, sel),
                                                      window=(lag_ps.size, start, stop),
                                                      groups=groups).scaled(A2_PS_TO_CM2_S)
        blocks["concerted_groups"] = int(groups.max()) + 1
        blocks["charge_interval"] = charge_diffusivity(dq_cm2_s, lag_ps.size, start, stop)
        blocks["haven_interval"] = haven_ratio(blocks["tracer_interval"], blocks["charge_interval"], lag_ps.size,
                                               start, stop)
        blocks["msd_offset_A2"] = msd_offset_A2
        log.info("D(%s) = %.3e cm^2/s from %d frames", self.diffusing_element, d_cm2_s, lag_ps.size)
        self.results = {"lag_time_ps": lag_ps, "msd_A2": msd_by_label, "mobile_msd_A2": msd_mobile,
                        "mobile_per_atom_msd_A2": per_atom_mobile, "mscd_A2": mscd, "drift_A": drift}
        self.results.update(self._summary(d_cm2_s, d_ols, dq_cm2_s, dq_ols, blocks))
        return self

    def _block_estimates(self) -> dict:
        """D and charge D in each of ``n_blocks`` contiguous blocks (same relative fit window)."""
        n_frames = self.time_ps.size
        edges = block_edges(n_frames, self.n_blocks)
        d_blocks, dq_blocks = [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            frames = slice(lo, hi)
            lag = self.time_ps[frames] - self.time_ps[lo]
            window = resolve_fit_window(lag[-1], None, None, self.fit_fraction)
            sel = window.mask(lag)
            drift = self._drift(frames)
            msd = per_atom_msd(self.positions_A[frames], self.mobile_index, drift, self.origins).mean(axis=1)
            mscd = collective_msd(self.positions_A[frames], self.mobile_index, drift, self.origins)
            d_blocks.append(diffusivity_from_msd(lag[sel], msd[sel])[0])
            dq_blocks.append(diffusivity_from_msd(lag[sel], mscd[sel])[0])
        return {"diffusivity": np.array(d_blocks), "charge": np.array(dq_blocks)}

    def _summary(self, d_cm2_s, d_ols, dq_cm2_s, dq_ols, blocks) -> dict:
        # Each block uses the same *relative* fit window, so for diffusive motion its D has the same
        # relative variance as the full-run D (MSD variance ~ t / T): the block spread itself, not
        # spread / sqrt(n), estimates the full-run uncertainty (docs/analysis.md).
        d_block = float(np.std(blocks["diffusivity"], ddof=1))
        dq_block = float(np.std(blocks["charge"], ddof=1))
        tracer, charge, haven_iv = blocks["tracer_interval"], blocks["charge_interval"], blocks["haven_interval"]
        d_std = {"ions": tracer.std, "kinisi": blocks["diffusivity_kinisi"], "block": d_block}[self.uncertainty]
        dq_std = {"ions": charge.std, "kinisi": blocks["charge_kinisi"], "block": dq_block}[self.uncertainty]
        n = self.n_blocks
        volume = float(self.volumes_A3.mean())
        n_mobile = int(self.mobile_index.size)

        def sigma(d):
            return nernst_einstein_conductivity_mS_cm(d, n_mobile, volume, self.temperature_K, self.charge)

        undefined = {}
        if dq_cm2_s > 0:
            haven = d_cm2_s / dq_cm2_s
            haven_std = (haven_iv.std if self.uncertainty == "ions"
                         else abs(haven) * float(np.hypot(d_std / d_cm2_s, dq_std / dq_cm2_s)))
        else:
            haven = haven_std = float("nan")
            undefined["haven_ratio"] = (f"charge diffusivity {dq_cm2_s:.3g} cm^2/s <= 0 in the fit window: "
                                        "no net charge transport, Haven ratio undefined")
        for name, value in (("diffusivity_kinisi_std_cm2_s", blocks["diffusivity_kinisi"]),
                            ("charge_diffusivity_kinisi_std_cm2_s", blocks["charge_kinisi"])):
            if not np.isfinite(value):
                undefined[name] = UNDEFINED_KINISI_REASON
        why = {"ions": (tracer.reason or "per-ion uncertainty undefined",  # why the chosen std is undefined
                        charge.reason or "charge-diffusivity uncertainty undefined"),
               "kinisi": (UNDEFINED_KINISI_REASON, UNDEFINED_KINISI_REASON), "block": (None, None)}[self.uncertainty]
        for std, reason, names in ((d_std, why[0], ("diffusivity_std_cm2_s", "conductivity_std_mS_cm")),
                                   (dq_std, why[1], ("charge_diffusivity_std_cm2_s", "charge_conductivity_std_mS_cm"))):
            if reason is not None and not np.isfinite(std):
                undefined.update(dict.fromkeys(names, reason))
        if "haven_ratio" not in undefined and not np.isfinite(haven_std):
            undefined["haven_ratio_std"] = "uncertainty of the tracer or charge diffusivity undefined (see above)"
        return {
            "diffusing_element": self.diffusing_element, "n_mobile": n_mobile,
            "temperature_K": self.temperature_K, "mean_volume_A3": volume,
            "mean_volume_std_A3": float(self.volumes_A3.std()),
            "number_density_cm3": n_mobile / (volume * A3_TO_CM3),
            "dt_frame_ps": self.dt_frame_ps, "duration_ps": self.duration_ps,
            "fit_start_ps": self.window.start_ps, "fit_end_ps": self.window.end_ps,
            "origins": self.origins, "drift_correction": self.drift_correction, "n_blocks": n,
            "diffusivity_cm2_s": d_cm2_s, "diffusivity_std_cm2_s": d_std,
            "uncertainty_method": self.uncertainty, "diffusivity_ols_std_cm2_s": d_ols,
            "diffusivity_block_std_cm2_s": d_block, "diffusivity_kinisi_std_cm2_s": blocks["diffusivity_kinisi"],
            "diffusivity_blocks_cm2_s": blocks["diffusivity"].tolist(),
            "conductivity_mS_cm": sigma(d_cm2_s), "conductivity_std_mS_cm": sigma(d_std),
            "charge_diffusivity_cm2_s": dq_cm2_s, "charge_diffusivity_std_cm2_s": dq_std,
            "charge_diffusivity_ols_std_cm2_s": dq_ols, "charge_diffusivity_block_std_cm2_s": dq_block,
            "charge_diffusivity_kinisi_std_cm2_s": blocks["charge_kinisi"],
            "charge_conductivity_mS_cm": sigma(dq_cm2_s), "charge_conductivity_std_mS_cm": sigma(dq_std),
            "haven_ratio": haven, "haven_ratio_std": haven_std,
            "diffusivity_ci68_cm2_s": list(tracer.ci68), "diffusivity_ci95_cm2_s": list(tracer.ci95),
            "diffusivity_sigma_ln": tracer.sigma_ln, "diffusivity_resolved": tracer.resolved,
            "diffusivity_upper_bound_95_cm2_s": tracer.upper_bound_95,
            "diffusivity_unresolved_reason": tracer.reason, "diffusivity_interval_method": tracer.method,
            "diffusivity_independent_groups": blocks["concerted_groups"],
            "conductivity_ci68_mS_cm": [sigma(v) for v in tracer.ci68],
            "conductivity_ci95_mS_cm": [sigma(v) for v in tracer.ci95],
            "conductivity_upper_bound_95_mS_cm": sigma(tracer.upper_bound_95),
            "charge_diffusivity_ci68_cm2_s": list(charge.ci68), "charge_diffusivity_ci95_cm2_s": list(charge.ci95),
            "charge_diffusivity_sigma_ln": charge.sigma_ln,
            "charge_conductivity_ci68_mS_cm": [sigma(v) for v in charge.ci68],
            "haven_ratio_ci68": list(haven_iv.ci68), "haven_ratio_ci95": list(haven_iv.ci95),
            "msd_offset_A2": blocks["msd_offset_A2"],
            "undefined": undefined,
        }
