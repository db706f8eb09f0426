"""The life of one sweep run: its status, attempts, retries and stop handling.

Status flow: ``pending`` -> ``running``/``queued`` -> ``done`` (MD complete) -> ``analyzed``,
with ``interrupted`` (killed or timed out: restarted from the latest restart file up to
``max_attempts`` starts) and ``failed`` (restarted only with ``retry_failed``). Both executors
(:mod:`pydriver.sweep.executors.local`, :mod:`pydriver.sweep.executors.slurm`) use these
functions, so the rules are written once.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from pydriver.rundir import ANALYSIS_LOG, MANIFEST_FILE, RUN_LOG, SLURM_FOLDER
from pydriver.sweep.expand import RunSpec
from pydriver.sweep.outputs import (Outputs, analysis_is_valid, failure_cause, inspect_outputs, is_adaptive,
                                   quarantine_bad_restarts)
from pydriver.sweep.disk import NotEnoughDiskSpace, check_free_space
from pydriver.sweep.run_state import RunState, now_iso, process_alive, read_json

log = logging.getLogger(__name__)

#: statuses after which a run needs nothing more (``done`` too when the analysis is off)
FINISHED = ("analyzed", "failed")


@dataclass
class SweepRun:
    """One run of the sweep: its spec, directory and parameters (:func:`pydriver.sweep.expand.run_parameters`)."""

    spec: RunSpec | None
    run_dir: Path
    parameters: dict | None = None

    @property
    def name(self) -> str:
        """Run name (the run directory's name)."""
        return self.spec.name if self.spec is not None else self.run_dir.name


def current_status(state: RunState, outputs: Outputs, queue=None) -> str:
    """Status of a run from its outputs and state file.

    Parameters
    ----------
    state, outputs : from :meth:`RunState.load` and :func:`pydriver.sweep.outputs.inspect_outputs`.
    queue : SLURM queue (:class:`pydriver.sweep.executors.slurm_queue.Queue`); ``None`` keeps a
        SLURM run's recorded ``queued``/``running`` status unchecked.

    Returns
    -------
    str
        ``analyzed``, ``done``, ``running``, ``queued``, ``interrupted``, ``failed`` or ``pending``.
    """
    if outputs.complete:
        return "analyzed" if outputs.analyzed else "done"
    if state.status == "running" and state.executor == "local":
        return "running" if process_alive(state) else "interrupted"
    if state.status in ("queued", "running") and state.executor == "slurm":
        if queue is None:
            return state.status
        slurm_state = queue.get(state.job_id or "")
        if slurm_state is None:
            return "interrupted"
        return "queued" if slurm_state == "PENDING" else "running"
    if state.status == "failed":
        return "failed"
    if outputs.latest_restart is not None or state.status == "interrupted":
        return "interrupted"
    return "pending"


def classify(run: SweepRun, state: RunState) -> str:
    """Current status of a run (SLURM jobs keep their recorded status; see the slurm executor)."""
    return current_status(state, inspect_outputs(run.run_dir))


def final_step(run: SweepRun) -> tuple[int, bool]:
    """(the step the run's MD may reach, whether that is only an upper bound).

    Adaptive runs: their cap (equilibration + the longest production), an upper bound, so that
    progress percentages and ETAs do not jump back at each new chunk (they did: 99 % then 88 %).
    """
    manifest = read_json(run.run_dir / MANIFEST_FILE)
    if is_adaptive(manifest):
        return int(manifest["equil_steps"]) + int(manifest["prod_steps"]), True
    return inspect_outputs(run.run_dir).final_step or 0, False


def mark(run: SweepRun, state: RunState, status: str, exit_code: int | None = None, message: str = "") -> None:
    """Record the end of an attempt (``done``, ``failed``, ``interrupted``) or a status change."""
    if status in ("done", "failed", "interrupted") and state.status in ("running", "queued"):
        state.finish(status, exit_code, message)
    else:
        state.status, state.message = status, message or state.message
    state.save(run.run_dir)


def wants_start(run: SweepRun, state: RunState, status: str, retry_failed: bool) -> bool:
    """True if the run's MD should be (re)started; a failed run retried gets a fresh attempt count."""
    if status in ("pending", "interrupted"):
        return True
    if status == "failed" and retry_failed:
        state.attempts = 0
        mark(run, state, "interrupted", message="retrying a failed run")
        return True
    return False


def preflight(run: SweepRun, state: RunState) -> bool:
    """Check that an MD (re)start can begin: truncated restart files moved aside, enough free disk space
    for the steps up to the final step (an adaptive run's current chunk end;
    :func:`pydriver.sweep.disk.check_free_space`). On success the step the start resumes from (the
    newest whole restart file's, 0 without one) is recorded in ``state.start_step`` for
    :func:`begin_attempt`. On failure the run is marked ``failed`` with one line (``not started: ...``)
    and False returned; the sweep goes on with the other runs.
    """
    try:
        quarantine_bad_restarts(run.run_dir)
        outputs = inspect_outputs(run.run_dir)
        if outputs.final_step is not None:
            check_free_space(run.run_dir, outputs.latest_restart or 0, outputs.final_step)
    except OSError as exc:
        if isinstance(exc, NotEnoughDiskSpace):
            message = f"not started: {exc}; free space, then `sweep run --retry-failed`"
        else:
            message = (f"not started: preparing the restart failed: {exc.strerror or exc}"
                       f"{f' ({exc.filename})' if exc.filename else ''}; fix that, then `sweep run --retry-failed`")
        mark(run, state, "failed", message=message)
        log.error("%s: %s", run.name, message)
        return False
    state.start_step = outputs.latest_restart or 0
    return True


def begin_attempt(state: RunState, executor: str) -> int:
    """Count an attempt that :func:`preflight` cleared on this same ``state``; returns its start step."""
    state.attempts += 1
    state.executor, state.status, state.started_at, state.finished_at = executor, "running", now_iso(), None
    state.exit_code, state.message, state.job_id = None, "", None
    return state.start_step


def end_of_md(run: SweepRun, state: RunState, exit_code: int | None, max_attempts: int, note: str = "") -> str:
    """Judge an ended MD attempt from its outputs; returns ``done``, ``analyzed`` (an adaptive run's last
    check analysed it already), ``interrupted`` (retry) or ``failed``.

    ``exit_code`` ``None`` (or a signal) means the job was killed; ``note`` prefixes the message.
    """
    prefix = f"{note}: " if note else ""
    quarantine_bad_restarts(run.run_dir)
    outputs = inspect_outputs(run.run_dir)
    if outputs.complete:
        mark(run, state, "done", exit_code)
        if outputs.analyzed:
            mark(run, state, "analyzed")
            return "analyzed"
        return "done"
    killed = exit_code is None or exit_code < 0 or exit_code > 128
    if killed and state.attempts < max_attempts:
        mark(run, state, "interrupted", exit_code, f"{prefix}stopped at step {outputs.last_step}: {outputs.problem}")
        return "interrupted"
    if state.executor == "local":
        where, job_logs = f"{run.name}/{RUN_LOG}", ()
    else:
        where, job_logs = f"the SLURM output of job {state.job_id}", slurm_outputs(run, state.job_id)
    cause = failure_cause(run.run_dir, job_logs)
    message = f"{prefix}exit code {exit_code}: {f'{cause}; ' if cause else ''}{outputs.problem}; see {where}"
    mark(run, state, "failed", exit_code, message)
    log.error("%s failed: %s", run.name, message)
    return "failed"


def slurm_outputs(run: SweepRun, job_id: str | None) -> tuple[Path, ...]:
    """The SLURM output files a job of this run may have written: ``RUN_DIR/slurm-<id>.out`` (one job per run)
    or ``OUT/slurm/<array id>_<task>.out`` (a job array task)."""
    if not job_id:
        return ()
    return (run.run_dir / f"slurm-{job_id}.out", run.run_dir.parent / SLURM_FOLDER / f"{job_id}.out")


def end_of_analysis(run: SweepRun, state: RunState, exit_code: int) -> bool:
    """Record an analysis result; True if ``analysis.json`` is valid."""
    ok = exit_code == 0 and analysis_is_valid(run.run_dir)
    if ok:
        mark(run, state, "analyzed")
    else:
        mark(run, state, "done", message=f"analysis failed (exit code {exit_code}); see {run.name}/{ANALYSIS_LOG}")
        log.error("%s: analysis failed (exit code %s); see %s", run.name, exit_code, run.run_dir / ANALYSIS_LOG)
    return ok


class Stop(Exception):
    """SIGTERM/SIGINT received: stop the sweep's jobs and leave them resumable."""


def _raise_stop(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def install_stop_handlers() -> dict:
    """Turn SIGTERM and SIGINT into :class:`Stop`; returns the previous handlers."""
    return {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGINT)}


def restore_handlers(previous: dict) -> None:
    """Undo :func:`install_stop_handlers`."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)
