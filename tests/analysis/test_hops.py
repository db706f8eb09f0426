"""Hops on a site lattice with known rates: rates, residence times, back jumps, D from jumps, hop-active ions."""

import numpy as np
import pytest

from pydriver.analysis import active, hops, sites
from pydriver.analysis.synthetic import site_lattice_gas

DT_PS = 0.02


def lattice_hops(seed=0, n_frames=2001, n_ions=64, rate=0.1, energy_eV=0.05):
    """64 ions, 40 ps, about 20 hops per ion, on the true sites with their families."""
    pos, truth = site_lattice_gas(n_frames, n_ions, DT_PS, rate, 500.0, energy_eV, seed=seed)
    frac = sites.wrapped_fractional(pos, np.broadcast_to(truth.cell_A, (n_frames, 3, 3)))
    found = sites.Sites(truth.site_frac, truth.cell_A, sites.core_radii(truth.site_frac, truth.cell_A), "structure",
                        truth.site_family)
    states = sites.assign_sites(frac, found)
    occ = sites.occupancy(states, found, DT_PS)
    stats = hops.hop_statistics(states, found, DT_PS, occ["occupied_time_ps"], truth.diffusivity_cm2_s, 0.0)
    return stats, truth


def within(value, exact, interval, rel=0.10):
    return value == pytest.approx(exact, rel=rel) and interval[0] <= exact <= interval[1]


def test_rates_residence_back_jumps_and_jump_d_match_the_truth():
    h, truth = lattice_hops(seed=4)
    assert h["n_ions"] == 64 and h["hops_per_ion_mean"] > 15
    assert within(h["rate_per_ion_per_ps"], truth.hop_rate_per_ion_per_ps, h["rate_per_ion_per_ps_ci95"])
    lo68, hi68 = h["rate_per_ion_per_ps_ci68"]
    assert hi68 - lo68 == pytest.approx(2 * h["rate_per_ion_per_ps_std"], rel=0.15)
    assert within(h["back_jump_probability"], 1 / 6, h["back_jump_probability_ci95"], rel=0.15)
    for fam in h["residence_by_family"]:
        exact = truth.residence_time_ps[int(fam["name"])]
        assert within(fam["residence_time_ps"], exact, fam["residence_time_ci95_ps"])
    assert h["jump_length_mean_A"] == pytest.approx(3.0, abs=0.01)  # site-to-site vectors, not noisy positions
    jump_d = h["jump_diffusivity_cm2_s"]
    assert jump_d == pytest.approx(truth.diffusivity_cm2_s, rel=0.10)
    assert abs(jump_d - truth.diffusivity_cm2_s) < 2 * h["jump_diffusivity_std_cm2_s"]
    assert h["correlation_factor"] == pytest.approx(1.0, rel=0.10)
    pairs = {(p["from"], p["to"]): p for p in h["pairs_by_family"]}
    for family, pair in ((0, ("0", "1")), (1, ("1", "0"))):  # 6 neighbours, all of the other family
        assert within(pairs[pair]["rate_per_ps"], 6 * truth.rate_constant_per_ps[family], pairs[pair]["rate_ci95_per_ps"])


def test_counted_hops_are_the_generated_ones():
    h, truth = lattice_hops(seed=5)
    # hops out and back within one frame (0.02 ps) are invisible: about 1 % here
    assert h["n_hops"] == pytest.approx(truth.hops_per_ion.sum(), rel=0.02)
    assert h["n_hops"] <= truth.hops_per_ion.sum()


def test_rate_intervals_cover_the_truth():
    hits = {"rate": 0, "back": 0, "residence": 0}
    n_runs = 16
    for seed in range(n_runs):
        h, truth = lattice_hops(seed=200 + seed, n_frames=1001)
        lo, hi = h["rate_per_ion_per_ps_ci95"]
        hits["rate"] += lo <= truth.hop_rate_per_ion_per_ps <= hi
        lo, hi = h["back_jump_probability_ci95"]
        hits["back"] += lo <= 1 / 6 <= hi
        lo, hi = h["residence_by_family"][1]["residence_time_ci95_ps"]
        hits["residence"] += lo <= truth.residence_time_ps[1] <= hi
    # 95 % intervals; measured over 80 runs of 40 ps: 95 %, 94 %, 94 %
    assert all(v >= 13 for v in hits.values()), hits


def events(sequence_by_ion):
    ion, frm, to = [], [], []
    for i, seq in enumerate(sequence_by_ion):
        for a, b in zip(seq[:-1], seq[1:]):
            ion.append(i), frm.append(a), to.append(b)
    n = len(ion)
    return hops.HopEvents(np.array(ion, int), np.arange(n), np.array(frm, int), np.array(to, int), np.zeros((n, 3)))


def test_net_hops_cancel_returns():
    ev = events([[0, 1, 0, 1], [0, 1, 2, 1, 0], [0, 1, 2], [0, 1, 2, 3, 2], [0]])
    assert hops.net_hops(ev, 5).tolist() == [1, 0, 2, 2, 0]
    assert hops.back_jumps(ev) == (4, 9)  # 2 of 2, 1 of 3, 0 of 1, 1 of 3 consecutive pairs


def test_hop_active_fraction_of_known_mobile_ions():
    h, truth = lattice_hops(seed=6)
    rattlers = np.zeros(48 - 12, dtype=int)  # ions that never leave their site
    net = np.concatenate([h["net_hops_per_ion"][:12], rattlers])
    assert h["net_hops_per_ion"][:12].min() >= 2  # ~20 hops per ion: all 12 are active
    act = active.hop_active_ions(net)
    assert act["fraction_hops"] == 0.25 and act["n_active_hops"] == 12 and act["hops_min_net"] == 2
    assert act["fraction_hops_ci68"] == list(active.jeffreys_interval(12, 48))
    with pytest.raises(ValueError, match="min_net_hops"):
        active.hop_active_ions(net, 0)


def test_count_rate_without_events_and_without_time():
    zero = hops.count_rate(np.zeros(10), np.full(10, 5.0))
    assert zero["rate"] == 0.0 and zero["ci95"][0] == 0.0
    assert zero["ci95"][1] == pytest.approx(3.689 / 50.0, rel=1e-3)  # Garwood upper 95 % for 0 events
    assert np.isnan(hops.count_rate(np.zeros(3), np.zeros(3))["rate"])


def test_the_log_line_says_why_there_is_no_back_jump_probability(caplog):
    import logging

    _pos, truth = site_lattice_gas(11, 4, DT_PS, 0.1, 500.0, 0.05, seed=0)
    found = sites.Sites(truth.site_frac, truth.cell_A, sites.core_radii(truth.site_frac, truth.cell_A), "structure",
                        truth.site_family)
    still = np.tile(np.arange(4), (11, 1))  # every ion stays on its own site
    with caplog.at_level(logging.INFO, logger="pydriver.analysis.hops"):
        h = hops.hop_statistics(still, found, DT_PS)
    assert h["n_hops"] == 0 and np.isnan(h["back_jump_probability"])
    assert "back-jump probability not measured (no hops)" in caplog.text and "nan" not in caplog.text
