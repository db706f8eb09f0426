"""pydriver.units against scipy.constants (CODATA) and ase.units, and the conversions by hand."""

from __future__ import annotations

import ase.units
import pytest
from scipy import constants

from pydriver import units


def test_constants_match_scipy_and_ase():
    assert units.BOLTZMANN_EV_K == pytest.approx(constants.k / constants.e, rel=1e-12)
    assert units.BOLTZMANN_EV_K == pytest.approx(ase.units.kB, rel=1e-6)
    assert units.EV_A3_TO_GPA == pytest.approx(constants.e * 1e30 / 1e9, rel=1e-12)
    assert units.EV_A3_TO_GPA == pytest.approx(1.0 / ase.units.GPa, rel=1e-6)
    assert units.EV_A3_TO_BAR == pytest.approx(1.0 / ase.units.bar, rel=1e-6)
    assert units.THZ_TO_EV == pytest.approx(constants.h * 1e12 / constants.e, rel=1e-12)
    assert units.KJ_MOL_TO_EV == pytest.approx(ase.units.kJ / ase.units.mol, rel=1e-6)
    assert units.AMU_A3_TO_G_CM3 == pytest.approx(constants.atomic_mass * 1e3 / 1e-24, rel=1e-8)
    assert units.COULOMB_EV_A == pytest.approx(constants.e / (4 * constants.pi * constants.epsilon_0) * 1e10, rel=1e-8)
    assert units.BOHR_A == pytest.approx(constants.physical_constants["Bohr radius"][0] / constants.angstrom, rel=1e-8)


def test_conversions_by_hand():
    assert units.A2_PS_TO_CM2_S == pytest.approx(1e-16 / 1e-12)
    assert units.EV_A3_TO_GPA == pytest.approx(160.2176634)
    assert units.BOLTZMANN_EV_K == pytest.approx(8.617333262e-5, rel=1e-10)
    assert units.EV_A3_TO_BAR == pytest.approx(units.EV_A3_TO_GPA * 1e4)
