"""From a structure to a LAMMPS-ready system: supercell, anions, types, box, data file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from pydriver.structures.anions import AnionMap, find_anions
from pydriver.structures.atom_types import AtomType, assign_types, pair_coeff_elements
from pydriver.structures.lammps_box import LammpsBox, to_lammps_frame, wrap_with_images
from pydriver.structures.lammps_data import write_lammps_data
from pydriver.structures.supercell import DEFAULT_MIN_WIDTH_A, build_supercell, perpendicular_widths_A

log = logging.getLogger(__name__)


@dataclass
class LammpsSystem:
    """A supercell with anions, types and a LAMMPS box.

    Attributes
    ----------
    atoms : the supercell (original orientation).
    replication : (n1, n2, n3) used to build it.
    anion_map : its anions and molecule IDs.
    types : LAMMPS atom types in order.
    type_ids : (n_atoms,) type per atom.
    box : the restricted-triclinic box.
    positions_A : (n_atoms, 3) wrapped positions in the box frame, in A.
    images : (n_atoms, 3) image flags keeping every anion whole.
    """

    atoms: Atoms
    replication: tuple[int, int, int]
    anion_map: AnionMap
    types: list[AtomType]
    type_ids: np.ndarray
    box: LammpsBox
    positions_A: np.ndarray
    images: np.ndarray

    @property
    def pair_coeff_elements(self) -> list[str]:
        """Element per type for ``pair_coeff * * MODEL.pt ...``."""
        return pair_coeff_elements(self.types)

    def write_data(self, path: str | Path, masses_amu: list[float] | None = None, title: str = "") -> Path:
        """Write the LAMMPS data file (see :func:`pydriver.structures.lammps_data.write_lammps_data`)."""
        title = title or f"{self.atoms.get_chemical_formula(mode='metal')} supercell {'x'.join(map(str, self.replication))}"
        return write_lammps_data(path, self.box, self.types, self.type_ids, self.anion_map.molecule_ids,
                                 self.positions_A, self.images, title=title, masses_amu=masses_amu)

    def summary(self) -> dict:
        """JSON-ready description: formula, counts, anions, types, box."""
        return {
            "formula": self.atoms.get_chemical_formula(mode="metal"),
            "n_atoms": len(self.atoms),
            "supercell": list(self.replication),
            "perpendicular_widths_A": perpendicular_widths_A(self.box.cell).round(4).tolist(),
            "anion_counts": dict(self.anion_map.counts),
            "n_molecules": len(self.anion_map.anions),
            "types": [t.as_dict() for t in self.types],
            "pair_coeff_elements": self.pair_coeff_elements,
            "box": {key: float(getattr(self.box, key)) for key in ("lx_A", "ly_A", "lz_A", "xy_A", "xz_A", "yz_A")},
            "triclinic": self.box.is_triclinic,
        }


def _contiguous_order(anion_map: AnionMap) -> list[int]:
    """Atom order with cations first (original order), then each anion's atoms together (B first)."""
    order = [int(n) for n in np.flatnonzero(anion_map.molecule_ids == 0)]
    for anion in anion_map.anions:
        order += anion.atom_indices
    return order


def prepare_system(
    atoms: Atoms,
    replication: tuple[int, int, int] | None = None,
    min_width_A: float = DEFAULT_MIN_WIDTH_A,
) -> LammpsSystem:
    """Build the supercell, detect anions, assign types and convert to a LAMMPS box.

    Parameters
    ----------
    atoms : the unit cell.
    replication : supercell counts; ``None`` = smallest with all perpendicular widths > ``min_width_A``.
    min_width_A : minimum perpendicular width, in A.

    Returns
    -------
    LammpsSystem
        Atoms reordered: cations first, then each anion's atoms together (molecule IDs 1, 2, ...
        in that order).
    """
    supercell, replication = build_supercell(atoms, replication, min_width_A)
    anion_map = find_anions(supercell)
    supercell = supercell[_contiguous_order(anion_map)]
    anion_map = find_anions(supercell, check=False)
    types, type_ids = assign_types(supercell, anion_map)
    box, unwrapped_A = to_lammps_frame(supercell.cell.array, anion_map.unwrapped_positions_A)
    positions_A, images = wrap_with_images(box, unwrapped_A)
    log.info("%d atoms, anions %s, types %s", len(supercell), anion_map.counts or "none", [t.label for t in types])
    return LammpsSystem(supercell, replication, anion_map, types, type_ids, box, positions_A, images)
