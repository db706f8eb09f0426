"""Site-to-site hops of the mobile ions: rates, residence times, back jumps, jump lengths, D from jumps.

Input: the site held by each ion in each frame (:func:`pydriver.analysis.sites.assign_sites`, the
core-state rule, so rattling on a boundary is not a hop). A hop is a change of held site; it is
dated at the first frame inside the new site's core.

* Rates (:func:`count_rate`): hops per ion per ps = total hops / total observed ion time. Error:
  Poisson, widened by the over-dispersion of the per-ion counts (Pearson chi^2 / dof, at least 1:
  ions whose hops come in bursts scatter more than Poisson); the intervals are Garwood's exact
  Poisson intervals on the effective count ``K / phi`` (Garwood, Biometrika 28 (1936) 437).
* Residence time on a site (or family): ion time spent there / hops out of it: the maximum-likelihood
  mean of exponential residences with the first and last (censored) ones included. The mean of
  completed residences alone is biased low by about ``tau / T``.
* Back-jump probability: of consecutive hop pairs of one ion, the fraction whose second hop returns
  to the site the first one left (Jeffreys interval).
* D from jumps: ``D_jump = sum |l|^2 / (6 sum T_i)`` (uncorrelated jumps; Allen & Tildesley, or
  Vineyard's random-walk result), with ``l`` the site-to-site vector of each hop. The tracer
  correlation factor is ``f = D_MSD / D_jump`` (1 for uncorrelated jumps, < 1 when back jumps are
  favoured; Murch, Solid State Ionics 7 (1982) 177).
* Net hops (:func:`net_hops`): hops not undone by a return, for the hop-based active fraction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats

from pydriver.analysis.sites import UNASSIGNED, Sites
from pydriver.units import A2_PS_TO_CM2_S

log = logging.getLogger(__name__)

CI_LEVELS = (0.68, 0.95)
#: site pairs listed in analysis.json (most frequent first)
MAX_PAIRS_LISTED = 50


@dataclass(frozen=True)
class HopEvents:
    """Hops of all ions, in order of ion then time.

    Attributes
    ----------
    ion : (n_hops,) ion index (column of ``states``); frame : (n_hops,) first frame in the new site.
    from_site, to_site : (n_hops,) site indices; vector_A : (n_hops, 3) shortest site-to-site vector.
    """

    ion: np.ndarray
    frame: np.ndarray
    from_site: np.ndarray
    to_site: np.ndarray
    vector_A: np.ndarray

    @property
    def n_hops(self) -> int:
        """Number of hops."""
        return int(self.ion.size)


def hop_events(states: np.ndarray, sites: Sites) -> HopEvents:
    """Hops from per-frame site states ``(n_frames, n_ions)`` (:func:`~pydriver.analysis.sites.assign_sites`)."""
    states = np.asarray(states)
    change = (states[1:] != states[:-1]) & (states[:-1] != UNASSIGNED)
    ion, frame = np.nonzero(change.T)  # ion-major order: each ion's hops in time order
    frame = frame + 1
    from_site, to_site = states[frame - 1, ion], states[frame, ion]
    return HopEvents(ion, frame, from_site, to_site, sites.vectors_A(from_site, to_site))


def observed_time_ps(states: np.ndarray, dt_frame_ps: float) -> np.ndarray:
    """(n_ions,) time each ion was followed: from its first core visit to the last frame (ps)."""
    assigned = np.asarray(states) != UNASSIGNED
    first = np.where(assigned.any(axis=0), assigned.argmax(axis=0), states.shape[0] - 1)
    return (states.shape[0] - 1 - first) * dt_frame_ps


def count_rate(counts: np.ndarray, exposure: np.ndarray) -> dict:
    """Rate ``sum(counts) / sum(exposure)`` with an over-dispersion-widened Poisson error and intervals.

    Parameters
    ----------
    counts : (n_units,) events per unit (ion or anion); exposure : (n_units,) observed time (ps).

    Returns
    -------
    dict -- ``rate``, ``std`` (``sqrt(phi K) / T``), ``ci68``, ``ci95`` (Garwood on ``K / phi``),
    ``dispersion`` (phi >= 1), ``n_events`` K, ``exposure`` T. ``rate`` is NaN without exposure.
    """
    counts = np.asarray(counts, dtype=np.float64)
    exposure = np.asarray(exposure, dtype=np.float64)
    total, time = float(counts.sum()), float(exposure.sum())
    if time <= 0:
        nan = float("nan")
        return {"rate": nan, "std": nan, "ci68": [nan, nan], "ci95": [nan, nan], "dispersion": nan,
                "n_events": int(total), "exposure": time}
    rate = total / time
    used = exposure > 0
    expected = rate * exposure[used]
    dof = int(used.sum()) - 1
    phi = 1.0
    if total > 0 and dof > 0:
        phi = max(1.0, float(((counts[used] - expected) ** 2 / expected).sum() / dof))
    k_eff = total / phi
    out = {"rate": rate, "std": float(np.sqrt(phi * total)) / time, "dispersion": phi, "n_events": int(total),
           "exposure": time}
    for level in CI_LEVELS:
        tail = 0.5 * (1.0 - level)
        low = 0.0 if k_eff == 0 else 0.5 * stats.chi2.ppf(tail, 2.0 * k_eff)
        high = 0.5 * stats.chi2.ppf(1.0 - tail, 2.0 * k_eff + 2.0)
        out[f"ci{int(level * 100)}"] = [float(low * phi / time), float(high * phi / time)]
    return out


def jeffreys(k: int, n: int, level: float) -> list[float]:
    """Equal-tailed Jeffreys interval of a proportion (NaN for n = 0)."""
    if n == 0:
        return [float("nan"), float("nan")]
    tail = 0.5 * (1.0 - level)
    low = 0.0 if k == 0 else float(stats.beta.ppf(tail, k + 0.5, n - k + 0.5))
    high = 1.0 if k == n else float(stats.beta.ppf(1.0 - tail, k + 0.5, n - k + 0.5))
    return [low, high]


def net_hops(events: HopEvents, n_ions: int) -> np.ndarray:
    """(n_ions,) hops of each ion not undone by a return.

    The ion's path of sites is reduced like a stack: a hop back to the site before the current one
    cancels the hop that left it (A -> B -> A is 0 net hops, A -> B -> C -> B -> A too); the net hop
    count is the length of the reduced path. An ion rattling between two sites keeps 0 or 1.
    """
    out = np.zeros(n_ions, dtype=np.int64)
    for ion in np.unique(events.ion):
        sel = events.ion == ion
        path = [int(events.from_site[sel][0])]
        for dest in events.to_site[sel]:
            if len(path) >= 2 and path[-2] == dest:
                path.pop()
            else:
                path.append(int(dest))
        out[ion] = len(path) - 1
    return out


def back_jumps(events: HopEvents) -> tuple[int, int]:
    """(number of back jumps, number of consecutive hop pairs of one ion)."""
    same_ion = events.ion[1:] == events.ion[:-1]
    back = same_ion & (events.to_site[1:] == events.from_site[:-1])
    return int(back.sum()), int(same_ion.sum())


def _pair_rates(events: HopEvents, groups: np.ndarray, occupied_time_ps: np.ndarray, names: np.ndarray) -> list[dict]:
    """Hops from group a to group b per ion-ps spent in a (``groups``: site -> group index)."""
    a, b = groups[events.from_site], groups[events.to_site]
    n_groups = int(groups.max()) + 1 if groups.size else 0
    time_in = np.bincount(groups, weights=occupied_time_ps, minlength=n_groups)
    pairs, counts = np.unique(np.stack([a, b], axis=1), axis=0, return_counts=True) if a.size else (
        np.zeros((0, 2), int), np.zeros(0, int))
    order = np.argsort(-counts, kind="stable")[:MAX_PAIRS_LISTED]
    out = []
    for (i, j), n in zip(pairs[order], counts[order]):
        rate = count_rate(np.array([n]), np.array([time_in[i]]))
        out.append({"from": names[i].item(), "to": names[j].item(), "n_hops": int(n),
                    "rate_per_ps": rate["rate"], "rate_std_per_ps": rate["std"], "rate_ci95_per_ps": rate["ci95"]})
    return out


def _residence(events: HopEvents, groups: np.ndarray, occupied_time_ps: np.ndarray, names: np.ndarray) -> list[dict]:
    """Mean residence time per group: ion time in the group's sites / hops out of them (censored MLE)."""
    n_groups = int(groups.max()) + 1
    leaving = np.bincount(groups[events.from_site], minlength=n_groups)
    time_in = np.bincount(groups, weights=occupied_time_ps, minlength=n_groups)
    out = []
    for g in range(n_groups):
        rate = count_rate(np.array([leaving[g]]), np.array([time_in[g]]))
        out.append({"name": names[g].item(), "n_departures": int(leaving[g]), "time_ps": float(time_in[g]),
                    "residence_time_ps": _inverse(rate["rate"]),
                    "residence_time_std_ps": float(rate["std"] / rate["rate"] ** 2) if rate["rate"] > 0 else None,
                    "residence_time_ci95_ps": [_inverse(rate["ci95"][1]), _inverse(rate["ci95"][0])]})
    return out


def _inverse(rate: float) -> float:
    """1 / rate, inf for a rate of 0 (no departure seen: the residence is longer than the run)."""
    return float(1.0 / rate) if rate > 0 else float("inf")


def hop_statistics(states: np.ndarray, sites: Sites, dt_frame_ps: float, occupied_time_ps: np.ndarray | None = None,
                   msd_diffusivity_cm2_s: float | None = None, msd_diffusivity_std_cm2_s: float | None = None,
                   events: HopEvents | None = None) -> dict:
    """Every hop statistic of a run (the ``hops`` section of analysis.json, plus per-ion arrays).

    Parameters
    ----------
    states : (n_frames, n_ions) site states; sites : the sites; dt_frame_ps : time between frames.
    occupied_time_ps : (n_sites,) ion time on each site (``occupancy(...)["occupied_time_ps"]``;
        computed here when None).
    msd_diffusivity_cm2_s, msd_diffusivity_std_cm2_s : the MSD tracer D and its error, for the
        correlation factor (None: not computed).
    events : the hops, if already found (:func:`hop_events`).

    Returns
    -------
    dict -- ``n_hops``, ``n_ions``, ``rate_per_ion_per_ps`` with ``_std``, ``_ci68``, ``_ci95`` and
    ``rate_dispersion``; ``hops_per_ion_mean``; ``residence_time_ps`` (all sites, with ``_std``,
    ``_ci95``); ``residence_by_family`` (sites with families) and ``pairs_by_family`` or
    ``pairs_by_site`` (hops from -> to per ion-ps on the origin, most frequent first);
    ``back_jump_probability`` with ``_ci68``/``_ci95`` and ``n_hop_pairs``; ``jump_length_mean_A``,
    ``jump_length_rms_A``; ``jump_diffusivity_cm2_s`` with ``_std``; ``correlation_factor`` with
    ``_std`` (MSD D / jump D); arrays ``hops_per_ion``, ``net_hops_per_ion``, ``observed_time_ps``.
    """
    events = hop_events(states, sites) if events is None else events
    n_ions = states.shape[1]
    exposure = observed_time_ps(states, dt_frame_ps)
    per_ion = np.bincount(events.ion, minlength=n_ions)
    rate = count_rate(per_ion, exposure)
    if occupied_time_ps is None:
        held = states[states >= 0]
        occupied_time_ps = np.bincount(held, minlength=sites.n_sites) * dt_frame_ps
    out = {"n_hops": events.n_hops, "n_ions": int(n_ions), "rate_per_ion_per_ps": rate["rate"],
           "rate_per_ion_per_ps_std": rate["std"], "rate_per_ion_per_ps_ci68": rate["ci68"],
           "rate_per_ion_per_ps_ci95": rate["ci95"], "rate_dispersion": rate["dispersion"],
           "hops_per_ion_mean": float(per_ion.mean()) if n_ions else float("nan"),
           "observed_time_ps": exposure, "hops_per_ion": per_ion, "net_hops_per_ion": net_hops(events, n_ions)}
    all_sites = _residence(events, np.zeros(sites.n_sites, dtype=int), occupied_time_ps, np.array(["all"]))[0]
    out.update({"residence_time_ps": all_sites["residence_time_ps"],
                "residence_time_std_ps": all_sites["residence_time_std_ps"],
                "residence_time_ci95_ps": all_sites["residence_time_ci95_ps"]})
    if sites.family is not None:
        fam_ids, groups = np.unique(sites.family, return_inverse=True)
        names = np.array([str(f) for f in fam_ids])
        out["residence_by_family"] = _residence(events, groups, occupied_time_ps, names)
        out["pairs_by_family"] = _pair_rates(events, groups, occupied_time_ps, names)
    else:
        out["pairs_by_site"] = _pair_rates(events, np.arange(sites.n_sites), occupied_time_ps,
                                           np.arange(sites.n_sites))
    k_back, n_pairs = back_jumps(events)
    out.update({"back_jump_probability": k_back / n_pairs if n_pairs else float("nan"), "n_hop_pairs": n_pairs,
                "back_jump_probability_ci68": jeffreys(k_back, n_pairs, 0.68),
                "back_jump_probability_ci95": jeffreys(k_back, n_pairs, 0.95)})
    out.update(_jump_diffusivity(events, per_ion, exposure, msd_diffusivity_cm2_s, msd_diffusivity_std_cm2_s))
    back = (f"back-jump probability {out['back_jump_probability']:.2f}" if n_pairs else
            f"back-jump probability not measured ({'no ion hopped twice' if events.n_hops else 'no hops'})")
    log.info("hops: %d over %d ions, %.3g per ion per ps, %s", events.n_hops, n_ions, rate["rate"], back)
    return out


def _jump_diffusivity(events: HopEvents, per_ion: np.ndarray, exposure: np.ndarray, d_msd: float | None,
                      d_msd_std: float | None) -> dict:
    """Random-walk D from the jumps (ratio estimator over ions, Poisson floor) and the correlation factor."""
    sq = (events.vector_A ** 2).sum(axis=1)
    length = np.sqrt(sq)
    n_ions = per_ion.size
    per_ion_sq = np.bincount(events.ion, weights=sq, minlength=n_ions)
    total_time = float(exposure.sum())
    out = {"jump_length_mean_A": float(length.mean()) if length.size else None,
           "jump_length_rms_A": float(np.sqrt(sq.mean())) if sq.size else None}
    if total_time <= 0 or sq.size == 0:
        out.update({"jump_diffusivity_cm2_s": 0.0 if total_time > 0 else None, "jump_diffusivity_std_cm2_s": None,
                    "correlation_factor": None, "correlation_factor_std": None})
        return out
    d = float(per_ion_sq.sum() / (6.0 * total_time))  # A^2/ps
    resid = per_ion_sq - 6.0 * d * exposure
    ratio_se = float(np.sqrt(n_ions / max(n_ions - 1, 1) * (resid ** 2).sum()) / (6.0 * total_time))
    std = max(ratio_se, d / np.sqrt(sq.size))
    out.update({"jump_diffusivity_cm2_s": d * A2_PS_TO_CM2_S, "jump_diffusivity_std_cm2_s": std * A2_PS_TO_CM2_S})
    if d_msd is not None and np.isfinite(d_msd) and d > 0:
        f = float(d_msd / (d * A2_PS_TO_CM2_S))
        rel_msd = (d_msd_std / d_msd) if d_msd_std is not None and d_msd > 0 and np.isfinite(d_msd_std) else np.nan
        out.update({"correlation_factor": f, "correlation_factor_std": abs(f) * float(np.hypot(rel_msd, std / d))})
    else:
        out.update({"correlation_factor": None, "correlation_factor_std": None})
    return out
