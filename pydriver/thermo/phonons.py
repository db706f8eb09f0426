"""Harmonic phonon free energy of a crystal by finite displacements (phonopy + an ASE calculator).

F_vib(T) = sum_{q,nu} [ hbar w / 2 + k_B T ln(1 - exp(-hbar w / k_B T)) ] / N_q, the harmonic free
energy per cell including the zero-point energy (e.g. M. T. Dove, *Introduction to Lattice
Dynamics*, CUP 1993, eq. 6.16; A. Togo, I. Tanaka, Scr. Mater. 108, 1 (2015) for phonopy).
Force constants come from symmetry-reduced finite displacements of a supercell whose
perpendicular widths all exceed ``min_width_A`` (:func:`pydriver.structures.minimal_replication`).
Imaginary modes (negative frequencies in phonopy's convention) are left out of F by phonopy; they
are counted and reported.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from ase import Atoms

from pydriver.structures.supercell import minimal_replication, perpendicular_widths_A
from pydriver.units import BOLTZMANN_EV_K, KJ_MOL_TO_EV, THZ_TO_EV

log = logging.getLogger(__name__)

#: frequencies below -IMAGINARY_TOL_THZ count as imaginary (acoustic modes at Gamma scatter around 0)
IMAGINARY_TOL_THZ = 0.05


@dataclass
class PhononResult:
    """Harmonic phonon free energy of one unit cell.

    Attributes
    ----------
    temperatures_K : (n_T,) temperatures, in K.
    free_energy_eV : (n_T,) vibrational Helmholtz free energy per unit cell (ZPE included), in eV.
    entropy_eV_K : (n_T,) vibrational entropy per unit cell, in eV/K.
    zero_point_energy_eV : zero-point energy per unit cell, in eV.
    n_atoms : atoms per unit cell.
    supercell : (3,) diagonal replication used for the force constants.
    supercell_widths_A : (3,) perpendicular widths of that supercell, in A.
    n_displacements : number of displaced supercells (force calls).
    mesh : (3,) q-point mesh (Gamma-centred).
    n_imaginary_gamma, n_imaginary_mesh : modes below -:data:`IMAGINARY_TOL_THZ` at Gamma and on
        the whole mesh (these are left out of the free energy).
    lowest_frequency_THz : lowest frequency on the mesh (negative = imaginary), in THz.
    gamma_frequencies_THz : (3 n_atoms,) frequencies at Gamma, in THz.
    soft_mode_displacement_A : (n_atoms, 3) atomic displacement pattern of the lowest Gamma mode
        (eigenvector / sqrt(mass), largest displacement 1 A) if that mode is imaginary, else None.
    wall_s : wall time of the force calls and the phonon calculation, in s.
    """

    temperatures_K: np.ndarray
    free_energy_eV: np.ndarray
    entropy_eV_K: np.ndarray
    zero_point_energy_eV: float
    n_atoms: int
    supercell: tuple[int, int, int]
    supercell_widths_A: list[float]
    n_displacements: int
    mesh: list[int]
    n_imaginary_gamma: int
    n_imaginary_mesh: int
    lowest_frequency_THz: float
    wall_s: float
    notes: list[str] = field(default_factory=list)
    gamma_frequencies_THz: list[float] = field(default_factory=list)
    soft_mode_displacement_A: list[list[float]] | None = None

    def free_energy_at(self, temperature_K: float) -> float:
        """F_vib per unit cell (eV) at ``temperature_K`` (linear interpolation on the grid)."""
        return float(np.interp(temperature_K, self.temperatures_K, self.free_energy_eV))

    def as_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        out = asdict(self)
        for key in ("temperatures_K", "free_energy_eV", "entropy_eV_K"):
            out[key] = np.asarray(out[key]).tolist()
        return out


def harmonic_free_energy(frequencies_THz: np.ndarray, temperature_K: float, cutoff_THz: float = 1e-3) -> float:
    """Harmonic free energy (eV) of a set of modes, averaged over q-points: rows = q-points.

    F = (1 / N_q) sum [ h f / 2 + k_B T ln(1 - exp(-h f / k_B T)) ] over modes with f > ``cutoff_THz``
    (Dove 1993, eq. 6.16). An independent reference for the tests (ASE phonons vs phonopy).

    Parameters
    ----------
    frequencies_THz : (n_q, n_modes) frequencies, in THz.
    temperature_K : temperature, in K (0 gives the zero-point energy).
    """
    f = np.atleast_2d(np.asarray(frequencies_THz, dtype=float))
    n_q = f.shape[0]
    e = f[f > cutoff_THz] * THZ_TO_EV
    free = 0.5 * e.sum()
    if temperature_K > 0:
        free += BOLTZMANN_EV_K * temperature_K * np.log1p(-np.exp(-e / (BOLTZMANN_EV_K * temperature_K))).sum()
    return float(free / n_q)


def _phonopy_atoms(atoms: Atoms):
    from phonopy.structure.atoms import PhonopyAtoms  # heavy: phonopy

    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(), masses=atoms.get_masses())


def phonon_free_energy(atoms: Atoms, calc, temperatures_K, min_width_A: float = 10.0,
                       supercell: tuple[int, int, int] | None = None, displacement_A: float = 0.01,
                       is_plusminus: str | bool = "auto", mesh: float | tuple[int, int, int] = 50.0, symprec: float = 1e-3,
                       ) -> PhononResult:
    """Harmonic vibrational free energy of ``atoms`` with phonopy finite displacements.

    Parameters
    ----------
    atoms : relaxed unit cell (relax tightly first: residual forces show up as imaginary modes).
    calc : ASE calculator giving forces (eV/A), e.g. :class:`pydriver.m3gnet.calculator.M3GNetCalculator`.
    temperatures_K : temperatures, in K.
    min_width_A : every perpendicular width of the supercell exceeds this, in A (ignored if
        ``supercell`` is given).
    supercell : explicit diagonal replication, e.g. (2, 2, 2).
    displacement_A : finite displacement, in A.
    is_plusminus : phonopy's choice of +/- displacements ("auto": only where symmetry needs both).
    mesh : q-mesh (Gamma-centred): a length l in A (phonopy's rule n_i = max(1, round(l |b_i|)))
        or three integers.
    symprec : symmetry tolerance for the displacement reduction, in A.

    Returns
    -------
    PhononResult
    """
    from phonopy import Phonopy  # heavy: phonopy

    t0 = time.time()
    supercell = tuple(supercell) if supercell is not None else minimal_replication(atoms.cell.array, min_width_A)
    # primitive_matrix "P": F per the given cell (phonopy >= 4 reduces None to the primitive cell)
    ph = Phonopy(_phonopy_atoms(atoms), supercell_matrix=np.diag(supercell), primitive_matrix="P", symprec=symprec)
    ph.generate_displacements(distance=displacement_A, is_plusminus=is_plusminus)
    displaced = ph.supercells_with_displacements
    widths = perpendicular_widths_A(np.diag(supercell) @ atoms.cell.array)
    log.info("phonons of %s: supercell %s (%d atoms, widths %s A), %d displacements",
             atoms.get_chemical_formula(), supercell, len(displaced[0]), np.round(widths, 2), len(displaced))
    forces = []
    for k, sc in enumerate(displaced):
        image = Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True)
        image.calc = calc
        f = image.get_forces()
        forces.append(f - f.mean(axis=0))  # remove the net drift (translational invariance)
        log.debug("displacement %d/%d", k + 1, len(displaced))
    ph.forces = np.array(forces)
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    return _thermal(ph, atoms, temperatures_K, mesh, supercell, widths, len(displaced), time.time() - t0)


def _thermal(ph, atoms: Atoms, temperatures_K, mesh, supercell, widths, n_disp: int,
             t_forces_s: float) -> PhononResult:
    t0 = time.time()
    temperatures_K = np.asarray(temperatures_K, dtype=float)
    ph.run_mesh(mesh if np.isscalar(mesh) else [int(n) for n in mesh], is_gamma_center=True)
    freqs = np.asarray(ph.mesh.frequencies)  # (n_irreducible_q, n_bands), THz
    weights = np.asarray(ph.mesh.weights)
    mesh_numbers = [int(n) for n in ph.mesh.mesh_numbers]
    ph.run_qpoints([[0.0, 0.0, 0.0]], with_eigenvectors=True)
    gamma = np.asarray(ph.qpoints.frequencies[0])
    soft = None
    if gamma[0] < -IMAGINARY_TOL_THZ:
        vec = np.real(np.asarray(ph.qpoints.eigenvectors[0])[:, 0]).reshape(-1, 3) / np.sqrt(atoms.get_masses())[:, None]
        soft = (vec / np.linalg.norm(vec, axis=1).max()).tolist()
    ph.run_thermal_properties(temperatures=temperatures_K)
    tp = ph.thermal_properties
    free = np.asarray(tp.free_energy) * KJ_MOL_TO_EV
    entropy = np.asarray(tp.entropy) * KJ_MOL_TO_EV * 1e-3  # J/K/mol -> eV/K
    zpe = float(np.sum(weights[:, None] * 0.5 * np.where(freqs > 1e-3, freqs, 0.0)) * THZ_TO_EV / weights.sum())
    n_im_mesh = int((weights[:, None] * (freqs < -IMAGINARY_TOL_THZ)).sum())
    n_im_gamma = int((gamma < -IMAGINARY_TOL_THZ).sum())
    notes = []
    if n_im_mesh:
        notes.append(f"{n_im_mesh} imaginary modes on the {mesh_numbers} mesh (lowest {freqs.min():.3f} THz) "
                     "are left out of F(T) by phonopy")
    return PhononResult(temperatures_K, free, entropy, zpe, len(atoms), tuple(int(n) for n in supercell),
                        [float(w) for w in widths], n_disp, mesh_numbers, n_im_gamma, n_im_mesh,
                        float(freqs.min()), round(t_forces_s + time.time() - t0, 1), notes, gamma.tolist(), soft)
