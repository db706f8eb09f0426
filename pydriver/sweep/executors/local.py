"""The local executor's loop: start MD jobs and analyses within the budget, watch them, resume or retry.

Runs the sweep to the end in this process. SIGTERM/SIGINT stop every job (LAMMPS keeps its restart
files) and mark the runs ``interrupted``; the next ``sweep run`` resumes them.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from pydriver.sweep.config import SweepConfig
from pydriver.sweep.executors.local_jobs import LocalExecutor, LocalJob, md_environment
from pydriver.sweep.lifecycle import (Stop, SweepRun, begin_attempt, classify, end_of_analysis, end_of_md, final_step,
                                      install_stop_handlers, mark, preflight, restore_handlers, wants_start)
from pydriver.sweep.progress import ProgressBoard
from pydriver.sweep.run_state import RunState
from pydriver.sweep.worker import worker_command

log = logging.getLogger(__name__)


@dataclass
class _Queues:
    md: list[SweepRun] = field(default_factory=list)
    analysis: list[SweepRun] = field(default_factory=list)
    adopted: list[tuple[SweepRun, RunState]] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)


def _initial_queues(config: SweepConfig, runs: list[SweepRun], retry_failed: bool) -> _Queues:
    q = _Queues()
    for run in runs:
        state = RunState.load(run.run_dir)
        status = classify(run, state)
        if status in ("done", "analyzed") and state.status not in ("done", "analyzed"):
            mark(run, state, "done", state.exit_code)  # finished while no sweep was watching
        if status == "running":
            q.adopted.append((run, state))
        elif wants_start(run, state, status, retry_failed):
            q.md.append(run)
        elif status == "done" and config.analysis.enabled:
            q.analysis.append(run)
        q.statuses[run.name] = status
    log.info("sweep %s: %d runs: %d to run, %d running, %d to analyse, %d finished", config.name, len(runs),
             len(q.md), len(q.adopted), len(q.analysis),
             sum(s in ("analyzed", "failed") or (s == "done" and not config.analysis.enabled)
                 for s in q.statuses.values()))
    return q


def local_parallel_runs(config: SweepConfig) -> int:
    """How many MD runs the local executor runs at once for this config (CPU and GPU budget)."""
    return _resources(config)[3]


def _resources(config: SweepConfig) -> tuple[int, int, int, int]:
    """(cpus per run, gpus per run, cpu budget, max parallel MD jobs)."""
    cpus_per_run = config.mpi_ranks * config.threads_per_rank
    gpus_per_run = min(config.mpi_ranks, config.local.gpus) if config.model.device == "cuda" else 0
    budget = config.local.cpus or os.cpu_count() or 1
    if config.model.device == "cuda" and config.local.gpus == 0:
        raise ValueError("model.device is 'cuda' but local.gpus is 0; set local.gpus to the GPUs to use")
    max_parallel = config.local.max_parallel or max(1, budget // cpus_per_run)
    if gpus_per_run:
        max_parallel = min(max_parallel, config.local.gpus // gpus_per_run)
    return cpus_per_run, gpus_per_run, budget, max_parallel


def _handle_ended(config: SweepConfig, job: LocalJob, rc: int, by_name: dict, q: _Queues,
                  board: ProgressBoard) -> None:
    run = by_name[job.name]
    state = RunState.load(run.run_dir)
    if job.kind == "analysis":
        q.statuses[run.name] = "analyzed" if end_of_analysis(run, state, rc) else "failed"
        return
    result = end_of_md(run, state, rc, config.max_attempts)
    board.finish(run.name, result in ("done", "analyzed"))
    log.info("%s: MD %s (exit code %s)", run.name, result, rc)
    if result == "done" and config.analysis.enabled:
        q.analysis.append(run)
    elif result == "interrupted":
        q.md.append(run)
    q.statuses[run.name] = result


def _start_jobs(config: SweepConfig, ex: LocalExecutor, q: _Queues, board: ProgressBoard, need: tuple) -> None:
    cpus_per_run, gpus_per_run = need
    options = config.analysis.analysis_options()
    while q.analysis and ex.can_start(1, 0, "analysis"):
        run = q.analysis.pop(0)
        ex.start_analysis(run.name, run.run_dir, worker_command(run.run_dir, options))
        log.info("%s: analysing", run.name)
    while q.md and ex.can_start(cpus_per_run, gpus_per_run, "md"):
        run = q.md.pop(0)
        state = RunState.load(run.run_dir)
        if not preflight(run, state):
            q.statuses[run.name] = "failed"
            continue
        start_step = begin_attempt(state, "local")
        ex.start_md(run.name, run.run_dir, cpus_per_run, gpus_per_run, state)
        state.save(run.run_dir)
        q.statuses[run.name] = "running"
        board.start(run.name, *final_step(run))
        log.info("%s: MD started (attempt %d, from step %d)", run.name, state.attempts, start_step)


def _stop(ex: LocalExecutor, by_name: dict, reason: str) -> None:
    for job in ex.stop_all():
        if job.kind == "md":
            run = by_name[job.name]
            state = RunState.load(run.run_dir)
            state.finish("interrupted", None, f"stopped by {reason}")
            state.save(run.run_dir)
    log.warning("sweep stopped by %s; run `sweep run` again to resume", reason)


def run_local(config: SweepConfig, runs: list[SweepRun], retry_failed: bool = False,
              live: bool | None = None) -> dict[str, str]:
    """Run every unfinished run of the sweep here; returns {run name: final status}.

    Raises
    ------
    Stop
        On SIGTERM/SIGINT, after stopping the jobs (they resume on the next call).
    """
    q = _initial_queues(config, runs, retry_failed)
    by_name = {r.name: r for r in runs}
    if not (q.md or q.adopted or q.analysis):
        return q.statuses
    cpus_per_run, gpus_per_run, budget, max_parallel = _resources(config)
    md_env = md_environment(config.mpi_ranks, config.threads_per_rank, config.model.plugin_path) if (
        q.md or q.adopted) else {}
    ex = LocalExecutor(budget, config.local.gpus, max_parallel, md_env)
    finished = sum(s in ("done", "analyzed") for s in q.statuses.values())
    previous = install_stop_handlers()
    try:
        with ProgressBoard(len(runs), finished, live) as board:
            for run, state in q.adopted:
                ex.adopt_md(run.name, run.run_dir, cpus_per_run, state)
                board.start(run.name, *final_step(run))
                log.info("%s: MD still running (pid %s) from an earlier sweep; watching it", run.name, state.pid)
            while q.md or q.analysis or ex.jobs:
                for job, rc in ex.reap():
                    _handle_ended(config, job, rc, by_name, q, board)
                _start_jobs(config, ex, q, board, (cpus_per_run, gpus_per_run))
                board.refresh({name: by_name[name].run_dir for name in board.runs})
                if ex.jobs:
                    time.sleep(config.local.poll_s)
    except (Stop, KeyboardInterrupt) as exc:
        _stop(ex, by_name, str(exc) or "KeyboardInterrupt")
        raise Stop(str(exc)) from None
    finally:
        restore_handlers(previous)
    return q.statuses
