"""Harmonic phonon free energy of a crystal by finite displacements (phonopy + an ASE calculator).

F_vib(T) = sum_{q,nu} [ hbar w / 2 + k_B T ln(1 - exp(-hbar w / k_B T)) ] / N_q, the harmonic free
energy per cell including the zero-point energy (e.g. M. T. Dove, *Introduction to Lattice
Dynamics*, CUP 1993, eq. 6.16; A. Togo, I. Tanaka, Scr. Mater. 108, 1 (2015) for phonopy).
Force constants come from symmetry-reduced finite displacements of a supercell whose
perpendicular widths all exceed ``min_width_A`` (:func:`pydriver.structures.minimal_replication`).

Imaginary modes (negative frequencies in phonopy's convention) have no harmonic free energy. Three
treatments are reported side by side (:func:`free_energy_treatments`), so that their spread is visible:

- ``dropped``: left out (phonopy's default; the mode adds neither zero-point energy nor entropy, as
  if it were infinitely stiff);
- ``abs``: counted at |f| (phonopy's ``pretend_real``: the curvature's magnitude);
- ``floor``: every mode below ``floor_THz`` (imaginary ones included) raised to it. The default
  :data:`SOFT_MODE_FLOOR_THZ` = 0.5 THz (2.1 meV, h f / k_B = 24 K) counts the mode as an almost
  classical oscillator at every temperature of interest (h f / k_B T = 0.08 at 300 K): the
  entropy-rich end, standing for the flat, anharmonic wells (anion librations, Na rattling) that
  imaginary modes signal in these hydrides. Per mode, F changes by k_B T ln(f_1 / f_2) between two
  floors at high T, so the choice is visible in the spread rather than hidden.

The three acoustic modes at Gamma are left out of every treatment; frequencies between
-:data:`IMAGINARY_TOL_THZ` and 0 (numerical noise near Gamma) are left out too. The q-mesh
convergence of F(300 K) is reported for a ladder of meshes (``mesh_convergence``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from pydriver.structures.supercell import minimal_replication, perpendicular_widths_A
from pydriver.units import BOLTZMANN_EV_K, KJ_MOL_TO_EV, THZ_TO_EV

log = logging.getLogger(__name__)

#: frequencies below -IMAGINARY_TOL_THZ count as imaginary (acoustic modes at Gamma scatter around 0)
IMAGINARY_TOL_THZ = 0.05
#: default soft-mode floor, THz (module docstring)
SOFT_MODE_FLOOR_THZ = 0.5
#: treatments of imaginary modes, in the order reported
IMAGINARY_TREATMENTS = ("dropped", "abs", "floor")
#: q-mesh ladder for the convergence check: lengths in A (phonopy's rule), the main mesh is added last
MESH_LADDER_A = (20.0, 35.0)
#: temperature at which the q-mesh convergence is reported, K
MESH_CHECK_K = 300.0
#: seconds between progress lines of a long force loop
PROGRESS_EVERY_S = 60.0


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
    wall_s : wall time of this call (force calls and the phonon calculation), in s.
    forces_s : wall time of all its force calls, including those of earlier, interrupted calls
        whose forces were kept in the checkpoint (what the phonons cost), in s.
    free_energy_treatments_eV : treatment (:data:`IMAGINARY_TREATMENTS`) -> (n_T,) F per unit cell, in eV.
    soft_mode_floor_THz : the floor of the ``floor`` treatment, in THz.
    mesh_convergence : per mesh of the ladder (coarse to fine, the main mesh last): ``mesh``,
        ``F_eV_per_atom`` (treatment -> F at :data:`MESH_CHECK_K`); plus the summary
        ``last_change_meV_per_atom`` (treatment -> F(finest) - F(next finest)).
    entropy_eV_K, heat_capacity_eV_K : phonopy's (``dropped``), per unit cell.
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
    free_energy_treatments_eV: dict = field(default_factory=dict)
    soft_mode_floor_THz: float = SOFT_MODE_FLOOR_THZ
    mesh_convergence: dict = field(default_factory=dict)
    heat_capacity_eV_K: np.ndarray | None = None
    forces_s: float = 0.0

    def free_energy_at(self, temperature_K: float) -> float:
        """F_vib per unit cell (eV) at ``temperature_K`` (linear interpolation on the grid)."""
        return float(np.interp(temperature_K, self.temperatures_K, self.free_energy_eV))

    def as_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        out = asdict(self)
        for key in ("temperatures_K", "free_energy_eV", "entropy_eV_K", "heat_capacity_eV_K"):
            out[key] = None if out[key] is None else np.asarray(out[key]).tolist()
        out["free_energy_treatments_eV"] = {k: np.asarray(v).tolist() for k, v in self.free_energy_treatments_eV.items()}
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


def free_energy_treatments(frequencies_THz: np.ndarray, weights: np.ndarray, temperatures_K,
                           floor_THz: float = SOFT_MODE_FLOOR_THZ, gamma_index: int | None = None) -> dict[str, np.ndarray]:
    """Harmonic free energy per cell under each treatment of imaginary modes (module docstring).

    F(T) = sum_q w_q sum_nu [h f / 2 + k_B T ln(1 - exp(-h f / k_B T))] / sum_q w_q over the modes a
    treatment keeps, at the frequency it gives them (Dove 1993, eq. 6.16).

    Parameters
    ----------
    frequencies_THz : (n_q, n_bands) mesh frequencies, in THz (negative = imaginary).
    weights : (n_q,) q-point weights.
    temperatures_K : (n_T,) temperatures, in K.
    floor_THz : the ``floor`` treatment's floor, in THz (> 0).
    gamma_index : row of Gamma, whose three lowest |f| (the acoustic modes) are left out; None: no Gamma.

    Returns
    -------
    treatment (:data:`IMAGINARY_TREATMENTS`) -> (n_T,) F per cell, in eV.

    Raises
    ------
    ValueError if ``floor_THz`` <= 0 or the shapes disagree.
    """
    f = np.atleast_2d(np.asarray(frequencies_THz, dtype=float))
    w = np.asarray(weights, dtype=float).ravel()
    if floor_THz <= 0:
        raise ValueError(f"soft_mode_floor_THz must be > 0, got {floor_THz}")
    if w.shape != (f.shape[0],):
        raise ValueError(f"{w.size} q-point weights for {f.shape[0]} q-points")
    keep = np.ones_like(f, dtype=bool)
    if gamma_index is not None:
        keep[gamma_index, np.argsort(np.abs(f[gamma_index]))[:3]] = False
    wq = np.broadcast_to(w[:, None], f.shape)
    imaginary = keep & (f < -IMAGINARY_TOL_THZ)
    real = keep & (f > 0.0)
    chosen = {"dropped": (real, f), "abs": (real | imaginary, np.abs(f)),
              "floor": (real | imaginary, np.maximum(f, floor_THz))}
    temps = np.atleast_1d(np.asarray(temperatures_K, dtype=float))
    kt = BOLTZMANN_EV_K * temps[:, None]  # (n_T, 1)
    out = {}
    for name in IMAGINARY_TREATMENTS:
        mask, freq = chosen[name]
        e = freq[mask] * THZ_TO_EV  # (n_modes,)
        wm = wq[mask] / w.sum()
        with np.errstate(divide="ignore", over="ignore"):
            thermal = np.where(kt > 0, kt * np.log1p(-np.exp(-e[None, :] / np.where(kt > 0, kt, 1.0))), 0.0)
        out[name] = (0.5 * e + thermal) @ wm
    return out


def _phonopy_atoms(atoms: Atoms):
    from phonopy.structure.atoms import PhonopyAtoms  # heavy: phonopy

    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(), masses=atoms.get_masses())


def phonon_free_energy(atoms: Atoms, calc, temperatures_K, min_width_A: float = 10.0,
                       supercell: tuple[int, int, int] | None = None, displacement_A: float = 0.01,
                       is_plusminus: str | bool = "auto", mesh: float | tuple[int, int, int] = 50.0, symprec: float = 1e-3,
                       floor_THz: float = SOFT_MODE_FLOOR_THZ, forces_checkpoint: str | Path | None = None,
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
    floor_THz : floor of the ``floor`` treatment of imaginary modes, in THz.
    forces_checkpoint : ``.npz`` file keeping the forces computed so far, keyed by the displaced
        supercells (a restarted run with the same structure and displacements reuses them; a
        different structure overwrites it). The calculator's model is not part of the key: use one
        file per model.

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
    key = hashlib.sha256(np.concatenate([np.concatenate([np.asarray(sc.cell).ravel(), np.asarray(sc.scaled_positions).ravel()])
                                         for sc in displaced]).round(10).tobytes()).hexdigest()
    forces, forces_s = _read_checkpoint(forces_checkpoint, key)
    last_report = time.time()
    for k, sc in enumerate(displaced[len(forces):], start=len(forces)):
        t_call = time.time()
        image = Atoms(sc.symbols, cell=sc.cell, scaled_positions=sc.scaled_positions, pbc=True)
        image.calc = calc
        f = image.get_forces()
        forces.append(f - f.mean(axis=0))  # remove the net drift (translational invariance)
        forces_s += time.time() - t_call
        if forces_checkpoint is not None:
            np.savez(Path(forces_checkpoint), key=key, forces=np.array(forces), forces_s=forces_s)
        if time.time() - last_report >= PROGRESS_EVERY_S or k + 1 == len(displaced):
            left_s = forces_s / len(forces) * (len(displaced) - k - 1)
            log.info("phonons of %s: displacement %d/%d (%.1f s each, about %.0f min left)",
                     atoms.get_chemical_formula(), k + 1, len(displaced), forces_s / len(forces), left_s / 60)
            last_report = time.time()
    ph.forces = np.array(forces)
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    result = _thermal(ph, atoms, temperatures_K, mesh, supercell, widths, len(displaced), time.time() - t0, floor_THz)
    result.forces_s = round(forces_s, 1)
    return result


def _read_checkpoint(path: str | Path | None, key: str) -> tuple[list, float]:
    """(forces kept in ``path`` for the displacements hashed to ``key``, the seconds they took);
    ``([], 0.0)`` when there are none."""
    if path is None or not Path(path).is_file():
        return [], 0.0
    with np.load(Path(path)) as data:
        if str(data["key"]) != key:
            return [], 0.0
        log.info("reusing %d computed displacements from %s", len(data["forces"]), path)
        return list(data["forces"]), float(data["forces_s"]) if "forces_s" in data else 0.0


def _mesh_ladder(mesh) -> list:
    """Meshes of the convergence check, coarse to fine, ``mesh`` last (lengths in A or integer triples)."""
    if np.isscalar(mesh):
        return [float(m) for m in MESH_LADDER_A if m < float(mesh)] + [float(mesh)]
    mesh = [int(n) for n in mesh]
    ladder = [[max(1, round(n * f)) for n in mesh] for f in (0.5, 0.75)]
    return [m for k, m in enumerate(ladder) if m != mesh and m not in ladder[:k]] + [mesh]


def _run_mesh(ph, mesh) -> tuple[np.ndarray, np.ndarray, list[int], int | None]:
    """(frequencies (n_q, n_bands) THz, weights (n_q,), mesh numbers, row of Gamma or None)."""
    ph.run_mesh(mesh if np.isscalar(mesh) else [int(n) for n in mesh], is_gamma_center=True)
    freqs = np.asarray(ph.mesh.frequencies)
    gamma_rows = np.flatnonzero(np.all(np.abs(np.asarray(ph.mesh.qpoints)) < 1e-10, axis=1))
    return (freqs, np.asarray(ph.mesh.weights), [int(n) for n in ph.mesh.mesh_numbers],
            int(gamma_rows[0]) if gamma_rows.size else None)


def _thermal(ph, atoms: Atoms, temperatures_K, mesh, supercell, widths, n_disp: int,
             t_forces_s: float, floor_THz: float = SOFT_MODE_FLOOR_THZ) -> PhononResult:
    t0 = time.time()
    temperatures_K = np.asarray(temperatures_K, dtype=float)
    convergence: dict = {"temperature_K": MESH_CHECK_K, "meshes": []}
    for m in _mesh_ladder(mesh):
        freqs, weights, mesh_numbers, gamma_row = _run_mesh(ph, m)  # the main mesh (last) stays in ph
        f_check = free_energy_treatments(freqs, weights, [MESH_CHECK_K], floor_THz, gamma_row)
        convergence["meshes"].append({"mesh": mesh_numbers, "mesh_length_A": m if np.isscalar(m) else None,
                                      "F_eV_per_atom": {k: float(v[0]) / len(atoms) for k, v in f_check.items()}})
    if len(convergence["meshes"]) > 1:
        last, prev = convergence["meshes"][-1]["F_eV_per_atom"], convergence["meshes"][-2]["F_eV_per_atom"]
        convergence["last_change_meV_per_atom"] = {k: 1e3 * (last[k] - prev[k]) for k in last}
    treatments = free_energy_treatments(freqs, weights, temperatures_K, floor_THz, gamma_row)
    ph.run_qpoints([[0.0, 0.0, 0.0]], with_eigenvectors=True)
    gamma = np.asarray(ph.qpoints.frequencies[0])
    soft = None
    if gamma[0] < -IMAGINARY_TOL_THZ:
        vec = np.real(np.asarray(ph.qpoints.eigenvectors[0])[:, 0]).reshape(-1, 3) / np.sqrt(atoms.get_masses())[:, None]
        soft = (vec / np.linalg.norm(vec, axis=1).max()).tolist()
    ph.run_thermal_properties(temperatures=temperatures_K, exclude_gamma_acoustic=True)
    tp = ph.thermal_properties
    free = np.asarray(tp.free_energy) * KJ_MOL_TO_EV
    entropy = np.asarray(tp.entropy) * KJ_MOL_TO_EV * 1e-3  # J/K/mol -> eV/K
    heat_capacity = np.asarray(tp.heat_capacity) * KJ_MOL_TO_EV * 1e-3
    zpe = float(free_energy_treatments(freqs, weights, [0.0], floor_THz, gamma_row)["dropped"][0])
    n_im_mesh = int((weights[:, None] * (freqs < -IMAGINARY_TOL_THZ)).sum())
    n_im_gamma = int((gamma < -IMAGINARY_TOL_THZ).sum())
    notes = []
    if n_im_mesh:
        notes.append(f"{n_im_mesh} imaginary modes on the {mesh_numbers} mesh (lowest {freqs.min():.3f} THz) "
                     "are left out of F(T) by phonopy (free_energy_treatments_eV: dropped, abs, floor)")
    return PhononResult(temperatures_K, free, entropy, zpe, len(atoms), tuple(int(n) for n in supercell),
                        [float(w) for w in widths], n_disp, mesh_numbers, n_im_gamma, n_im_mesh,
                        float(freqs.min()), round(t_forces_s + time.time() - t0, 1), notes, gamma.tolist(), soft,
                        treatments, float(floor_THz), convergence, heat_capacity)
