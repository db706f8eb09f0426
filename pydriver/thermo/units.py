"""Unit conversion constants of the thermo package (CODATA 2018 values)."""

#: 1 kJ/mol in eV per particle (1 / 96.485332 kJ/mol per eV)
KJ_MOL_TO_EV = 1.0 / 96.48533212
#: Boltzmann constant, eV/K
KB_EV_K = 8.617333262e-5
#: Planck constant times 1 THz, in eV (h * 1e12 Hz)
THZ_TO_EV = 4.135667696e-3
#: 1 bar in Pa
BAR_TO_PA = 1.0e5
