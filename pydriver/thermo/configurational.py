"""Configurational entropy of partially occupied sites: the ideal lattice gas and Boltzmann-weighted orderings.

Two estimates, both in units of k_B:

- **Ideal lattice gas** over the site families a phase has (:func:`ideal_mixing_entropy_kB`): each
  family f has n_f sites per formula unit, a fraction c_f of them occupied at random, independently
  of every other site: S = -k_B sum_f n_f [c_f ln c_f + (1 - c_f) ln(1 - c_f)] per formula unit
  (the large-N limit of ln of the number of arrangements; e.g. D. A. McQuarrie, *Statistical
  Mechanics*, 1976, ch. 14 (lattice statistics); 3 Na over 9 sites per formula unit: 5.7286).
  It is the upper bound that correlations (Na-Na repulsion, site preferences) lower.
- **Enumerated orderings** of one cell, Boltzmann-weighted with their energies
  (:func:`ordering_entropy_kB`): Z = sum_i g_i exp(-E_i / k_B T), <E> = sum_i g_i E_i exp(-E_i / k_B T) / Z,
  S = k_B (ln Z + <E> / k_B T) per cell, g_i the number of symmetry-equivalent variants of ordering i
  (``multiplicity`` of :func:`pydriver.structures.na_sites.rank_orderings`). It tends to
  k_B ln(sum_i g_i) at high T and to k_B ln(g_0) (the degeneracy of the lowest energy) at T -> 0.
  A cell's orderings count only the arrangements that fit that cell: with every arrangement
  enumerated and equal energies it is ln C(N_sites, N_occupied), below the ideal value by O(ln N).

The free-energy term of a phase is -T S (eV): :func:`configurational_free_energy_eV`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from pydriver.units import BOLTZMANN_EV_K


@dataclass(frozen=True)
class SiteFamily:
    """One family of partially occupied sites.

    Attributes
    ----------
    name : label (e.g. ``"Na1 (8b)"``).
    sites_per_fu : number of sites of the family per formula unit.
    occupancy : fraction of them occupied, in [0, 1].
    """

    name: str
    sites_per_fu: float
    occupancy: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.occupancy <= 1.0:
            raise ValueError(f"site family {self.name!r}: occupancy {self.occupancy} outside [0, 1]")
        if self.sites_per_fu < 0:
            raise ValueError(f"site family {self.name!r}: sites_per_fu {self.sites_per_fu} < 0")

    @property
    def occupied_per_fu(self) -> float:
        """Occupied sites per formula unit."""
        return self.sites_per_fu * self.occupancy


def _xlogx(x: float) -> float:
    return 0.0 if x <= 0.0 else x * math.log(x)


def ideal_mixing_entropy_kB(families: Sequence[SiteFamily]) -> float:
    """Ideal lattice-gas entropy per formula unit, in k_B: -sum_f n_f [c ln c + (1 - c) ln(1 - c)].

    Full (c = 1) and empty (c = 0) families contribute nothing.
    """
    return float(-sum(f.sites_per_fu * (_xlogx(f.occupancy) + _xlogx(1.0 - f.occupancy)) for f in families))


def site_families(entries: Sequence[dict]) -> list[SiteFamily]:
    """:class:`SiteFamily` list from dicts with keys ``name`` (optional), ``sites_per_fu``, ``occupancy``.

    Raises
    ------
    ValueError if a key is missing or a value is out of range.
    """
    out = []
    for k, entry in enumerate(entries):
        missing = {"sites_per_fu", "occupancy"} - set(entry)
        if missing:
            raise ValueError(f"site family {entry}: missing {sorted(missing)} (needs sites_per_fu, occupancy)")
        out.append(SiteFamily(str(entry.get("name", f"family {k}")), float(entry["sites_per_fu"]),
                              float(entry["occupancy"])))
    return out


def _check_orderings(energies_eV, multiplicities) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(energies_eV, dtype=float).ravel()
    g = np.ones_like(e) if multiplicities is None else np.asarray(multiplicities, dtype=float).ravel()
    if e.size == 0:
        raise ValueError("no ordering energies given")
    if g.shape != e.shape:
        raise ValueError(f"{e.size} ordering energies but {g.size} multiplicities")
    if np.any(g < 1) or not np.all(np.isfinite(e)):
        raise ValueError("ordering multiplicities must be >= 1 and energies finite")
    return e, g


def ordering_entropy_kB(energies_eV: Sequence[float], multiplicities: Sequence[float] | None,
                        temperatures_K: Sequence[float] | float) -> np.ndarray:
    """Configurational entropy of a set of orderings, S / k_B = ln Z + <E> / k_B T, per cell.

    Parameters
    ----------
    energies_eV : (n,) energy of each distinct ordering (same cell; any common reference), in eV.
    multiplicities : (n,) number of equivalent variants of each (>= 1); ``None``: all 1.
    temperatures_K : temperature(s), in K; T <= 0 gives ln g_0 (the total multiplicity of the
        orderings within 1e-9 eV of the lowest).

    Returns
    -------
    S / k_B with the shape of ``temperatures_K`` (a 0-d array for a scalar).

    Raises
    ------
    ValueError for no energies, mismatched lengths, multiplicities < 1 or non-finite energies.
    """
    e, g = _check_orderings(energies_eV, multiplicities)
    t = np.asarray(temperatures_K, dtype=float)
    de = e - e.min()  # shift: ln Z and <E>/kT change by opposite amounts, S does not
    flat = t.ravel()
    out = np.empty(flat.shape)
    ground = math.log(g[de < 1e-9].sum())
    for k, temperature in enumerate(flat):
        if temperature <= 0:
            out[k] = ground
            continue
        x = de / (BOLTZMANN_EV_K * temperature)  # (n,) E / kT >= 0
        log_z = logsumexp(-x, b=g)
        weights = g * np.exp(-x - log_z)  # Boltzmann probabilities of the orderings, summing to 1
        out[k] = log_z + float(weights @ x)
    return out.reshape(t.shape)


def configurational_free_energy_eV(entropy_kB: np.ndarray | float, temperatures_K) -> np.ndarray:
    """-T S in eV for S in k_B (same shape as the broadcast of the inputs)."""
    return -np.asarray(temperatures_K, dtype=float) * BOLTZMANN_EV_K * np.asarray(entropy_kB, dtype=float)


def lattice_gas_orderings(n_sites: int, n_occupied: int) -> int:
    """Number of ways to occupy ``n_occupied`` of ``n_sites`` distinct sites, C(n_sites, n_occupied)."""
    return math.comb(n_sites, n_occupied)
