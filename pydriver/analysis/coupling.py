"""Rotation-hop coupling: are Na hops more likely right after a neighbouring anion turns?

Inputs: the hops (:mod:`pydriver.analysis.hops`), the discrete reorientation events of each anion
kind (:func:`pydriver.analysis.reorientation.reorientation_events`) and the anion centres. An
event of anion j in frame f makes every ion within ``cutoff_A`` of j's centre in frame f "exposed"
for the next ``window_ps``. Then, per anion kind:

* **Enhancement factor**: hops per ion-ps while exposed over hops per ion-ps otherwise, as the
  Mantel-Haenszel rate ratio stratified by ion, so ions that sit among fast-turning anions and hop
  often for another reason do not make a coupling (Greenland & Robins, Biometrics 41 (1985) 55;
  variance of ln RR from the same paper; intervals normal in ln RR). 1 means no coupling.
* **Time profile**: the same ratio (pooled over ions) against the time since the ion's last
  neighbouring event, in bins up to ``profile_max_ps``, over the hop rate of ions with no
  neighbouring event within ``profile_max_ps``.
* **Hop-triggered event rate**: around each hop, the events of the anions within ``cutoff_A`` of the
  ion at the hop, per lag from ``-profile_max_ps`` to ``+profile_max_ps``, over those anions'
  mean event rate (1: no relation; above 1 before the hop: turning precedes hopping).

Exact on synthetic runs where hops are made more likely by a known factor after a neighbour jumps
(:func:`pydriver.analysis.synthetic.coupled_hops_and_jumps`).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import stats

from pydriver.analysis.hops import HopEvents, jeffreys

log = logging.getLogger(__name__)

DEFAULT_COUPLING_WINDOW_PS = 0.5
DEFAULT_PROFILE_MAX_PS = 2.0
DEFAULT_PROFILE_BIN_PS = 0.1


def _near(ion_frac: np.ndarray, centre_frac: np.ndarray, cell_A: np.ndarray, cutoff_A: float) -> np.ndarray:
    """(n, n_ions) ions within ``cutoff_A`` of ``centre_frac`` (n, 3), ion positions (n, n_ions, 3); mean cell."""
    d = ion_frac - centre_frac[:, None, :]
    d -= np.round(d)
    return np.linalg.norm(d @ cell_A, axis=-1) < cutoff_A


def exposure(ion_frac: np.ndarray, centre_frac: np.ndarray, event_anion: np.ndarray, event_frame: np.ndarray,
             cell_A: np.ndarray, cutoff_A: float) -> np.ndarray:
    """(n_frames, n_ions) frame of the latest neighbouring event at or before each frame (-1: none yet).

    Parameters
    ----------
    ion_frac : (n_frames, n_ions, 3) wrapped fractional ion positions.
    centre_frac : (n_frames, n_anions, 3) wrapped fractional anion centres.
    event_anion, event_frame : (n_events,) anion and frame of each reorientation event.
    cell_A : (3, 3) mean cell; cutoff_A : ion-to-centre distance of a neighbour.
    """
    n_frames, n_ions, _ = ion_frac.shape
    mark = np.full((n_frames, n_ions), -1, dtype=np.int64)
    for start in range(0, event_frame.size, 4096):
        f, j = event_frame[start:start + 4096], event_anion[start:start + 4096]
        near = _near(ion_frac[f], centre_frac[f, j], cell_A, cutoff_A)
        rows, ions = np.nonzero(near)
        np.maximum.at(mark, (f[rows], ions), f[rows])
    return np.maximum.accumulate(mark, axis=0)


def _mantel_haenszel(a: np.ndarray, t1: np.ndarray, b: np.ndarray, t0: np.ndarray) -> dict:
    """Mantel-Haenszel rate ratio over strata (hops a, b; times t1, t0) with Greenland-Robins intervals."""
    t = t1 + t0
    use = t > 0
    a, b, t1, t0, t = a[use], b[use], t1[use], t0[use], t[use]
    num, den = float((a * t0 / t).sum()), float((b * t1 / t).sum())
    out = {"value": None, "ci68": None, "ci95": None, "std_ln": None}
    if num <= 0 or den <= 0:
        return out
    rr = num / den
    var_ln = float(((a + b) * t1 * t0 / t**2).sum()) / (num * den)
    sd = float(np.sqrt(var_ln))
    out.update({"value": rr, "std_ln": sd})
    for level in (0.68, 0.95):
        z = float(stats.norm.ppf(0.5 + level / 2))
        out[f"ci{int(level * 100)}"] = [rr * np.exp(-z * sd), rr * np.exp(z * sd)]
    return out


def _ratio_interval(a: int, t1: float, b: int, t0: float) -> tuple[float | None, list]:
    """Rate ratio ``(a / t1) / (b / t0)`` with a 95 % interval (Jeffreys on a / (a + b), conditional)."""
    if t1 <= 0 or t0 <= 0 or b == 0:
        return None, [None, None]
    low, high = jeffreys(a, a + b, 0.95)
    scale = t0 / t1
    odds = (lambda p: p / (1.0 - p) * scale if p < 1.0 else float("inf"))
    return (a / t1) / (b / t0), [odds(low), odds(high)]


def hop_coupling(events: HopEvents, observed: np.ndarray, ion_frac: np.ndarray, centre_frac: np.ndarray,
                 event_anion: np.ndarray, event_frame: np.ndarray, cell_A: np.ndarray, dt_frame_ps: float,
                 cutoff_A: float, window_ps: float = DEFAULT_COUPLING_WINDOW_PS,
                 profile_max_ps: float = DEFAULT_PROFILE_MAX_PS,
                 profile_bin_ps: float = DEFAULT_PROFILE_BIN_PS) -> dict:
    """Coupling of hops to the reorientation events of one anion kind.

    Parameters
    ----------
    events : the hops; observed : (n_frames, n_ions) bool, frames in which each ion holds a site.
    ion_frac, centre_frac : wrapped fractional positions of ions (n_frames, n_ions, 3) and anion
        centres (n_frames, n_anions, 3).
    event_anion, event_frame : the reorientation events of this kind.
    cell_A : mean cell; dt_frame_ps : time between frames; cutoff_A : neighbour distance.
    window_ps : exposure after an event; profile_max_ps, profile_bin_ps : the profiles' range and bins.

    Returns
    -------
    dict -- ``enhancement_factor``, ``enhancement_factor_ci68``, ``enhancement_factor_ci95`` (None
    when no hop falls inside or outside the windows), ``window_ps``, ``cutoff_A``, ``n_events``,
    ``n_hops_exposed``, ``n_hops_unexposed``, ``exposed_time_fraction``, ``hop_rate_exposed_per_ps``,
    ``hop_rate_unexposed_per_ps``; ``profile`` (``time_since_event_ps`` bin starts, ``hop_rate_ratio``,
    ``hop_rate_ratio_ci95``, ``n_hops``, ``baseline_hops``); ``triggered`` (``lag_ps`` bin starts
    relative to the hop frame, ``event_rate_ratio``), ``event_rate_ratio_before_hop`` and
    ``event_rate_ratio_after_hop`` (within ``window_ps`` before / from the hop frame).
    """
    n_frames, n_ions = observed.shape
    last = exposure(ion_frac, centre_frac, event_anion, event_frame, cell_A, cutoff_A)
    # interval g (frames g-1 -> g) is exposed when an event in frame f <= g-1 has g-1-f < window
    since = np.where(last[:-1] >= 0, np.arange(n_frames - 1)[:, None] - last[:-1], np.iinfo(np.int64).max)
    valid = observed[:-1]
    window = max(1, int(round(window_ps / dt_frame_ps)))
    hop_here = np.zeros((n_frames - 1, n_ions), dtype=bool)
    hop_here[events.frame - 1, events.ion] = True
    exposed = (since < window) & valid
    unexposed = (since >= window) & valid
    a, b = (hop_here & exposed).sum(axis=0), (hop_here & unexposed).sum(axis=0)
    t1, t0 = exposed.sum(axis=0) * dt_frame_ps, unexposed.sum(axis=0) * dt_frame_ps
    mh = _mantel_haenszel(a.astype(float), t1, b.astype(float), t0)
    out = {"enhancement_factor": mh["value"], "enhancement_factor_ci68": mh["ci68"],
           "enhancement_factor_ci95": mh["ci95"], "window_ps": window * dt_frame_ps, "cutoff_A": float(cutoff_A),
           "n_events": int(event_frame.size), "n_hops_exposed": int(a.sum()), "n_hops_unexposed": int(b.sum()),
           "exposed_time_fraction": float(t1.sum() / max(t1.sum() + t0.sum(), 1e-300)),
           "hop_rate_exposed_per_ps": float(a.sum() / t1.sum()) if t1.sum() > 0 else None,
           "hop_rate_unexposed_per_ps": float(b.sum() / t0.sum()) if t0.sum() > 0 else None}
    out["profile"] = _profile(since, valid, hop_here, dt_frame_ps, profile_max_ps, profile_bin_ps)
    out.update(_triggered(events, ion_frac, centre_frac, event_anion, event_frame, cell_A, cutoff_A, dt_frame_ps,
                          profile_max_ps, profile_bin_ps, window))
    return out


def _profile(since, valid, hop_here, dt_frame_ps, max_ps, bin_ps) -> dict:
    n_bins = max(1, int(round(max_ps / bin_ps)))
    width = max(1, int(round(bin_ps / dt_frame_ps)))
    far = valid & (since >= n_bins * width)
    base_hops, base_time = int((hop_here & far).sum()), float(far.sum() * dt_frame_ps)
    ratios, cis, counts = [], [], []
    for k in range(n_bins):
        sel = valid & (since >= k * width) & (since < (k + 1) * width)
        n, time = int((hop_here & sel).sum()), float(sel.sum() * dt_frame_ps)
        r, ci = _ratio_interval(n, time, base_hops, base_time)
        ratios.append(r), cis.append(ci), counts.append(n)
    return {"time_since_event_ps": [k * width * dt_frame_ps for k in range(n_bins)], "hop_rate_ratio": ratios,
            "hop_rate_ratio_ci95": cis, "n_hops": counts, "baseline_hops": base_hops}


def _triggered(events: HopEvents, ion_frac, centre_frac, event_anion, event_frame, cell_A, cutoff_A, dt_frame_ps,
               max_ps, bin_ps, window) -> dict:
    """Events of the anions next to each hopping ion, in lag bins around the hop, over their mean rate."""
    n_frames, n_anions = centre_frac.shape[0], centre_frac.shape[1]
    width = max(1, int(round(bin_ps / dt_frame_ps)))
    n_bins = max(1, int(round(max_ps / bin_ps)))
    lags = np.arange(-n_bins * width, n_bins * width)
    starts = (np.arange(-n_bins, n_bins) * width * dt_frame_ps).tolist()
    empty = {"triggered": {"lag_ps": starts, "event_rate_ratio": None},
             "event_rate_ratio_before_hop": None, "event_rate_ratio_after_hop": None}
    if events.n_hops == 0 or event_frame.size == 0:
        return empty
    marks = np.zeros((n_frames, n_anions), dtype=np.int32)
    np.add.at(marks, (event_frame, event_anion), 1)
    rate = marks.sum(axis=0) / max(n_frames - 1, 1)  # events per anion per frame
    d = ion_frac[events.frame, events.ion][:, None, :] - centre_frac[events.frame]
    d -= np.round(d)
    hop_idx, anion = np.nonzero(np.linalg.norm(d @ cell_A, axis=-1) < cutoff_A)
    if hop_idx.size == 0:
        return empty
    seen, expected = np.zeros(lags.size), np.zeros(lags.size)
    for start in range(0, hop_idx.size, 2048):  # bounded memory: (pairs, lags) blocks
        h, j = hop_idx[start:start + 2048], anion[start:start + 2048]
        frames = events.frame[h][:, None] + lags[None, :]
        inside = (frames >= 1) & (frames < n_frames)
        seen += np.where(inside, marks[np.clip(frames, 0, n_frames - 1), j[:, None]], 0).sum(axis=0)
        expected += (inside * rate[j][:, None]).sum(axis=0)
    seen_bins, expected_bins = seen.reshape(-1, width).sum(axis=1), expected.reshape(-1, width).sum(axis=1)
    ratio = [float(a / b) if b > 0 else None for a, b in zip(seen_bins, expected_bins)]
    before = (lags < 0) & (lags >= -window)
    after = (lags >= 0) & (lags < window)
    pick = (lambda m: float(seen[m].sum() / expected[m].sum()) if expected[m].sum() > 0 else None)
    return {"triggered": {"lag_ps": starts, "event_rate_ratio": ratio},
            "event_rate_ratio_before_hop": pick(before), "event_rate_ratio_after_hop": pick(after)}
