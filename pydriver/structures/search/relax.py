"""The package's one relaxation helper: cell and positions with ASE, optionally keeping the space group.

Used by the structure searches (:mod:`pydriver.structures.search`) and by the thermodynamics
pipeline (:mod:`pydriver.thermo.workflow`) before phonons. ASE's ``FrechetCellFilter`` exposes the
cell as extra degrees of freedom whose "forces" are the virial divided by ``exp_cell_factor``; the
factor is chosen so that the optimizer's force criterion on them means |stress| < ``pressure_tol_GPa``
(virial = stress * V, so factor = pressure_tol / (eV/A^3 in GPa) * V / fmax). The symmetry
constraint is ``ase.constraints.FixSymmetry`` (spglib operations at ``symprec``).
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
from ase import Atoms

from pydriver.units import EV_A3_TO_GPA

log = logging.getLogger(__name__)

OPTIMIZERS = ("FIRE", "FIRE+BFGS")
#: seconds between progress lines of a long relaxation
PROGRESS_EVERY_S = 60.0
#: an optimizer stage stops when its lowest energy has not dropped by more than
#: ``STALL_ENERGY_EV_ATOM`` x atoms within ``STALL_STEPS`` steps
STALL_STEPS = 300
STALL_ENERGY_EV_ATOM = 1e-7


def relax_structure(atoms: Atoms, calc, *, fmax_eV_A: float, max_steps: int, pressure_tol_GPa: float | None = None,
                    keep_symmetry: bool = False, symprec: float = 1e-3, constant_volume: bool = False,
                    optimizer: str = "FIRE", fire_fmax_eV_A: float = 0.02) -> tuple[Atoms, dict]:
    """Relax cell and positions of a copy of ``atoms``.

    Parameters
    ----------
    atoms : structure (not modified).
    calc : ASE calculator (eV, eV/A, eV/A^3), e.g. :class:`pydriver.m3gnet.calculator.M3GNetCalculator`.
    fmax_eV_A : force criterion, in eV/A.
    max_steps : optimizer steps (per stage for ``"FIRE+BFGS"``); 0 runs nothing (``converged`` false).
    pressure_tol_GPa : stress criterion, in GPa; ``None`` keeps ASE's default cell factor (the
        number of atoms: about 0.3 GPa for these hydrides at 0.02 eV/A).
    keep_symmetry : constrain to the space group found at ``symprec`` (A) by ``FixSymmetry``.
    constant_volume : relax the cell shape at constant volume.
    optimizer : ``"FIRE"``, or ``"FIRE+BFGS"``: FIRE down to ``fire_fmax_eV_A`` (eV/A) then BFGS to
        ``fmax_eV_A`` (tight relaxations before phonons).

    Each optimizer stage also stops when its lowest energy has not dropped by more than
    :data:`STALL_ENERGY_EV_ATOM` per atom within :data:`STALL_STEPS` steps: with a checkpoint whose forces
    jump at the cutoff (``use_smooth`` false, docs/model_file.md) the force criterion can be out of reach
    while the energy no longer changes (o-NBH: 2000 BFGS steps at 5-25 meV/A, energy constant to 1e-7
    eV/atom); ``info["stalled"]`` then says so.

    Returns
    -------
    (relaxed copy without calculator or constraint, info) with info keys ``steps``, ``converged``,
    ``max_force_eV_A`` (largest remaining force, symmetrised if ``keep_symmetry``), ``pressure_GPa``
    (-trace(stress) / 3), ``stalled`` (the last stage stopped by the stall rule), ``wall_s`` and the settings.

    Raises
    ------
    ValueError for an unknown ``optimizer`` or a negative ``max_steps``.
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r} not in {OPTIMIZERS}")
    if max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    atoms = atoms.copy()
    atoms.calc = calc
    if keep_symmetry:
        atoms.set_constraint(FixSymmetry(atoms, symprec=symprec))
    cell_factor = None
    if pressure_tol_GPa is not None:
        cell_factor = pressure_tol_GPa / EV_A3_TO_GPA * atoms.get_volume() / fmax_eV_A
    filt = FrechetCellFilter(atoms, exp_cell_factor=cell_factor, constant_volume=constant_volume)
    t0 = time.time()
    steps, converged, stalled = 0, False, False
    if max_steps > 0:
        with warnings.catch_warnings():
            # FrechetCellFilter takes the matrix log of a near-identity cell deformation every step;
            # scipy then reports error estimates of ~5e-13 ("logm result may be inaccurate"): noise
            warnings.filterwarnings("ignore", message="logm result may be inaccurate", category=RuntimeWarning)
            steps, converged, stalled = _optimize(filt, optimizer, fmax_eV_A, fire_fmax_eV_A, max_steps)
    max_force = float(np.linalg.norm(atoms.get_forces(), axis=1).max())
    pressure = float(-atoms.get_stress()[:3].mean() * EV_A3_TO_GPA)
    atoms.set_constraint()
    out = atoms.copy()
    info = {"steps": steps, "converged": converged, "stalled": stalled, "max_force_eV_A": max_force, "pressure_GPa": pressure,
            "wall_s": round(time.time() - t0, 1), "fmax_eV_A": fmax_eV_A, "pressure_tol_GPa": pressure_tol_GPa,
            "max_steps": max_steps, "keep_symmetry": keep_symmetry, "constant_volume": constant_volume,
            "optimizer": optimizer}
    return out, info


def _optimize(filt, optimizer: str, fmax_eV_A: float, fire_fmax_eV_A: float,
              max_steps: int) -> tuple[int, bool, bool]:
    """Run FIRE (then BFGS for ``FIRE+BFGS``) on ``filt``; returns (steps taken, converged, last stage stalled)."""
    from ase.optimize import BFGS, FIRE

    progress = _Progress(filt, fmax_eV_A)
    fire = FIRE(filt, logfile=None)
    fire_stall = _Stall(fire, filt)
    fire.attach(lambda: progress("FIRE", fire.nsteps))
    fire.attach(fire_stall)
    if optimizer == "FIRE":
        converged = bool(fire.run(fmax=fmax_eV_A, steps=max_steps))
        return int(fire.nsteps), converged, fire_stall.stalled and not converged
    fire.run(fmax=max(fire_fmax_eV_A, fmax_eV_A), steps=max_steps)
    bfgs = BFGS(filt, logfile=None)
    bfgs_stall = _Stall(bfgs, filt)
    bfgs.attach(lambda: progress("BFGS", fire.nsteps + bfgs.nsteps))
    bfgs.attach(bfgs_stall)
    converged = bool(bfgs.run(fmax=fmax_eV_A, steps=max_steps))
    return int(fire.nsteps + bfgs.nsteps), converged, bfgs_stall.stalled and not converged


class _Stall:
    """Stops ``opt`` (its step budget set to the steps taken) when its lowest energy has not dropped by
    more than :data:`STALL_ENERGY_EV_ATOM` x atoms within :data:`STALL_STEPS` steps."""

    def __init__(self, opt, filt) -> None:
        self.opt, self.filt = opt, filt
        self.best, self.best_step, self.stalled = np.inf, 0, False
        self.tolerance_eV = STALL_ENERGY_EV_ATOM * len(filt.atoms)

    def __call__(self) -> None:
        energy = float(self.filt.atoms.get_potential_energy())
        if energy < self.best - self.tolerance_eV:
            self.best, self.best_step = energy, self.opt.nsteps
        elif self.opt.nsteps - self.best_step >= STALL_STEPS:
            self.stalled = True
            self.opt.max_steps = self.opt.nsteps  # ends Dynamics.irun's loop after this step
            log.info("relax %s: energy unchanged within %.1e eV/atom for %d steps; stopping at step %d",
                     self.filt.atoms.get_chemical_formula(), STALL_ENERGY_EV_ATOM, STALL_STEPS, self.opt.nsteps)


class _Progress:
    """A line every :data:`PROGRESS_EVERY_S` seconds of a relaxation: optimizer, step, largest force
    (atoms and cell degrees of freedom of the filter, eV/A) and elapsed time."""

    def __init__(self, filt, fmax_eV_A: float) -> None:
        self.filt, self.fmax = filt, fmax_eV_A
        self.start = self.last = time.time()
        self.formula = filt.atoms.get_chemical_formula()

    def __call__(self, stage: str, step: int) -> None:
        now = time.time()
        if now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        fmax = float(np.linalg.norm(self.filt.get_forces(), axis=1).max())
        log.info("relax %s: %s step %d, max force %.4f eV/A (target %.4f), %.0f s", self.formula, stage, step, fmax,
                 self.fmax, now - self.start)
