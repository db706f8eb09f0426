"""Write a run directory (``data.lmp``, ``in.lammps``, ``job.slurm``, ``run.json``).

The layout is the contract in ``docs/run_directory.md``.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np
from ase import Atoms

from pydriver import __version__
from pydriver.deck.model_ref import check_elements, model_info, resolve_model
from pydriver.deck.mass_scaling import mass_commands, scaled_masses_amu
from pydriver.deck.render import INPUT_TEMPLATE, JOB_TEMPLATE, render
from pydriver.deck.settings import JobSettings, MDSettings
from pydriver.lammps.quoting import lammps_path, run_relative_path
from pydriver.lammps.threads import openmp_template_values
from pydriver.m3gnet.precision import DEFAULT_DTYPE
from pydriver.rundir import DATA_FILE, INPUT_FILE, JOB_FILE, RESTART_DIR, RunManifest, template_names
from pydriver.structures import LammpsSystem, prepare_system, read_structure
from pydriver.structures.supercell import DEFAULT_MIN_WIDTH_A, perpendicular_widths_A

log = logging.getLogger(__name__)


def _lammps_version() -> str | None:
    """Version of the installed ``lammps`` wheel (``None`` if absent; HPC builds may differ)."""
    try:
        return metadata.version("lammps")
    except metadata.PackageNotFoundError:
        return None


def _dump_columns(md: MDSettings) -> list[str]:
    """Per-atom dump columns: ``element`` (set by ``dump_modify element``) names and colours atoms in
    OVITO, ASE and MDAnalysis without our type map; ``type`` keeps the anion-aware LAMMPS type."""
    return ["id", "type", "element", "mol", "xu", "yu", "zu"] + (["vx", "vy", "vz"] if md.dump_velocities else [])


def _couple(md: MDSettings, system: LammpsSystem) -> str:
    if md.couple == "auto":
        return "tri" if system.box.is_triclinic else "aniso"
    return md.couple


def model_cutoff_A(model: str | Path) -> float | None:
    """Graph cutoff of a model (:func:`pydriver.deck.model_ref.model_info`), ``None`` when it cannot be read."""
    info = model_info(model)
    return None if info is None else info["cutoff_A"]


def barostat_warning(cell, couple: str, cutoff_A: float | None) -> str | None:
    """Warning for NPT with an anisotropic barostat (``aniso``/``tri``) on a cell narrower than 2 x cutoff.

    Each box length then relaxes on its own in a box where an atom sees its own periodic images
    within the cutoff: shear and stretching modes are poorly constrained, and small cells have been
    seen to change shape (a 24-atom NaBH4 cell at 700 K went from 6.05 A cubic to about
    4.4 x 8.8 x 8.0 A). ``None`` when the cell is wide enough, the barostat isotropic or the
    cutoff unknown.
    """
    if couple not in ("aniso", "tri") or cutoff_A is None:
        return None
    widths = perpendicular_widths_A(np.asarray(cell, dtype=np.float64))
    if widths.min() >= 2.0 * cutoff_A:
        return None
    listed = " x ".join(f"{w:.2f}" for w in widths)
    return (f"NPT with an anisotropic barostat ({couple}) on a cell of widths {listed} A, narrower than twice the "
            f"model cutoff ({2 * cutoff_A:g} A): the box may change shape; use a larger supercell (--min-width "
            f"{2 * cutoff_A:g} without --supercell; min_width_A in a sweep) or an isotropic barostat (--couple iso)")


def deck_context(system: LammpsSystem, md: MDSettings, model_ref: str, source: str) -> dict:
    """Template variables of ``in.lammps.j2`` (also the base of ``run.json``)."""
    couple = _couple(md, system)
    return {
        "pydriver_version": __version__,
        "structure_source": source,
        "formula": system.atoms.get_chemical_formula(mode="metal"),
        "n_atoms": len(system.atoms),
        **template_names(),
        "dump_columns": _dump_columns(md),
        "plugin_path": md.plugin_path,
        "make_triclinic": couple == "tri" and not system.box.is_triclinic,
        "device": md.device,
        "model_path": model_ref,  # quoted by the template (`lmp` filter)
        "pair_coeff_elements": system.pair_coeff_elements,
        "mass_factors": md.mass_factors,
        "mass_lines": mass_commands(system.types, md.mass_factors),
        "neighbor_skin_A": md.neighbor_skin_A,
        "dt_ps": md.dt_ps,
        "thermo_every": md.thermo_every,
        "temperature_K": md.temperature_K,
        "pressure_bar": md.pressure_bar,
        "seed": md.seed,
        "tdamp_ps": md.tdamp_ps,
        "pdamp_ps": md.pdamp_ps,
        "couple": couple,
        "restart_every": md.restart_every,
        "equil_steps": md.equil_steps,
        "prod_steps": md.prod_steps,
        "dump_every": md.dump_every,
        "adaptive": md.target is not None,
    }


def _manifest(system: LammpsSystem, md: MDSettings, job: JobSettings, ctx: dict, model_entry: dict) -> RunManifest:
    """The ``run.json`` record (``target``, the adaptive production length, when set)."""
    masses = scaled_masses_amu(system.types, md.mass_factors)
    return RunManifest(
        structure_source=ctx["structure_source"], formula=ctx["formula"], n_atoms=ctx["n_atoms"],
        supercell=list(system.replication), anion_counts=dict(system.anion_map.counts),
        types=[replace(t, mass_amu=m) for t, m in zip(system.types, masses)],
        element_masses_amu={t.type: t.mass_amu for t in system.types},
        pair_coeff_elements=ctx["pair_coeff_elements"], mass_factors=dict(md.mass_factors),
        temperature_K=md.temperature_K, pressure_bar=md.pressure_bar, dt_ps=md.dt_ps,
        equil_steps=md.equil_steps, prod_steps=md.prod_steps, dump_every=md.dump_every,
        dump_file=ctx["dump_file"], dump_columns=ctx["dump_columns"], production_start_step=md.equil_steps,
        thermo_every=md.thermo_every, log_file=ctx["log_file"], restart_every=md.restart_every,
        restart_dir=ctx["restart_dir"],
        barostat={"couple": ctx["couple"], "tdamp_ps": md.tdamp_ps, "pdamp_ps": md.pdamp_ps},
        seed=md.seed, device=md.device, plugin_path=md.plugin_path, model=model_entry, job=job.as_dict(),
        versions={"pydriver": __version__, "lammps": _lammps_version()},
        extra={"target": md.target.as_dict()} if md.target is not None else {},
    )


#: what the job script's MPI launcher does, by ``JobSettings.launcher``
LAUNCHER_NOTES = {
    "mpiexec": "mpiexec beside $LMP (the LAMMPS wheel's MPICH) for more than one rank, -bind-to core:<threads>; "
               "one rank runs lmp directly",
    "srun": "srun -c $SLURM_CPUS_PER_TASK --cpu-bind=cores (a site LAMMPS on the site's MPI)",
    "none": "none (lmp runs directly: one rank)",
}


def launcher_kind(launcher: str) -> str:
    """``mpiexec``, ``srun``, ``none`` (``""`` or ``none``) or ``command`` (any other command line, used as written)."""
    text = launcher.strip()
    if text in ("", "none"):
        return "none"
    return text if text in ("mpiexec", "srun") else "command"


def job_context(job: JobSettings, md: MDSettings) -> dict:
    """Template variables of ``job.slurm.j2``.

    ``lmp`` and ``python`` are written only when set (a path you configured); otherwise the script
    takes ``$LMP`` / ``$PYDRIVER_PYTHON`` or ``lmp`` / ``python3`` on ``PATH`` at run time, so no
    path of the machine that wrote it is in it. The OpenMP policy is
    :func:`pydriver.lammps.threads.openmp_template_values`.
    """
    kind = launcher_kind(job.launcher)
    note = LAUNCHER_NOTES.get(kind) or "as configured: " + " ".join(job.launcher.split())
    return {**job.as_dict(), "lmp_default": job.lmp or "lmp", "python_default": job.python or "python3",
            "launcher_kind": kind, "launcher_note": note, "openmp": openmp_template_values(),
            "adaptive": md.target is not None, "pydriver_version": __version__, **template_names()}


def _write_files(out_dir: Path, system: LammpsSystem, md: MDSettings, job: JobSettings, model, source: str,
                 copy_model: bool, model_dtype: str) -> None:
    (out_dir / RESTART_DIR).mkdir(parents=True, exist_ok=True)
    warning = barostat_warning(system.atoms.cell[:], _couple(md, system), model_cutoff_A(model))
    if warning:  # named by the cell, not the run: a sweep shows it once per structure (pydriver.sweep.log_once)
        log.warning("%s (%d atoms): %s", system.atoms.get_chemical_formula(mode="metal"), len(system.atoms), warning)
    model_ref, model_entry = resolve_model(model, out_dir, copy=copy_model, dtype=model_dtype)
    # LAMMPS runs in out_dir and cannot read non-ASCII input: such paths are written relative to it
    md = replace(md, plugin_path=md.plugin_path and lammps_path(md.plugin_path, out_dir))
    ctx = deck_context(system, md, lammps_path(model_ref, out_dir), source)
    system.write_data(out_dir / DATA_FILE)
    (out_dir / INPUT_FILE).write_text(render(INPUT_TEMPLATE, ctx))
    (out_dir / JOB_FILE).write_text(render(JOB_TEMPLATE, job_context(job, md)))
    (out_dir / JOB_FILE).chmod(0o755)
    _manifest(system, md, job, ctx, model_entry).write(out_dir)


def write_run_directory(
    structure: str | Path | Atoms,
    model: str | Path,
    out_dir: str | Path,
    md: MDSettings | None = None,
    job: JobSettings | None = None,
    replication: tuple[int, int, int] | None = None,
    min_width_A: float = DEFAULT_MIN_WIDTH_A,
    copy_model: bool = False,
    model_dtype: str = DEFAULT_DTYPE,
) -> Path:
    """Write a complete run directory.

    Parameters
    ----------
    structure : structure file (CIF, POSCAR, extxyz, ...) or an ``ase.Atoms`` unit cell.
    model : exported model file, or matgl checkpoint folder (exported to ``out_dir/model.pt``).
    out_dir : the run directory (created; existing deck files are overwritten; a directory this
        call created is removed again if writing fails, so a failed deck leaves nothing behind).
    md, job : settings (defaults: :class:`MDSettings`, :class:`JobSettings`).
    replication : supercell counts; ``None`` = smallest with all widths > ``min_width_A``.
    min_width_A : minimum perpendicular supercell width, in A.
    copy_model : copy an exported model file into the run directory.
    model_dtype : precision of an on-the-fly export (``float32`` or ``float64``).

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    ValueError
        For invalid settings, or a structure with elements the model does not know (checked
        before anything is written).
    FileNotFoundError
        If the structure or the model does not exist.
    """
    md = (md or MDSettings()).validate()
    job = (job or JobSettings()).validate()
    out_dir = Path(out_dir)
    if isinstance(structure, Atoms):
        atoms, source = structure, f"ase.Atoms {structure.get_chemical_formula(mode='metal')}"
    else:
        atoms = read_structure(structure)
        source = run_relative_path(structure, out_dir)
    check_elements(set(atoms.get_chemical_symbols()), model)
    system = prepare_system(atoms, replication, min_width_A)
    created = not out_dir.exists()
    try:
        _write_files(out_dir, system, md, job, model, source, copy_model, model_dtype)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    log.info("wrote run directory %s (%d atoms, T = %g K)", out_dir, len(system.atoms), md.temperature_K)
    return out_dir
