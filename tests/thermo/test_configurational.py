"""Configurational entropy (pydriver.thermo.configurational) on lattice-gas cases with known answers,
and its place in the thermo pipeline's hulls and reaction dG(T) (pydriver.thermo.workflow.analyse)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import yaml

from pydriver.thermo.configurational import (
    SiteFamily,
    configurational_free_energy_eV,
    ideal_mixing_entropy_kB,
    lattice_gas_orderings,
    ordering_entropy_kB,
    site_families,
)
from pydriver.thermo.workflow import analyse, load_spec
from pydriver.units import BOLTZMANN_EV_K

#: -9 [(1/3) ln(1/3) + (2/3) ln(2/3)] = 3 ln 3 + 6 ln(3/2): 3 Na over 9 sites per o-NBH formula unit
THREE_OVER_NINE_KB = 3 * math.log(3) + 6 * math.log(1.5)


def test_ideal_lattice_gas_values():
    assert THREE_OVER_NINE_KB == pytest.approx(5.7286, abs=1e-4)
    assert ideal_mixing_entropy_kB([SiteFamily("Na", 9, 1 / 3)]) == pytest.approx(THREE_OVER_NINE_KB, rel=1e-14)
    # o-NBH has 32 atoms per formula unit: 0.179 k_B/atom; -T S at 650 K = -10.0 meV/atom
    assert THREE_OVER_NINE_KB / 32 == pytest.approx(0.1790, abs=1e-4)
    assert -650 * BOLTZMANN_EV_K * THREE_OVER_NINE_KB / 32 == pytest.approx(-0.01003, abs=1e-5)
    # half filling of one site: ln 2; families add; full and empty families add nothing
    assert ideal_mixing_entropy_kB([SiteFamily("a", 1, 0.5)]) == pytest.approx(math.log(2))
    two = [SiteFamily("a", 4, 0.5), SiteFamily("b", 8, 0.25), SiteFamily("full", 4, 1.0), SiteFamily("empty", 4, 0.0)]
    expected = 4 * math.log(2) - 8 * (0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert ideal_mixing_entropy_kB(two) == pytest.approx(expected, rel=1e-14)
    # the same occupancy split over families of one kind gives the same total as one family
    split = [SiteFamily("a", 4, 1 / 3), SiteFamily("b", 5, 1 / 3)]
    assert ideal_mixing_entropy_kB(split) == pytest.approx(THREE_OVER_NINE_KB)


def test_ideal_value_is_the_large_cell_limit_of_counting():
    """ln C(9M, 3M) / M -> 9 s(1/3) (Stirling): the ideal value is what counting gives for a large cell."""
    per_fu = [math.log(lattice_gas_orderings(9 * m, 3 * m)) / m for m in (1, 8, 64, 512)]
    assert per_fu[0] == pytest.approx(math.log(84))
    assert np.all(np.diff(per_fu) > 0) and np.all(np.array(per_fu) < THREE_OVER_NINE_KB)
    assert per_fu[-1] == pytest.approx(THREE_OVER_NINE_KB, abs=1e-2)
    # Stirling's next term: ln C(N, n) = N s - (1/2) ln(2 pi N c (1 - c)) + O(1/N)
    m = 512
    assert per_fu[-1] * m == pytest.approx(m * THREE_OVER_NINE_KB - 0.5 * math.log(2 * math.pi * 9 * m * 2 / 9), abs=1e-3)


def test_two_level_system():
    """Two states Delta apart: S = ln(1 + e^-x) + x e^-x / (1 + e^-x), x = Delta / kT (Schottky)."""
    delta = 0.05
    temps = np.array([10.0, 100.0, 300.0, 1000.0, 1e5])
    x = delta / (BOLTZMANN_EV_K * temps)
    expected = np.log1p(np.exp(-x)) + x * np.exp(-x) / (1 + np.exp(-x))
    assert ordering_entropy_kB([-3.0, -3.0 + delta], [1, 1], temps) == pytest.approx(expected, rel=1e-12)
    # degenerate levels: g0 = 2, g1 = 3
    z = 2 + 3 * np.exp(-x)
    assert ordering_entropy_kB([0.0, delta], [2, 3], temps) == pytest.approx(np.log(z) + 3 * x * np.exp(-x) / z, rel=1e-12)


def test_limits_and_full_enumeration():
    rng = np.random.default_rng(0)
    energies, mult = rng.uniform(0, 0.2, 20), rng.integers(1, 5, 20)
    energies[7] = energies.min() - 0.05  # a unique ground state with multiplicity mult[7]
    assert ordering_entropy_kB(energies, mult, 0.0) == pytest.approx(math.log(mult[7]))
    assert ordering_entropy_kB(energies, mult, 1.0) == pytest.approx(math.log(mult[7]), abs=1e-12)
    assert ordering_entropy_kB(energies, mult, 1e9) == pytest.approx(math.log(mult.sum()), abs=1e-6)
    s = ordering_entropy_kB(energies, mult, np.linspace(1, 3000, 60))
    assert np.all(np.diff(s) >= -1e-12)  # S grows with T
    # every arrangement of 3 Na on 9 sites, all at the same energy: ln 84 at any T
    orderings = list(itertools.combinations(range(9), 3))
    assert ordering_entropy_kB(np.zeros(len(orderings)), None, [0.0, 300.0]) == pytest.approx([math.log(84)] * 2)
    # -T S in eV
    assert configurational_free_energy_eV(THREE_OVER_NINE_KB, 650.0) == pytest.approx(-0.3209, abs=1e-4)


def test_bad_inputs():
    with pytest.raises(ValueError, match="occupancy"):
        SiteFamily("Na", 9, 1.2)
    with pytest.raises(ValueError, match="sites_per_fu"):
        site_families([{"name": "Na", "occupancy": 0.3}])
    with pytest.raises(ValueError, match="multiplicities"):
        ordering_entropy_kB([0.0, 0.1], [1], 300.0)
    with pytest.raises(ValueError, match=">= 1"):
        ordering_entropy_kB([0.0, 0.1], [1, 0], 300.0)
    with pytest.raises(ValueError, match="no ordering"):
        ordering_entropy_kB([], None, 300.0)


def _records() -> dict:
    """Three phases A (1 atom), B (1 atom) and AB2-like mixed phase M = A B (2 atoms per f.u.), constant F."""
    temps = np.arange(0.0, 1001.0, 10.0)

    def rec(formula, n_atoms, energy):
        return {"formula": formula, "n_atoms": n_atoms, "n_formula_units": 1.0, "formula_unit": formula,
                "static_energy_eV": energy, "free_energy_eV": np.full(len(temps), energy).tolist()}

    return temps, {"A": rec("Na", 1, -1.0), "B": rec("Cl", 1, -1.0), "M": rec("NaCl", 2, -2.0 + 0.05)}


def test_configurational_term_in_hull_and_reaction():
    """M is 50 meV/f.u. above A + B; with S = 9 s(1/3) per f.u. dG = 0.05 - T k_B S changes sign at
    T = 0.05 / (k_B S) = 101.3 K, and the hull at 300 K puts M on it."""
    temps, records = _records()
    spec = {"phases": [{"name": "A"}, {"name": "B"},
                       {"name": "M", "configurational": {"site_families": [{"name": "x", "sites_per_fu": 9,
                                                                            "occupancy": 1 / 3}], "use": "ideal"}}],
            "temperatures_K": [50.0, 300.0], "reaction": {"M": 1, "A": -1, "B": -1}}
    out = analyse(records, spec, temps)
    s_fu = THREE_OVER_NINE_KB
    assert records["M"]["S_config_kB_per_atom"] == {"ideal": pytest.approx(s_fu / 2), "orderings": None, "used": "ideal"}
    assert records["A"]["S_config_kB_per_atom"] == {"ideal": None, "orderings": None, "used": None}
    r = out["reaction"]
    assert r["dE_static_eV_per_fu"] == pytest.approx(0.05)
    assert r["dG_config_eV_per_fu"]["300K"] == pytest.approx(-300 * BOLTZMANN_EV_K * s_fu)
    assert r["dG_eV_per_fu"]["300K"] == pytest.approx(0.05 - 300 * BOLTZMANN_EV_K * s_fu)
    assert r["dG_without_config_eV_per_fu"]["300K"] == pytest.approx(0.05)
    assert r["sign_change_K"] == pytest.approx(0.05 / (BOLTZMANN_EV_K * s_fu), abs=0.01)
    assert out["e_above_hull_eV_atom"]["50K"]["M"] == pytest.approx((0.05 - 50 * BOLTZMANN_EV_K * s_fu) / 2)
    assert out["e_above_hull_eV_atom"]["300K"]["M"] == pytest.approx(0.0, abs=1e-12)
    assert out["e_above_hull_eV_atom"]["static"]["M"] == pytest.approx(0.025)


def test_orderings_in_the_pipeline(tmp_path):
    """Orderings from a JSON file: S(T) per atom reported at the requested temperatures and used in G."""
    temps, records = _records()
    orderings = [{"energy_eV": 0.0, "multiplicity": 2}, {"energy_eV": 0.02, "multiplicity": 4}]
    (tmp_path / "orderings.json").write_text(json.dumps({"orderings": orderings}))
    (tmp_path / "M.extxyz").write_text("")
    spec = {"model": "model.pt", "temperatures_K": [300.0],
            "phases": [{"name": "A", "file": "M.extxyz"}, {"name": "B", "file": "M.extxyz"},
                       {"name": "M", "file": "M.extxyz",
                        "configurational": {"orderings_file": "orderings.json",
                                            "site_families": [{"sites_per_fu": 2, "occupancy": 0.5}]}}],
            "reaction": {"M": 1, "A": -1, "B": -1}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    loaded = load_spec(tmp_path / "spec.yaml")
    block = loaded["phases"][2]["configurational"]
    assert block["use"] == "orderings" and block["orderings"] == orderings
    out = analyse(records, loaded, temps)
    s300 = float(ordering_entropy_kB([0.0, 0.02], [2, 4], 300.0))
    report = records["M"]["S_config_kB_per_atom"]
    assert report["orderings"] == {"300K": pytest.approx(s300 / 2)} and report["ideal"] == pytest.approx(math.log(2))
    assert report["used"] == "orderings"
    assert records["M"]["configurational"]["orderings"]["S_high_T_limit_kB_per_cell"] == pytest.approx(math.log(6))
    assert out["reaction"]["dG_config_eV_per_fu"]["300K"] == pytest.approx(-300 * BOLTZMANN_EV_K * s300)
    assert out["reaction"]["dG_config_curve_eV_per_fu"][0] == 0.0  # -T S vanishes at 0 K


@pytest.mark.parametrize(("block", "message"), [
    ({"site_families": [{"sites_per_fu": 9, "occupancy": 2}]}, "occupancy"),
    ({"orderings": [{"multiplicity": 2}]}, "energy_eV"),
    ({"use": "orderings", "site_families": [{"sites_per_fu": 9, "occupancy": 0.3}]}, "needs its data"),
    ({"orderings_file": "missing.json"}, "not found"),
    ({"site_family": []}, "unknown configurational keys"),
])
def test_bad_configurational_spec(tmp_path, block, message):
    (tmp_path / "M.extxyz").write_text("")
    spec = {"model": "model.pt", "phases": [{"name": "M", "file": "M.extxyz", "configurational": block}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_spec(tmp_path / "spec.yaml")


def test_unknown_relax_key(tmp_path):
    (tmp_path / "M.extxyz").write_text("")
    spec = {"model": "model.pt", "relax": {"fmax": 0.01}, "phases": [{"name": "M", "file": "M.extxyz"}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match="unknown relax keys"):
        load_spec(tmp_path / "spec.yaml")


def test_orderings_from_the_onbh_record(tmp_path, example_structures_dir):
    """The o-NBH builder's onbh_orderings.json as orderings_file: the 7 pre-relaxed orderings (21 variants)."""
    from pydriver.structures.search.onbh import ordering_energies

    summary = json.loads((example_structures_dir / "onbh_orderings.json").read_text())
    final = ordering_energies(summary)
    assert len(final) == 1 and final[0]["site_set"] == "bh4_slabs" and final[0]["rank"] == 3
    pre = ordering_energies(summary, "prerelax")
    assert len(pre) == 7 and sum(o["multiplicity"] for o in pre) == 21
    with pytest.raises(ValueError, match="stage"):
        ordering_energies(summary, "relaxed")
    (tmp_path / "M.extxyz").write_text("")
    spec = {"model": "model.pt", "phases": [{"name": "M", "file": "M.extxyz", "configurational": {
        "orderings_file": str(example_structures_dir / "onbh_orderings.json"), "orderings_stage": "prerelax"}}]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    block = load_spec(tmp_path / "spec.yaml")["phases"][0]["configurational"]
    assert [o["energy_eV"] for o in block["orderings"]] == [o["energy_eV"] for o in pre]
    s = ordering_entropy_kB([o["energy_eV"] for o in pre], [o["multiplicity"] for o in pre], [0.0, 650.0, 1e7])
    assert s[0] == pytest.approx(0.0) and s[-1] == pytest.approx(math.log(21), abs=1e-4)
    assert s[1] / 128 == pytest.approx(0.0112, abs=1e-4)  # the README's 650 K value per atom
