"""Temperature x anion-mass sweeps: expand a config into run directories, run them, resume, report.

Examples::

    python -m pydriver sweep run examples/sweep/tiny.yaml --dry-run
    python -m pydriver sweep run examples/sweep/tiny.yaml        # runs, analyses, reports; rerun to resume
    python -m pydriver sweep status examples/sweep/tiny.yaml    # or the folder: examples/sweep/sweep-tiny
    python -m pydriver report examples/sweep/sweep-tiny -o my-report

The config (YAML or TOML) lists structures, temperatures, mass factors, MD lengths, the model and
the executor (local or slurm); see docs/sweep.md. The output folder is relative to the config
file, so these commands find the same sweep from any working directory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _add_run_arguments(parser) -> None:
    parser.add_argument("config", metavar="CONFIG_OR_DIR", help="sweep config file (.yaml, .yml or .toml), or a sweep "
                        "folder (or its sweep.json): runs it with the config it records, wherever it has moved")
    parser.add_argument("-o", "--output", metavar="DIR", help="output folder (default: the config's `output`, "
                        "else sweep-<config name> beside the config file)")
    parser.add_argument("--dry-run", action="store_true", help="list the runs and their folders; write nothing")
    parser.add_argument("--executor", choices=("local", "slurm"), help="override the config's executor")
    parser.add_argument("--retry-failed", action="store_true", help="also restart runs that failed before")
    parser.add_argument("--rerun-changed", action="store_true",
                        help="rerun from the start the runs that ran with other parameters than the config now "
                             "gives (without it such a resume is refused; old directories go to OUT/superseded/)")
    parser.add_argument("--no-submit", action="store_true", help="slurm: write job scripts, do not call sbatch")
    parser.add_argument("--no-wait", action="store_true", help="slurm: return after submitting")
    parser.add_argument("--no-progress", action="store_true", help="no live progress display")


def _dry_run(config) -> int:
    from pydriver.rundir import MANIFEST_FILE  # noqa: PLC0415  (imports here keep --help fast)
    from pydriver.sweep.runner import plan  # noqa: PLC0415
    from pydriver.sweep.status_table import run_row  # noqa: PLC0415

    runs = plan(config)
    print(f"# sweep {config.name}: {len(runs)} runs in {config.output} (executor {config.executor})")
    for run in runs:
        status = run_row(run.run_dir)["status"] if (run.run_dir / MANIFEST_FILE).exists() else "new"
        factors = " ".join(f"{k}x{v:g}" for k, v in run.spec.mass_factors.items())
        print(f"{run.name}\tT={run.spec.temperature_K:g} K\t{factors}\tseed={run.spec.seed}\t{status}")
    return 0


def _run(args) -> int:
    from pydriver.sweep.lifecycle import Stop  # noqa: PLC0415
    from pydriver.sweep.relocate import load_sweep  # noqa: PLC0415
    from pydriver.sweep.runner import run_sweep  # noqa: PLC0415

    config = load_sweep(args.config)
    updates = {}
    if args.output:
        updates["output"] = Path(args.output).resolve()
    if args.executor:
        updates["executor"] = args.executor
    config = config.model_copy(update=updates)
    if args.dry_run:
        return _dry_run(config)
    try:
        result = run_sweep(config, retry_failed=args.retry_failed, submit=not args.no_submit,
                           wait=not args.no_wait, live=False if args.no_progress else None,
                           rerun_changed=args.rerun_changed)
    except Stop as exc:
        log.warning("stopped (%s); rerun the same command to resume", exc)
        return 130
    counts = ", ".join(f"{n} {s}" for s, n in result["counts"].items())
    print(f"sweep {config.name}: {counts}" + (f"; report: {result['report']}/report.md" if result["report"] else ""))
    return 1 if result["counts"].get("failed") else 0


def _adaptive_cells(info: dict | None, format_duration) -> list[str]:
    """``D +- err`` and the projected remaining production of an adaptive run (``-`` otherwise)."""
    if not info:
        return ["-", "-"]
    d, std = info["diffusivity_cm2_s"], info["diffusivity_std_cm2_s"]
    d_text = f"{d:.2e} +- {std:.1e}" if d is not None else "-"
    if info["status"] != "running":
        return [d_text, info["status"]]
    left = f"{info['remaining_steps']} steps"
    if info["remaining_s"] is not None:
        left += f" (~{format_duration(info['remaining_s'])})"
    return [d_text, left]


def _status(args) -> int:
    from pydriver.sweep.progress import format_duration  # noqa: PLC0415
    from pydriver.sweep.relocate import sweep_folder_of  # noqa: PLC0415
    from pydriver.sweep.status_table import sweep_status  # noqa: PLC0415

    status = sweep_status(sweep_folder_of(args.dir))
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"sweep {status['name']}: " + ", ".join(f"{n} {s}" for s, n in status["counts"].items()))
    adaptive = any(row["adaptive"] for row in status["runs"])
    columns = ["run", "status", "step", "attempts", "started", "elapsed", "job"]
    for column in columns + (["D (cm^2/s)", "left (projected)"] if adaptive else []) + ["note"]:
        table.add_column(column)
    for row in status["runs"]:
        step = f"{row['step'] or 0}/{row['final_step']}" if row["final_step"] else "-"
        cells = [row["name"], row["status"], step, str(row["attempts"]), (row["started_at"] or "-")[:19],
                 format_duration(row["elapsed_s"]) if row["elapsed_s"] is not None else "-", str(row["job"] or "-")]
        if adaptive:
            cells += _adaptive_cells(row["adaptive"], format_duration)
        table.add_row(*cells, row["message"][:200])
    Console(width=200).print(table)
    return 0


class CLICommand:
    """Run temperature x mass-factor sweeps (local or SLURM), resumable, with a final report.

    sweep run CONFIG [--dry-run]: expand the config into run directories, run them (resuming
    interrupted ones), analyse each and build OUT/report/. sweep status DIR: done/running/failed/
    pending per run, with times. See docs/sweep.md.
    """

    @staticmethod
    def add_arguments(parser) -> None:
        """Register ``sweep run`` and ``sweep status``."""
        sub = parser.add_subparsers(dest="sweep_command", metavar="ACTION", required=True)
        _add_run_arguments(sub.add_parser("run", help="run or resume a sweep (or --dry-run to list it)"))
        status = sub.add_parser("status", help="show done/running/failed/pending runs of a sweep folder")
        status.add_argument("dir", metavar="DIR_OR_CONFIG", help="sweep output folder (holds sweep.json), its "
                            "sweep.json or the sweep's config file (only its name/output are read)")
        status.add_argument("--json", action="store_true", help="print JSON instead of a table")

    @staticmethod
    def run(args) -> int:
        """Dispatch to ``run`` or ``status``; returns the exit code."""
        return _run(args) if args.sweep_command == "run" else _status(args)
