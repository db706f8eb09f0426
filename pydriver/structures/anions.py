"""Detect BH4- and closo BnHn(2-) anions by B-H / B-B connectivity.

Bonds: B-H closer than :data:`BH_BOND_CUTOFF_A` (B-H is ~1.21 A in both anions; the nearest
non-bonded B...H across anions is > 2.4 A) and B-B closer than :data:`BB_BOND_CUTOFF_A`
(~1.78 A in the B12 icosahedron; non-bonded B...B between anions is > 3 A). H-H and any bond
to other elements are ignored, so cations (Na+, ...) are single-atom fragments. Each connected
fragment with B or H must be

* ``BH4``: 1 B and 4 H, every H bonded to the B;
* closo ``BnHn`` (n = 6..12, e.g. ``B12H12``): n B and n H, each B with exactly one
  terminal H and at least three B neighbours (a deltahedron).

Anything else (isolated H, BH3, a broken cage, ...) raises ``ValueError`` naming the atoms.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

log = logging.getLogger(__name__)

BH_BOND_CUTOFF_A = 1.5
BB_BOND_CUTOFF_A = 2.1
#: closer than this, two atoms are considered overlapping (an invalid structure)
OVERLAP_DISTANCE_A = 0.6
BOND_CUTOFFS_A = {("B", "H"): BH_BOND_CUTOFF_A, ("B", "B"): BB_BOND_CUTOFF_A}
CLOSO_SIZES = range(6, 13)
RECOGNISED = "BH4 (1 B + 4 H) and closo BnHn (n = 6..12, each B with one terminal H)"


def closo_kind(n_boron: int) -> str:
    """Anion-kind name of a closo BnHn cage, e.g. ``B12H12``."""
    return f"B{n_boron}H{n_boron}"


@dataclass
class Anion:
    """One anion: its kind (``BH4``, ``B12H12``, ...) and atom indices (B first, then H)."""

    kind: str
    atom_indices: list[int]


@dataclass
class AnionMap:
    """Anions of a structure.

    Attributes
    ----------
    anions : list of Anion, ordered by their lowest atom index; molecule ID = position + 1.
    molecule_ids : (n_atoms,) int, 1-based anion index, 0 for atoms outside anions (cations).
    kinds : (n_atoms,) object, the anion kind of each atom or ``None``.
    unwrapped_positions_A : (n_atoms, 3) Cartesian positions with every anion whole
        (no bond crosses the cell boundary), in A.
    """

    anions: list[Anion]
    molecule_ids: np.ndarray
    kinds: np.ndarray
    unwrapped_positions_A: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.counts = dict(Counter(a.kind for a in self.anions))


def check_overlaps(atoms: Atoms, min_distance_A: float = OVERLAP_DISTANCE_A) -> None:
    """Raise ``ValueError`` if two atoms (or periodic images) are closer than ``min_distance_A``."""
    i, j, d = neighbor_list("ijd", atoms, min_distance_A)
    if len(i):
        k = int(np.argmin(d))
        raise ValueError(
            f"overlapping atoms: {atoms[i[k]].symbol}{i[k]} and {atoms[j[k]].symbol}{j[k]} are "
            f"{d[k]:.3f} A apart (minimum allowed {min_distance_A} A); {len(i) // 2} such pairs"
        )
    positions = atoms.get_scaled_positions(wrap=True)
    diffs = positions[:, None, :] - positions[None, :, :]
    diffs -= np.round(diffs)
    dup = np.argwhere(np.triu(np.all(np.abs(diffs) < 1e-8, axis=-1), k=1))
    if len(dup):
        raise ValueError(f"overlapping atoms: {dup[0][0]} and {dup[0][1]} sit on the same site")


def bond_graph(atoms: Atoms, cutoffs: float | dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bonds of a periodic structure as ``(i, j, shift)`` arrays (both directions).

    Parameters
    ----------
    atoms : periodic structure.
    cutoffs : one bond length in A for every pair, or ``{(element, element): A}`` for the listed
        element pairs only (any other pair is never bonded).

    Returns
    -------
    i, j : (n_bonds,) int atom indices; shift : (n_bonds, 3) int lattice shifts, so that the bonded
        image of ``j`` sits at ``positions[j] + shift @ cell``.
    """
    if isinstance(cutoffs, dict):
        symbols = set(atoms.get_chemical_symbols())
        cutoffs = {pair: c for pair, c in cutoffs.items() if set(pair) <= symbols}
    if not cutoffs or len(atoms) == 0:
        empty = np.zeros(0, dtype=int)
        return empty, empty, np.zeros((0, 3), dtype=int)
    i, j, shift = neighbor_list("ijS", atoms, cutoffs)
    return i, j, shift


def fragment_labels(n_atoms: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-fragment label ``(n_atoms,)`` of each atom of the bond graph ``(i, j)``.

    Labels are numbered in order of the lowest atom index of each fragment.
    """
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n_atoms, n_atoms))
    return connected_components(graph, directed=False)[1]


def make_whole(positions_A: np.ndarray, cell_A: np.ndarray, i: np.ndarray, j: np.ndarray,
               shift: np.ndarray) -> np.ndarray:
    """Positions ``(n_atoms, 3)`` in A with each bonded fragment whole (no bond crosses the cell).

    A depth-first walk over the bonds from each fragment's lowest-index atom places every bonded
    neighbour at its bonded periodic image. This is the one place in pydriver where molecules are
    made whole; the analysis uses it through :func:`whole_molecule_shifts`.

    Parameters
    ----------
    positions_A : (n_atoms, 3) Cartesian positions in A.
    cell_A : (3, 3) cell vectors as rows, A.
    i, j, shift : bonds from :func:`bond_graph`.
    """
    positions = np.asarray(positions_A, dtype=np.float64)
    cell = np.asarray(cell_A, dtype=np.float64)
    unwrapped = positions.copy()
    neighbours: dict[int, list[tuple[int, np.ndarray]]] = {}
    for a, b, s in zip(i, j, shift):
        neighbours.setdefault(int(a), []).append((int(b), s))
    seen = np.zeros(len(positions), dtype=bool)
    for root in range(len(positions)):
        if seen[root]:
            continue
        seen[root] = True
        queue = [root]
        while queue:
            a = queue.pop()
            for b, s in neighbours.get(a, []):
                if not seen[b]:
                    seen[b] = True
                    unwrapped[b] = positions[b] + s @ cell + (unwrapped[a] - positions[a])
                    queue.append(b)
    return unwrapped


def whole_molecule_shifts(positions_A: np.ndarray, cell_A: np.ndarray, members: list,
                          bond_cutoff_A: float) -> list[np.ndarray]:
    """Integer lattice shifts that make each given molecule whole in one frame.

    Parameters
    ----------
    positions_A : (n_atoms, 3) one frame, A.
    cell_A : (3, 3) its cell, rows, A.
    members : list of (n_i,) int atom indices, one array per molecule.
    bond_cutoff_A : atoms of one molecule closer than this (any periodic image) are bonded.

    Returns
    -------
    list of (n_i, 3) float arrays of integer shifts: ``positions[m] + shift @ cell`` is whole.

    Raises
    ------
    ValueError
        If the atoms of a molecule are not connected at ``bond_cutoff_A`` (it cannot be made whole).
    """
    sizes = [len(m) for m in members]
    flat = np.concatenate([np.asarray(m, dtype=int) for m in members]) if members else np.zeros(0, dtype=int)
    owner = np.repeat(np.arange(len(members)), sizes)
    atoms = Atoms(positions=np.asarray(positions_A, dtype=np.float64)[flat], cell=cell_A, pbc=True)
    i, j, shift = bond_graph(atoms, float(bond_cutoff_A))
    same = owner[i] == owner[j]
    i, j, shift = i[same], j[same], shift[same]
    labels = fragment_labels(len(flat), i, j)
    for mol in range(len(members)):
        if np.unique(labels[owner == mol]).size > 1:
            raise ValueError(f"molecule of atoms {[int(a) for a in members[mol]][:16]} is not connected at bond "
                             f"cutoff {bond_cutoff_A} A, so it cannot be made whole; raise the bond cutoff")
    whole = make_whole(atoms.positions, cell_A, i, j, shift)
    shifts = np.round((whole - atoms.positions) @ np.linalg.inv(cell_A))
    bounds = np.cumsum([0] + sizes)
    return [shifts[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]


def _classify(symbols: list[str], members: np.ndarray, i: np.ndarray, j: np.ndarray) -> str:
    """Kind of one B/H fragment (``BH4`` or ``BnHn``), or raise ``ValueError``."""
    counts = Counter(symbols[m] for m in members)
    n_b, n_h = counts.get("B", 0), counts.get("H", 0)
    in_frag = np.isin(i, members)
    fi, fj = i[in_frag], j[in_frag]
    label = "".join(f"{el}{counts[el]}" for el in ("B", "H") if counts.get(el))
    where = f"fragment {label} (atoms {sorted(int(m) for m in members)[:16]})"
    if n_b == 0:
        raise ValueError(f"isolated H atom(s): {where} has no B within {BH_BOND_CUTOFF_A} A; recognised: {RECOGNISED}")
    boron = [m for m in members if symbols[m] == "B"]
    hydrogen = [m for m in members if symbols[m] == "H"]
    h_per_b = {b: int(np.sum((fi == b) & np.array([symbols[x] == "H" for x in fj]))) for b in boron}
    b_per_b = {b: int(np.sum((fi == b) & np.array([symbols[x] == "B" for x in fj]))) for b in boron}
    b_per_h = {h: int(np.sum(fi == h)) for h in hydrogen}
    if any(n != 1 for n in b_per_h.values()):
        raise ValueError(f"unrecognised {where}: an H atom bonds to several B; recognised: {RECOGNISED}")
    if n_b == 1 and n_h == 4:
        return "BH4"
    if n_b == n_h and n_b in CLOSO_SIZES and all(h_per_b[b] == 1 and b_per_b[b] >= 3 for b in boron):
        return closo_kind(n_b)
    raise ValueError(f"unrecognised {where}; recognised: {RECOGNISED}")


def find_anions(atoms: Atoms, check: bool = True) -> AnionMap:
    """Find BH4 and closo BnHn anions in a periodic structure.

    Parameters
    ----------
    atoms : periodic structure (any atom order).
    check : first reject overlapping atoms (:func:`check_overlaps`).

    Returns
    -------
    AnionMap
        Anions, per-atom molecule IDs and kinds, and whole-anion positions.

    Raises
    ------
    ValueError
        For overlapping atoms, isolated H, or B/H fragments that are neither BH4 nor closo BnHn.
    """
    if check:
        check_overlaps(atoms)
    symbols = atoms.get_chemical_symbols()
    n_atoms = len(atoms)
    i, j, shift = bond_graph(atoms, BOND_CUTOFFS_A)
    labels = fragment_labels(n_atoms, i, j)
    anions: list[Anion] = []
    kinds = np.full(n_atoms, None, dtype=object)
    molecule_ids = np.zeros(n_atoms, dtype=int)
    for label in np.unique(labels):  # labels are numbered by lowest member index
        members = np.flatnonzero(labels == label)
        if len(members) == 1 and symbols[members[0]] not in ("B", "H"):
            continue  # a cation or other single atom
        if any(symbols[m] not in ("B", "H") for m in members):
            raise ValueError(f"fragment with atoms {members.tolist()} mixes B/H with other elements")
        kind = _classify(symbols, members, i, j)
        order = sorted(members, key=lambda m: (symbols[m] != "B", m))
        anions.append(Anion(kind=kind, atom_indices=[int(m) for m in order]))
        kinds[members] = kind
        molecule_ids[members] = len(anions)
    result = AnionMap(anions, molecule_ids, kinds, make_whole(atoms.get_positions(), atoms.cell.array, i, j, shift))
    log.debug("anions: %s", result.counts or "none")
    return result
