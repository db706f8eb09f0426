"""Convex hull (pymatgen ``PhaseDiagram``) and reaction free energies from per-phase free energies.

The free energy of a phase at temperature T is G = E_static + F_vib(T) for crystals (harmonic,
pV neglected: < 1e-4 eV/atom at 1 bar) and the ideal-gas G(T, p) for gases. The energy above the
hull is the distance (eV/atom) from the lower convex envelope of G per atom over composition
(e.g. W. Sun et al., Sci. Adv. 2, e1600225 (2016)).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _entries(free_energies_eV: Mapping[str, float], compositions: Mapping[str, str]) -> dict:
    from pymatgen.analysis.phase_diagram import PDEntry  # heavy: pymatgen
    from pymatgen.core import Composition

    return {name: PDEntry(Composition(compositions[name]), float(free_energies_eV[name]), name=name)
            for name in free_energies_eV}


def energies_above_hull(free_energies_eV: Mapping[str, float], compositions: Mapping[str, str]) -> dict[str, float]:
    """Energy above the convex hull of every phase, in eV/atom.

    Parameters
    ----------
    free_energies_eV : phase name -> free energy of the cell given in ``compositions``, in eV.
    compositions : phase name -> formula of that cell (e.g. ``"Na12B52H64"``; ``"H2"`` per molecule).

    Raises
    ------
    ValueError if an element has no elemental phase (pymatgen needs the terminal entries).
    """
    from pymatgen.analysis.phase_diagram import PhaseDiagram  # heavy: pymatgen

    entries = _entries(free_energies_eV, compositions)
    diagram = PhaseDiagram(list(entries.values()))
    return {name: float(diagram.get_e_above_hull(entry)) for name, entry in entries.items()}


def plot_hull(free_energies_eV: Mapping[str, float], compositions: Mapping[str, str], path, title: str) -> None:
    """Save pymatgen's plot (matplotlib backend, unstable phases shown) of the hull to ``path``."""
    import matplotlib  # heavy: plotting only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pymatgen.analysis.phase_diagram import PDPlotter, PhaseDiagram

    diagram = PhaseDiagram(list(_entries(free_energies_eV, compositions).values()))
    plotter = PDPlotter(diagram, show_unstable=0.5, backend="matplotlib")
    ax = plotter.get_plot()
    fig = ax.figure if hasattr(ax, "figure") else plt.gcf()
    fig.suptitle(title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def reaction_free_energy(free_energies_per_fu_eV: Mapping[str, np.ndarray], coefficients: Mapping[str, float]) -> np.ndarray:
    """dG = sum_i c_i G_i (eV per formula unit of the reaction), e.g. c = {oNBH: 1, NaBH4: -1, Na2B12H12: -1}.

    Parameters
    ----------
    free_energies_per_fu_eV : phase -> G per formula unit (scalar or (n_T,) array), in eV.
    coefficients : phase -> stoichiometric coefficient (products > 0, reactants < 0).
    """
    missing = sorted(set(coefficients) - set(free_energies_per_fu_eV))
    if missing:
        raise ValueError(f"reaction phases {missing} have no free energy; known: {sorted(free_energies_per_fu_eV)}")
    return sum(c * np.asarray(free_energies_per_fu_eV[p], dtype=float) for p, c in coefficients.items())


def sign_change_temperature(temperatures_K: np.ndarray, values: np.ndarray) -> float | None:
    """First temperature (K) where ``values`` changes sign (linear interpolation), or ``None``."""
    t = np.asarray(temperatures_K, dtype=float)
    v = np.asarray(values, dtype=float)
    for k in range(len(v) - 1):
        if v[k] == 0.0:
            return float(t[k])
        if v[k] * v[k + 1] < 0:
            return float(t[k] - v[k] * (t[k + 1] - t[k]) / (v[k + 1] - v[k]))
    return None
