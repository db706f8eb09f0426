"""Anion (molecule) identification: molecule ids from the dump or data.lmp, else bond clusters.

An anion is a set of atoms with the same molecule id (> 0), or a connected cluster of non-mobile
atoms within ``bond_cutoff_A`` in the first frame (bond graph of :mod:`pydriver.structures.anions`,
the one implementation of bond detection and of making molecules whole). Its kind is the ``anion`` field of the atom
types in ``run.json`` (e.g. ``BH4``) or, without one, the cluster's formula (``B12H12``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from pydriver.structures.anions import bond_graph, fragment_labels

log = logging.getLogger(__name__)

DEFAULT_BOND_CUTOFF_A = 2.0  # B-H 1.21 A, B-B in B12H12 1.78 A; shortest Na-H about 2.3 A


@dataclass
class Molecules:
    """Anions found in a trajectory.

    Attributes
    ----------
    members : list of (n_i,) int arrays -- atom rows of each anion.
    kinds : list of str -- anion kind per anion (``BH4``, ``B12H12``).
    source : ``"mol"`` (molecule ids) or ``"clusters"``.
    bond_cutoff_A : bond length used to make each anion whole across periodic boundaries.
    """

    members: list
    kinds: list
    source: str
    bond_cutoff_A: float = DEFAULT_BOND_CUTOFF_A

    def by_kind(self) -> dict[str, list[int]]:
        """Anion indices grouped by kind."""
        out: dict[str, list[int]] = {}
        for i, kind in enumerate(self.kinds):
            out.setdefault(kind, []).append(i)
        return out


def formula(elements) -> str:
    """Hill-like formula (B, then H, then others alphabetically) of a list of element symbols."""
    counts = Counter(elements)
    order = [e for e in ("B", "H") if e in counts] + sorted(e for e in counts if e not in ("B", "H"))
    return "".join(f"{e}{counts[e] if counts[e] > 1 else ''}" for e in order)


def _kind(rows: np.ndarray, elements: np.ndarray, anion_of_atom: np.ndarray | None) -> str:
    if anion_of_atom is not None:
        names = {str(a) for a in anion_of_atom[rows] if a}
        if len(names) == 1:
            return names.pop()
    return formula(elements[rows].tolist())


def from_mol_ids(mol_ids: np.ndarray, elements: np.ndarray, anion_of_atom: np.ndarray | None = None,
                 exclude: np.ndarray | None = None, bond_cutoff_A: float = DEFAULT_BOND_CUTOFF_A) -> Molecules:
    """Group atoms by molecule id (> 0, atoms in ``exclude`` skipped) into anions.

    ``bond_cutoff_A`` is recorded for making each anion whole (:class:`Molecules`).
    """
    mol_ids = np.asarray(mol_ids)
    keep = mol_ids > 0
    if exclude is not None:
        keep &= ~np.isin(np.arange(mol_ids.size), exclude)
    members, kinds = [], []
    for mol in np.unique(mol_ids[keep]):
        rows = np.flatnonzero((mol_ids == mol) & keep)
        if rows.size < 2:
            continue
        members.append(rows)
        kinds.append(_kind(rows, elements, anion_of_atom))
    return Molecules(members, kinds, "mol", float(bond_cutoff_A))


def from_clusters(positions_A: np.ndarray, cell_A: np.ndarray, candidates: np.ndarray, elements: np.ndarray,
                  anion_of_atom: np.ndarray | None = None, bond_cutoff_A: float = DEFAULT_BOND_CUTOFF_A) -> Molecules:
    """Connected clusters of ``candidates`` within ``bond_cutoff_A`` (minimum image) in one frame.

    Parameters
    ----------
    positions_A : (n_atoms, 3) one frame.
    cell_A : (3, 3) its cell.
    candidates : (n_c,) atom rows that may belong to anions (all but the mobile ions).
    elements : (n_atoms,) element symbols.
    anion_of_atom : (n_atoms,) anion kind per atom from run.json, or None.
    bond_cutoff_A : bond length cutoff.
    """
    candidates = np.asarray(candidates, dtype=int)
    frame = Atoms(positions=np.asarray(positions_A, dtype=np.float64)[candidates], cell=cell_A, pbc=True)
    i, j, _ = bond_graph(frame, float(bond_cutoff_A))
    labels = fragment_labels(len(candidates), i, j)
    n_comp = int(labels.max()) + 1 if labels.size else 0
    members, kinds = [], []
    for comp in range(n_comp):
        sel = candidates[labels == comp]
        if sel.size < 2:
            continue
        members.append(sel)
        kinds.append(_kind(sel, elements, anion_of_atom))
    log.info("found %d anion clusters (bond cutoff %.2f A): %s", len(members), bond_cutoff_A,
             dict(Counter(kinds)))
    return Molecules(members, kinds, "clusters", float(bond_cutoff_A))
