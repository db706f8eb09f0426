"""Structures for the MD decks: reading, supercells, anion detection, LAMMPS types and data files.

Typical use::

    from pydriver.structures import read_structure, prepare_system
    system = prepare_system(read_structure("examples/structures/NaBH4.extxyz"))
    system.write_data("data.lmp")
"""

from pydriver.structures.anions import Anion, AnionMap, check_overlaps, find_anions
from pydriver.structures.atom_types import AtomType, assign_types, pair_coeff_elements
from pydriver.structures.io import read_structure
from pydriver.structures.lammps_box import LammpsBox, to_lammps_frame, wrap_with_images
from pydriver.structures.lammps_data import read_lammps_data, write_lammps_data
from pydriver.structures.supercell import (
    DEFAULT_MIN_WIDTH_A,
    build_supercell,
    minimal_replication,
    perpendicular_widths_A,
)
from pydriver.structures.system import LammpsSystem, prepare_system

__all__ = [
    "DEFAULT_MIN_WIDTH_A", "Anion", "AnionMap", "AtomType", "LammpsBox", "LammpsSystem", "assign_types",
    "build_supercell", "check_overlaps", "find_anions", "minimal_replication", "pair_coeff_elements",
    "perpendicular_widths_A", "prepare_system", "read_lammps_data", "read_structure", "to_lammps_frame",
    "wrap_with_images", "write_lammps_data",
]
