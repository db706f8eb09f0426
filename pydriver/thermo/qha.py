"""Quasi-harmonic free energy: G(T, p = 0) = min_V [E_static(V) + F_vib(V, T)] over a few volumes.

Each volume point is the relaxed cell scaled isotropically (``volume_scales``) and relaxed again at
fixed volume (cell shape and positions); its phonons give F_vib(V, T) under each treatment of
imaginary modes (:mod:`pydriver.thermo.phonons`). With five or more volumes the minimisation is
phonopy's (``phonopy.qha.core.QHA``, the engine of ``PhonopyQHA``, which needs five: an equation
of state, Vinet by default, fitted to E + F at every T; A. Togo, I. Tanaka, Scr. Mater. 108, 1
(2015)); with three or four, a parabola in V per temperature (least squares; the lowest-order fit
three points allow). Either way the minimum is reported only where it lies inside the sampled
volumes (an equation of state extrapolated past its points is not a measurement: with soft modes
dropped, F can fall without bound as the cell grows). phonopy's finite differences drop the last
temperature: G and V are NaN there, and wherever the minimum is outside the sampled volumes.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from pydriver.units import KJ_MOL_TO_EV

#: default volume points, as multiples of the relaxed volume (MD volumes of the Na-B-H phases are
#: 2-8 % above the 0 K ones: the points span -2 % to +6 %)
VOLUME_SCALES = (0.98, 1.0, 1.02, 1.04, 1.06)
EOS_CHOICES = ("vinet", "birch_murnaghan", "murnaghan")


def scaled_cell(atoms: Atoms, volume_scale: float) -> Atoms:
    """Copy of ``atoms`` with the cell (and positions) scaled isotropically to ``volume_scale`` x the volume."""
    if volume_scale <= 0:
        raise ValueError(f"volume scale must be > 0, got {volume_scale}")
    out = atoms.copy()
    out.set_cell(atoms.cell.array * volume_scale ** (1.0 / 3.0), scale_atoms=True)
    return out


def qha_gibbs(volumes_A3, static_energies_eV, temperatures_K, free_energy_eV, eos: str = "vinet"
              ) -> tuple[np.ndarray, np.ndarray]:
    """G(T) = min_V [E(V) + F(V, T)] and the volume of the minimum, per cell.

    Parameters
    ----------
    volumes_A3 : (n_V,) cell volumes, in A^3 (n_V >= 3).
    static_energies_eV : (n_V,) static energies of the relaxed cells, in eV.
    temperatures_K : (n_T,) ascending temperatures, in K.
    free_energy_eV : (n_T, n_V) vibrational free energy per cell, in eV.
    eos : equation of state for n_V >= 5 (:data:`EOS_CHOICES`).

    Returns
    -------
    (G (n_T,) eV, V (n_T,) A^3); NaN where phonopy gives no value (the last temperature) and where
    the minimum falls outside the sampled volumes.

    Raises
    ------
    ValueError for fewer than three volumes, mismatched shapes, an unknown ``eos``.
    """
    v = np.asarray(volumes_A3, dtype=float)
    e = np.asarray(static_energies_eV, dtype=float)
    t = np.asarray(temperatures_K, dtype=float)
    f = np.asarray(free_energy_eV, dtype=float)
    if v.size < 3 or e.shape != v.shape or f.shape != (t.size, v.size):
        raise ValueError(f"QHA needs >= 3 volumes with one energy each and F of shape (n_T, n_V); got {v.size} "
                         f"volumes, {e.size} energies, F {f.shape} for {t.size} temperatures")
    if eos not in EOS_CHOICES:
        raise ValueError(f"qha eos {eos!r} not in {EOS_CHOICES}")
    g = np.full(t.size, np.nan)
    vol = np.full(t.size, np.nan)
    if v.size < 5:
        for k in range(t.size):
            c2, c1, c0 = np.polyfit(v, e + f[k], 2)
            v_min = -c1 / (2 * c2) if c2 > 0 else np.nan
            if v.min() <= v_min <= v.max():
                g[k], vol[k] = c0 + c1 * v_min + c2 * v_min**2, v_min
        return g, vol
    from phonopy.qha.core import QHA  # heavy: phonopy

    zeros = np.zeros_like(f)  # heat capacity and entropy enter only phonopy's C_p and Gruneisen outputs
    qha = QHA(v, e, t, zeros, zeros, f / KJ_MOL_TO_EV, eos=eos)
    qha.run()
    n = len(qha.gibbs_temperature)
    g[:n] = np.asarray(qha.gibbs_temperature)
    vol[:n] = np.asarray(qha.volume_temperature)
    outside = ~((vol >= v.min()) & (vol <= v.max()))
    g[outside] = vol[outside] = np.nan
    return g, vol
