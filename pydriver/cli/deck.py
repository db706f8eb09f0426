"""Write a run directory (data.lmp, in.lammps, job.slurm, run.json) for M3GNet NPT MD.

Example::

    python -m pydriver deck examples/structures/NaBH4.extxyz --model nabh.pt --temp 400 \\
        --bh4-mass-factor 1 --b12-mass-factor 5 --equil-steps 50000 --prod-steps 1000000 -o runs/T400

``--model`` takes an exported model file (referenced by absolute path, or copied with
``--copy-model``) or a matgl checkpoint folder (exported into the run directory). Run it with
``cd RUN_DIR && sbatch job.slurm`` (or ``MPIRUN= bash job.slurm``); resubmitting resumes from the
latest restart file.
"""

from __future__ import annotations

from pydriver.deck.settings import COUPLINGS, JobSettings, MDSettings

MD = MDSettings()
JOB = JobSettings()


def _add_md_arguments(parser) -> None:
    md = parser.add_argument_group("molecular dynamics")
    md.add_argument("--temp", type=float, default=MD.temperature_K, metavar="K", help=f"temperature in K (default {MD.temperature_K})")
    md.add_argument("--pressure", type=float, default=MD.pressure_bar, metavar="BAR", help=f"pressure in bar (default {MD.pressure_bar})")
    md.add_argument("--dt", type=float, default=MD.dt_ps, metavar="PS", help=f"time step in ps (default {MD.dt_ps})")
    md.add_argument("--equil-steps", type=int, default=MD.equil_steps, help=f"default {MD.equil_steps}")
    md.add_argument("--prod-steps", type=int, default=MD.prod_steps, help=f"default {MD.prod_steps}")
    md.add_argument("--dump-every", type=int, default=MD.dump_every, help=f"production dump stride in steps (default {MD.dump_every})")
    md.add_argument("--dump-velocities", action="store_true", help="also dump vx vy vz")
    md.add_argument("--thermo-every", type=int, default=MD.thermo_every, help=f"default {MD.thermo_every}")
    md.add_argument("--restart-every", type=int, default=MD.restart_every, help=f"default {MD.restart_every}")
    md.add_argument("--seed", type=int, default=MD.seed, help=f"velocity seed (default {MD.seed})")
    md.add_argument("--tdamp", type=float, default=MD.tdamp_ps, metavar="PS", help=f"thermostat damping in ps (default {MD.tdamp_ps})")
    md.add_argument("--pdamp", type=float, default=MD.pdamp_ps, metavar="PS", help=f"barostat damping in ps (default {MD.pdamp_ps})")
    md.add_argument("--couple", choices=COUPLINGS, default=MD.couple, help="barostat coupling (auto: tri for triclinic boxes, else aniso)")
    md.add_argument("--bh4-mass-factor", type=float, default=1.0, help="mass factor for all atoms of BH4 anions")
    md.add_argument("--b12-mass-factor", type=float, default=1.0, help="mass factor for all atoms of B12H12 anions")
    md.add_argument("--device", choices=("cpu", "cuda"), help="pair_style m3gnet device (default: cuda if --gpus > 0)")
    md.add_argument("--plugin", metavar="PATH", help="emit `plugin load PATH` (HPC builds without auto-loading)")


def _add_job_arguments(parser) -> None:
    job = parser.add_argument_group("SLURM job")
    job.add_argument("--job-name", default=JOB.job_name)
    job.add_argument("--nodes", type=int, default=JOB.nodes)
    job.add_argument("--ranks", type=int, default=JOB.ranks_per_node, help="MPI ranks per node")
    job.add_argument("--cpus-per-task", type=int, default=JOB.cpus_per_task)
    job.add_argument("--gpus", type=int, default=JOB.gpus_per_node, help="GPUs per node")
    job.add_argument("--time", default=JOB.time, help=f"wall time (default {JOB.time})")
    job.add_argument("--partition")
    job.add_argument("--account")
    job.add_argument("--module", action="append", default=[], dest="modules", help="module to load (repeatable)")
    job.add_argument("--launcher", default=JOB.launcher, help="MPI launcher (default srun; '' for none)")
    job.add_argument("--lmp", default=JOB.lmp, help="LAMMPS executable (default lmp)")


class CLICommand:
    """Write a LAMMPS run directory (data.lmp, in.lammps, job.slurm, run.json) for NPT MD."""

    @staticmethod
    def add_arguments(parser) -> None:
        """Add this command's options to ``parser``."""
        parser.add_argument("structure", help="CIF, POSCAR or extxyz unit cell")
        parser.add_argument("--model", required=True, help="exported model .pt file or matgl checkpoint folder")
        parser.add_argument("--copy-model", action="store_true", help="copy the model file into the run directory")
        parser.add_argument("--model-dtype", choices=("float32", "float64"), default="float64",
                            help="precision when exporting a checkpoint folder (default float64)")
        parser.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run directory to write")
        parser.add_argument("--supercell", nargs=3, type=int, metavar=("N1", "N2", "N3"),
                            help="replication (default: smallest with every width > --min-width)")
        parser.add_argument("--min-width", type=float, default=10.0, metavar="A", help="minimum supercell width in A")
        _add_md_arguments(parser)
        _add_job_arguments(parser)

    @staticmethod
    def run(args) -> int:
        """Run the command; returns the exit code."""
        from pydriver.deck.writer import write_run_directory  # noqa: PLC0415

        device = args.device or ("cuda" if args.gpus > 0 else None)
        md = MDSettings(
            temperature_K=args.temp, pressure_bar=args.pressure, dt_ps=args.dt, equil_steps=args.equil_steps,
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
        out = write_run_directory(args.structure, args.model, args.output, md=md, job=job,
                                  replication=args.supercell, min_width_A=args.min_width,
                                  copy_model=args.copy_model, model_dtype=args.model_dtype)
        print(f"wrote {out}/ (data.lmp, in.lammps, job.slurm, run.json); run: cd {out} && sbatch job.slurm")
        return 0
