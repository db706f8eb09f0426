"""The uncertainty band (pydriver.thermo.band) on toy phases with known free energies: NaBH4 +
Na2B12H12 -> Na3B13H16 with dG(T) given per treatment."""

from __future__ import annotations

import numpy as np
import pytest

from pydriver.thermo.band import PhaseCurves, line_coordinates, plot_band, sign_change_bracket, stability_band

T = np.arange(0.0, 901.0, 10.0)
G1, G2 = -30.0, -140.0  # NaBH4, Na2B12H12 per formula unit (eV), constant in T
D = {"dropped": 0.3 - 3e-4 * T, "abs": 0.3 - 5e-4 * T, "floor": 0.3 - 6e-4 * T}  # target - parents, eV per f.u.


def _const(value: float) -> dict:
    return {"harmonic": {k: np.full(T.size, value) for k in D}}


def _phases() -> dict:
    return {
        "Na": PhaseCurves("Na", 1, 1.0, _const(0.0)), "B": PhaseCurves("B", 1, 1.0, _const(0.0)),
        "H2": PhaseCurves("H2", 2, 1.0, {"harmonic": {"dropped": np.zeros(T.size)}}),  # a gas: one curve
        "NaBH4": PhaseCurves("Na4B4H16", 24, 4.0, _const(4 * G1)),
        "Na2B12H12": PhaseCurves("Na2B12H12", 26, 1.0, _const(G2)),
        "oNBH": PhaseCurves("Na12B52H64", 128, 4.0, {"harmonic": {k: 4 * (G1 + G2 + d) for k, d in D.items()}}),
    }


REACTION = {"oNBH": 1, "NaBH4": -1, "Na2B12H12": -1}


def test_band_over_imaginary_treatments():
    """Band = [floor, dropped] curves; bracket from 500 K (floor crosses) to the end of the range (dropped
    still > 0 at 900 K); the combinations' own sign changes are 500 (floor) and 600 K (abs)."""
    band = stability_band(_phases(), T, REACTION, "oNBH")
    assert band["n_combinations"] == 3 and band["choices"]["imaginary"] == ["dropped", "abs", "floor"]
    r = band["reaction"]
    assert r["dG_min_eV_per_fu"] == pytest.approx(D["floor"].tolist(), abs=1e-9)
    assert r["dG_max_eV_per_fu"] == pytest.approx(D["dropped"].tolist(), abs=1e-9)
    assert r["dG_central_eV_per_fu"] == pytest.approx(D["dropped"].tolist(), abs=1e-9)
    assert r["sign_change_bracket_K"] == pytest.approx([500.0, 900.0])
    assert r["sign_change_bracket_open_ends"] == [False, True]
    assert r["sign_change_K_over_combinations"] == pytest.approx([500.0, 600.0])
    assert r["n_combinations_with_sign_change"] == 2
    assert r["by_choice"]["imaginary"]["abs"]["300K"] == pytest.approx(0.3 - 0.15)
    # the hull of the other phases at Na3B13H16 is the NaBH4-Na2B12H12 tie line: distance = dG / 32 atoms
    hull = band["hull"]["candidates"]["oNBH"]
    t_hull = np.array(band["hull"]["temperatures_K"])
    assert t_hull.tolist() == list(range(0, 901, 50))
    assert hull["distance_meV_atom"]["min"] == pytest.approx((1e3 * (0.3 - 6e-4 * t_hull) / 32).tolist(), abs=1e-6)
    assert hull["distance_meV_atom"]["max"] == pytest.approx((1e3 * (0.3 - 3e-4 * t_hull) / 32).tolist(), abs=1e-6)
    assert hull["e_above_hull_meV_atom"]["min"] == pytest.approx(np.maximum(1e3 * (0.3 - 6e-4 * t_hull) / 32, 0).tolist(),
                                                                 abs=1e-6)
    # the compositional line: Na3B13H16 = 1 NaBH4 + 1 Na2B12H12, x = 26 / 32 atoms from Na2B12H12
    line = band["line"]
    assert line["endpoints"] == ["NaBH4", "Na2B12H12"] and line["temperatures_K"] == [0.0, 300.0, 600.0, 900.0]
    onbh = line["phases"]["oNBH"]
    assert onbh["x"] == pytest.approx(26 / 32) and onbh["formula_units_of_endpoints"] == pytest.approx([1.0, 1.0])
    lt = np.array(line["temperatures_K"])
    assert onbh["dG_mix_meV_atom"]["max"] == pytest.approx((1e3 * (0.3 - 3e-4 * lt) / 32).tolist(), abs=1e-6)
    assert onbh["dG_mix_meV_atom"]["min"] == pytest.approx((1e3 * (0.3 - 6e-4 * lt) / 32).tolist(), abs=1e-6)
    assert line["phases"]["NaBH4"]["x"] == pytest.approx(0.0, abs=1e-12)
    assert line["phases"]["NaBH4"]["dG_mix_meV_atom"]["max"] == pytest.approx([0.0] * 4, abs=1e-9)
    assert "Na" not in line["phases"] and "H2" not in line["phases"]


def test_band_with_alternatives_and_configurational_entropy(tmp_path):
    """A second NaBH4 model 0.05 eV/f.u. higher and an ideal S_config on the target (-T k_B 5.73 per
    f.u., central): 3 x 2 x 2 combinations; the extremes combine the extremes of each axis."""
    from pydriver.units import BOLTZMANN_EV_K

    phases = _phases()
    phases["NaBH4_cubic"] = PhaseCurves("Na4B4H16", 24, 4.0, _const(4 * (G1 + 0.05)))
    s_fu = 5.7286
    phases["oNBH"].config = {"ideal": -4 * T * BOLTZMANN_EV_K * s_fu}
    phases["oNBH"].central_config = "ideal"
    band = stability_band(phases, T, REACTION, "oNBH", alternatives={"NaBH4": ["NaBH4_cubic"]})
    assert band["n_combinations"] == 12 and band["choices"]["configurational"] == ["none", "ideal"]
    r = band["reaction"]
    config = -T * BOLTZMANN_EV_K * s_fu
    assert r["dG_central_eV_per_fu"] == pytest.approx((D["dropped"] + config).tolist(), abs=1e-9)
    assert r["dG_min_eV_per_fu"] == pytest.approx((D["floor"] + config - 0.05).tolist(), abs=1e-9)
    assert r["dG_max_eV_per_fu"] == pytest.approx(D["dropped"].tolist(), abs=1e-9)
    assert r["by_choice"]["configurational"]["none"]["300K"] == pytest.approx(0.3 - 0.09)
    assert r["by_choice"]["NaBH4"]["NaBH4_cubic"]["300K"] == pytest.approx(0.3 - 0.09 + config[30] - 0.05)
    lo, hi = np.array(r["dG_min_eV_per_fu"]), np.array(r["dG_max_eV_per_fu"])
    bracket, _ = sign_change_bracket(T, lo, hi)
    assert r["sign_change_bracket_K"] == bracket
    t_lo = 0.25 / (6e-4 + BOLTZMANN_EV_K * s_fu)  # floor + config - 0.05 reaches 0
    assert bracket[0] == pytest.approx(t_lo, abs=0.5)
    # hull: with the cubic NaBH4 the tie line is higher, the target's distance lower by 0.05 / 32 eV/atom
    hull = band["hull"]["candidates"]["oNBH"]["distance_meV_atom"]
    t_hull = np.array(band["hull"]["temperatures_K"])
    cfg = -t_hull * BOLTZMANN_EV_K * s_fu
    assert hull["min"] == pytest.approx((1e3 * (0.25 - 6e-4 * t_hull + cfg) / 32).tolist(), abs=1e-6)
    assert hull["central"] == pytest.approx((1e3 * (0.3 - 3e-4 * t_hull + cfg) / 32).tolist(), abs=1e-6)
    plot_band(band, tmp_path / "band.png", "toy")
    assert (tmp_path / "band.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="differ in composition"):
        stability_band(phases, T, REACTION, "oNBH", alternatives={"NaBH4": ["Na2B12H12"]})
    with pytest.raises(ValueError, match="not phases"):
        stability_band(phases, T, REACTION, "oNBH", alternatives={"NaBH4": ["nope"]})


def test_sign_change_bracket_cases():
    t = np.array([0.0, 100.0, 200.0, 300.0])
    assert sign_change_bracket(t, [1, 1, 1, 1], [2, 2, 2, 2]) == (None, [False, False])
    assert sign_change_bracket(t, [-1, -1, 1, 1], [1, 1, 2, 2]) == ([0.0, 150.0], [True, False])
    b, ends = sign_change_bracket(t, [1, 0.5, -0.5, -1], [2, 1, 0.5, -0.5])
    assert b == pytest.approx([150.0, 250.0]) and ends == [False, False]
    assert sign_change_bracket(t, [np.nan, -1, -1, np.nan], [np.nan, 1, 1, np.nan]) == ([100.0, 200.0], [False, False])


def test_line_coordinates():
    assert line_coordinates("Na3B13H16", ["NaBH4", "Na2B12H12"])[0] == pytest.approx(26 / 32)
    assert line_coordinates("Na12B52H64", ["NaBH4", "Na2B12H12"])[1] == pytest.approx([4.0, 4.0])
    assert line_coordinates("NaH", ["NaBH4", "Na2B12H12"]) is None
