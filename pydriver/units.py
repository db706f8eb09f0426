"""Physical constants and unit conversions used across the package (one definition each).

Values are CODATA 2018 (E. Tiesinga et al., Rev. Mod. Phys. 93, 025010 (2021)); since the 2019 SI
the elementary charge, Boltzmann, Planck and Avogadro constants are exact, so every factor built
from them alone is exact too and equals the ``scipy.constants`` one. The measured constants
(permittivity, atomic mass, Bohr radius) agree with scipy's CODATA 2022 values to 1e-8 relative;
everything agrees with ``ase.units`` (CODATA 2014 by default) to better than 1e-6 relative.
LAMMPS ``units metal``: energy eV, distance A, time ps, pressure bar.

Standard library only: the bottom layer of the package, importable by every part.
"""

from __future__ import annotations

import math

#: elementary charge, C (exact)
ELEMENTARY_CHARGE_C = 1.602176634e-19
#: Boltzmann constant, J/K (exact)
BOLTZMANN_J_K = 1.380649e-23
#: Planck constant, J s (exact)
PLANCK_J_S = 6.62607015e-34
#: Avogadro constant, 1/mol (exact)
AVOGADRO_PER_MOL = 6.02214076e23
#: vacuum electric permittivity, F/m (CODATA 2018)
VACUUM_PERMITTIVITY_F_M = 8.8541878128e-12
#: atomic mass constant (1 u = 1 g/mol per particle), kg (CODATA 2018)
ATOMIC_MASS_KG = 1.66053906660e-27
#: Bohr radius, A (CODATA 2018)
BOHR_A = 0.529177210903

#: Boltzmann constant, eV/K (k_B / e = 8.617333262e-5)
BOLTZMANN_EV_K = BOLTZMANN_J_K / ELEMENTARY_CHARGE_C
#: 1 eV/A^3 in GPa (e * 1e30 / 1e9 = 160.2176634)
EV_A3_TO_GPA = ELEMENTARY_CHARGE_C * 1e21
#: 1 eV/A^3 in bar (e * 1e30 / 1e5)
EV_A3_TO_BAR = ELEMENTARY_CHARGE_C * 1e25
#: 1 bar in Pa
BAR_TO_PA = 1.0e5
#: 1 A^2/ps in cm^2/s (1e-16 cm^2 / 1e-12 s)
A2_PS_TO_CM2_S = 1.0e-4
#: 1 A^3 in cm^3
A3_TO_CM3 = 1.0e-24
#: 1 S/cm in mS/cm
S_CM_TO_MS_CM = 1.0e3
#: h times 1 THz, in eV (h * 1e12 / e = 4.135667696e-3)
THZ_TO_EV = PLANCK_J_S * 1e12 / ELEMENTARY_CHARGE_C
#: 1 kJ/mol per particle in eV (1e3 / (N_A e) = 1 / 96.48533212)
KJ_MOL_TO_EV = 1.0e3 / (AVOGADRO_PER_MOL * ELEMENTARY_CHARGE_C)
#: 1 u/A^3 (g/mol per A^3) in g/cm^3 (1.66053906660)
AMU_A3_TO_G_CM3 = ATOMIC_MASS_KG * 1e3 / A3_TO_CM3
#: e^2 / (4 pi eps0) in eV A (Coulomb energy of two unit charges 1 A apart: 14.399645)
COULOMB_EV_A = ELEMENTARY_CHARGE_C / (4.0 * math.pi * VACUUM_PERMITTIVITY_F_M) * 1e10
