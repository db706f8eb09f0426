"""The mechanism sections of one run: Na sites and their occupancy, hops, anion reorientation, coupling.

:func:`mechanism` runs :mod:`~pydriver.analysis.sites`, :mod:`~pydriver.analysis.hops`,
:mod:`~pydriver.analysis.reorientation`, :mod:`~pydriver.analysis.coupling` (hops after a
neighbouring anion turns), the hop-based active fraction and, with two anion kinds in layers (o-NBH),
the anion slabs of the sites and ions (:mod:`~pydriver.analysis.slabs`) on a trajectory;
:func:`mechanism_summary` gives the ``sites``, ``hops``, ``reorientation`` and ``coupling`` sections of
``analysis.json`` (scalars and short lists; the per-frame arrays stay in memory for tables and plots).
A run whose ions show no sites (a liquid, too few frames) gets ``sites.reason`` and no hop numbers
instead of an error: the transport results stand without them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pydriver.analysis import (active, coupling, hops, reorientation, site_reference, sites, slabs,
                              structure_stats)
from pydriver.analysis.molecules import Molecules

log = logging.getLogger(__name__)

#: per-ion and per-frame arrays kept out of analysis.json
ARRAY_KEYS = ("hops_per_ion", "net_hops_per_ion", "observed_time_ps", "occupancy_vs_time", "block_time_ps",
              "occupied_time_ps", "lag_time_ps", "c1", "c2", "centres_A", "event_anion", "event_frame")


def mechanism(ions_A: np.ndarray, cells_A: np.ndarray, dt_frame_ps: float, molecules: Molecules | None = None,
              positions_A: np.ndarray | None = None, elements: np.ndarray | None = None,
              masses_amu: np.ndarray | None = None, msd_diffusivity_cm2_s: float | None = None,
              msd_diffusivity_std_cm2_s: float | None = None, sites_file: Path | None = None,
              element: str = "Na", min_net_hops: int = active.DEFAULT_MIN_NET_HOPS,
              coupling_window_ps: float = coupling.DEFAULT_COUPLING_WINDOW_PS,
              reorientation_fit_start_ps: float = reorientation.DEFAULT_FIT_START_PS,
              site_reference_file: Path | None = None, drift_A: np.ndarray | None = None) -> dict:
    """Sites, occupancy, hops, hop-active fraction and anion reorientation of one trajectory.

    Parameters
    ----------
    ions_A : (n_frames, n_ions, 3) unwrapped (drift-corrected) positions of the mobile ions.
    cells_A : (n_frames, 3, 3) cells; dt_frame_ps : time between frames.
    molecules, positions_A, elements, masses_amu : the anions, all positions (n_frames, n_atoms, 3),
        per-atom elements and masses (reorientation; skipped when ``molecules`` has none).
    msd_diffusivity_cm2_s, msd_diffusivity_std_cm2_s : the MSD tracer D (correlation factor).
    sites_file : structure whose ``element`` positions are the sites (default: density maxima).
    min_net_hops : k of the hop-based active fraction.
    coupling_window_ps : exposure of the ions near an anion after its reorientation event.
    reorientation_fit_start_ps : first lag of the tau_1 / tau_2 fits (past the libration).

    Returns
    -------
    dict -- ``sites`` (:func:`pydriver.analysis.sites.occupancy` plus ``frac``, ``core_radius_A``,
    ``family``, or ``reason``), ``hops`` (:func:`pydriver.analysis.hops.hop_statistics`, or
    ``reason``), ``active_hops`` (:func:`pydriver.analysis.active.hop_active_ions`, or empty),
    ``reorientation`` (:func:`pydriver.analysis.reorientation.anion_reorientation`), ``coupling``
    (per anion kind, :func:`pydriver.analysis.coupling.hop_coupling`, with the Na-anion
    coordination cutoffs of :mod:`pydriver.analysis.structure_stats` as neighbour distance; empty
    without sites or anions), ``sites["slabs"]`` with two anion kinds
    (:func:`pydriver.analysis.slabs.slab_analysis`, or ``reason`` when they form no slabs),
    ``hop_events`` (:class:`pydriver.analysis.hops.HopEvents`, or None;
    in memory only, for the per-site tables).
    """
    cell = np.asarray(cells_A, dtype=np.float64).mean(axis=0)
    frac = sites.wrapped_fractional(ions_A, cells_A)
    out: dict = {"active_hops": {}, "coupling": {}, "hop_events": None}
    events = states = found = None
    has_anions = molecules is not None and molecules.members and positions_A is not None
    out["reorientation"] = (reorientation.anion_reorientation(positions_A, cells_A, molecules, elements, masses_amu,
                                                              dt_frame_ps, reorientation_fit_start_ps)
                          if has_anions else {})
    # anion centres (drift removed like the ions'), computed once for the sites file and the slabs
    centres = _anion_centres_frac(out["reorientation"], cells_A, drift_A) if out["reorientation"] else None
    alignment = None
    try:
        if sites_file is not None:
            found, alignment = _sites_from_file(sites_file, element, cell, centres)
        else:
            found = sites.find_sites(frac, cell)
    except ValueError as exc:
        log.warning("no sites: %s", exc)
        out["sites"] = {"n_sites": 0, "reason": str(exc)}
        out["hops"] = {"reason": f"no sites: {exc}"}
    else:
        states = sites.assign_sites(frac, found)
        events = hops.hop_events(states, found)
        out["hop_events"] = events
        occ = sites.occupancy(states, found, dt_frame_ps)
        occ.update({"frac": found.frac, "core_radius_A": found.core_radius_A,
                    "family": found.family, "peak_density_per_A3": found.peak_density_per_A3})
        if alignment is not None:
            occ["sites_file_alignment"] = alignment
        out["sites"] = occ
        out["hops"] = hops.hop_statistics(states, found, dt_frame_ps, occ["occupied_time_ps"], msd_diffusivity_cm2_s,
                                          msd_diffusivity_std_cm2_s, events)
        out["active_hops"] = active.hop_active_ions(out["hops"]["net_hops_per_ion"], min_net_hops)
    if len(out["reorientation"]) >= 2:
        out["sites"]["slabs"] = _slabs(frac, centres, cell, found, out["sites"], states, site_reference_file,
                                       element)
    if events is not None:
        for kind, entry in out["reorientation"].items():
            cutoff = structure_stats.DEFAULT_CN_CUTOFF_A.get(kind, structure_stats.FALLBACK_CN_CUTOFF_A)
            out["coupling"][kind] = coupling.hop_coupling(
                events, states >= 0, frac, sites.wrapped_fractional(entry["centres_A"], cells_A), entry["event_anion"],
                entry["event_frame"], cell, dt_frame_ps, cutoff, coupling_window_ps)
    return out


def _anion_centres_frac(reorient: dict, cells_A: np.ndarray, drift_A: np.ndarray | None) -> tuple[np.ndarray, list]:
    """(n_frames, n_anions, 3) anion centres of every kind, drift removed like the ions', fractional; their kinds."""
    centres = np.concatenate([reorient[k]["centres_A"] for k in sorted(reorient)], axis=1).astype(np.float64)
    kinds = [k for k in sorted(reorient) for _ in range(reorient[k]["centres_A"].shape[1])]
    if drift_A is not None:
        centres -= np.asarray(drift_A, dtype=np.float64)[:, None, :]
    return centres @ np.linalg.inv(np.asarray(cells_A, dtype=np.float64)), kinds


def _sites_from_file(sites_file: Path, element: str, cell: np.ndarray,
                     centres: tuple[np.ndarray, list] | None) -> tuple[sites.Sites, dict | None]:
    """Sites of a structure file laid on the run's anion framework (as ``--site-reference`` is).

    The run's positions are drift-corrected and its box may start at another origin than the
    file's frame, so the file's sites are translated by the shift that best puts the file's anion
    centres on the run's mean anion centres (:func:`pydriver.analysis.site_reference.align_reference`).
    ``centres``: the run's anion centres and kinds (:func:`_anion_centres_frac`), None without anions;
    then the sites are used as they are (alignment ``None``, or its ``reason`` without file anions).
    """
    if centres is None:
        return sites.sites_from_structure(sites_file, element, cell), None
    reference = site_reference.reference_from_structure(sites_file, element, cell)
    centres_frac, kinds = centres
    return site_reference.align_reference(reference, slabs.circular_mean_frac(centres_frac, axis=0), kinds, cell)


def _slabs(frac: np.ndarray, centres: tuple[np.ndarray, list], cell: np.ndarray, found: sites.Sites | None,
           occ: dict, states: np.ndarray | None, reference_file: Path | None, element: str) -> dict:
    """``sites.slabs``: the anion centres of every kind (:func:`_anion_centres_frac`) against the ions and sites."""
    centres_frac, kinds = centres
    reference = None
    if reference_file is not None:
        reference = site_reference.reference_from_structure(reference_file, element, cell)
    try:
        return slabs.slab_analysis(frac, centres_frac, kinds, cell, found, occ.get("occupancy_per_site"), states,
                                   reference)
    except ValueError as exc:
        log.info("no anion slabs: %s", exc)
        return {"reason": str(exc)}


def _json_section(section: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in section.items() if k not in ARRAY_KEYS}


def mechanism_summary(mech: dict) -> dict:
    """The ``sites``, ``hops``, ``reorientation`` and ``coupling`` sections of ``analysis.json`` (arrays left out)."""
    return {"sites": _json_section(mech["sites"]), "hops": _json_section(mech["hops"]),
            "reorientation": {kind: _json_section(entry) for kind, entry in mech["reorientation"].items()},
            "coupling": {kind: _json_section(entry) for kind, entry in mech.get("coupling", {}).items()}}
