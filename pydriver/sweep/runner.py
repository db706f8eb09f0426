"""Plan, prepare and run a sweep; analyse finished runs; build the report.

``run_sweep`` is the entry point of ``python -m pydriver sweep run``. It is idempotent: run it
again after any interruption (Ctrl-C, ``kill -9``, a node crash, a SLURM time-out) and it keeps
finished runs, waits for runs still alive, resumes interrupted runs from their latest restart
file and starts the rest.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from pydriver.rundir import ANALYSIS_LOG, MANIFEST_FILE, MODEL_FOLDER, REPORT_FOLDER, SWEEP_FORMAT, SWEEP_MANIFEST
from pydriver import __version__
from pydriver.sweep.config import SweepConfig
from pydriver.sweep.expand import RunSpec, expand, parameters_sha256, run_parameters, write_run
from pydriver.sweep.state import (RunState, analysis_is_valid, atomic_write_json, current_status, inspect_outputs,
                                  now_iso, quarantine_bad_restarts, read_json)

log = logging.getLogger(__name__)

#: run.json keys that must match the config when a run directory already exists
_CHECKED_KEYS = ("temperature_K", "seed", "mass_factors", "equil_steps", "prod_steps", "dump_every", "dt_ps")


@dataclass
class SweepRun:
    """One run of the sweep: its spec, directory and parameter hash."""

    spec: RunSpec
    run_dir: Path
    params_sha256: str

    @property
    def name(self) -> str:
        """Run name."""
        return self.spec.name


def model_file_for(config: SweepConfig) -> Path:
    """The exported model all runs use: the given ``.pt`` file, or ``OUT/model/<folder>-<dtype>.pt``."""
    from pydriver.deck.model_ref import is_checkpoint_dir  # noqa: PLC0415

    path = config.model.path
    if is_checkpoint_dir(path):
        return config.output / MODEL_FOLDER / f"{path.name}-{config.model.dtype}.pt"
    return path


def plan(config: SweepConfig) -> list[SweepRun]:
    """The sweep's runs with their directories under ``config.output`` (nothing is written)."""
    model_file = model_file_for(config)
    return [SweepRun(spec, config.output / spec.name, parameters_sha256(run_parameters(config, spec, model_file)))
            for spec in expand(config)]


def export_model_once(config: SweepConfig) -> Path:
    """Export a checkpoint folder once per sweep (atomically; reused when it exists)."""
    target = model_file_for(config)
    if target == config.model.path or target.is_file():
        return target
    from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415  (imports torch)

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    log.info("exporting %s (%s) to %s", config.model.path, config.model.dtype, target)
    export_checkpoint(config.model.path, tmp, dtype=config.model.dtype)
    os.replace(tmp, target)
    return target


def write_manifest(config: SweepConfig, runs: list[SweepRun]) -> Path:
    """Write ``OUT/sweep.json``: the validated config and the run list (read by ``sweep status``)."""
    path = config.output / SWEEP_MANIFEST
    atomic_write_json(path, {
        "format": SWEEP_FORMAT, "name": config.name, "pydriver_version": __version__, "written_at": now_iso(),
        "config": config.model_dump(mode="json"),
        "runs": [{**r.spec.as_dict(), "run_dir": r.run_dir.name, "params_sha256": r.params_sha256} for r in runs],
    })
    return path


def _check_existing(config: SweepConfig, run: SweepRun, manifest: dict) -> None:
    expected = {"temperature_K": run.spec.temperature_K, "seed": run.spec.seed,
                "mass_factors": run.spec.mass_factors}
    expected.update({k: getattr(config.md, k) for k in _CHECKED_KEYS if k not in expected})
    for key, want in expected.items():
        if manifest.get(key) != want:
            raise ValueError(f"run directory {run.run_dir} has {key}={manifest.get(key)!r} but the config "
                             f"gives {want!r}; use another output folder or delete that run directory")


def prepare(config: SweepConfig, runs: list[SweepRun], model_file: Path) -> None:
    """Write missing or incomplete run directories; refuse ones written with different parameters.

    Raises
    ------
    ValueError
        If an existing run directory was written for other parameters.
    """
    for run in runs:
        state = RunState.load(run.run_dir)
        manifest = read_json(run.run_dir / MANIFEST_FILE)
        if manifest is not None:
            _check_existing(config, run, manifest)
            if state.params_sha256 not in (None, run.params_sha256):
                log.warning("%s: parameters changed since the deck was written (model or structure path?)", run.name)
        else:
            run.run_dir.mkdir(parents=True, exist_ok=True)
            write_run(config, run.spec, model_file, run.run_dir)
        if state.params_sha256 is None:
            state.params_sha256 = run.params_sha256
            state.save(run.run_dir)


def classify(run: SweepRun, state: RunState) -> str:
    """Current status of a run (SLURM jobs keep their recorded status; see the slurm executor)."""
    return current_status(state, inspect_outputs(run.run_dir))


def mark(run: SweepRun, state: RunState, status: str, exit_code: int | None = None, message: str = "") -> None:
    """Record the end of an attempt (``done``, ``failed``, ``interrupted``) or a status change."""
    if status in ("done", "failed", "interrupted") and state.status in ("running", "queued"):
        state.finish(status, exit_code, message)
    else:
        state.status, state.message = status, message or state.message
    state.save(run.run_dir)


def begin_attempt(run: SweepRun, state: RunState, executor: str) -> int:
    """Prepare a (re)start: move truncated restart files aside, count the attempt; returns the start step."""
    quarantine_bad_restarts(run.run_dir)
    outputs = inspect_outputs(run.run_dir)
    state.attempts += 1
    state.executor, state.status, state.started_at, state.finished_at = executor, "running", now_iso(), None
    state.start_step, state.exit_code, state.message, state.job_id = outputs.latest_restart or 0, None, "", None
    return state.start_step


def end_of_md(run: SweepRun, state: RunState, exit_code: int | None, max_attempts: int, note: str = "") -> str:
    """Judge an ended MD attempt from its outputs; returns ``done``, ``interrupted`` (retry) or ``failed``.

    ``exit_code`` ``None`` (or a signal) means the job was killed; ``note`` prefixes the message.
    """
    prefix = f"{note}: " if note else ""
    quarantine_bad_restarts(run.run_dir)
    outputs = inspect_outputs(run.run_dir)
    if outputs.complete:
        mark(run, state, "done", exit_code)
        return "done"
    killed = exit_code is None or exit_code < 0 or exit_code > 128
    if killed and state.attempts < max_attempts:
        mark(run, state, "interrupted", exit_code, f"{prefix}stopped at step {outputs.last_step}: {outputs.problem}")
        return "interrupted"
    where = f"{run.name}/sweep_run.log" if state.executor == "local" else f"the SLURM output of job {state.job_id}"
    message = f"{prefix}exit code {exit_code}: {outputs.problem}; see {where}"
    mark(run, state, "failed", exit_code, message)
    log.error("%s failed: %s", run.name, message)
    return "failed"


def analysis_args(config: SweepConfig) -> list[str]:
    """Options for ``python -m pydriver analyze`` from the config's ``analysis`` section."""
    a = config.analysis
    args = ["--blocks", str(a.n_blocks)]
    if a.fit_start_ps is not None:
        args += ["--fit-start", str(a.fit_start_ps)]
    if a.fit_end_ps is not None:
        args += ["--fit-end", str(a.fit_end_ps)]
    if not a.plots:
        args.append("--no-plots")
    return args + list(a.extra_args)


def end_of_analysis(run: SweepRun, state: RunState, exit_code: int) -> bool:
    """Record an analysis result; True if ``analysis.json`` is valid."""
    ok = exit_code == 0 and analysis_is_valid(run.run_dir)
    if ok:
        mark(run, state, "analyzed")
    else:
        mark(run, state, "done", message=f"analysis failed (exit code {exit_code}); see {run.name}/{ANALYSIS_LOG}")
        log.error("%s: analysis failed (exit code %s); see %s", run.name, exit_code, run.run_dir / ANALYSIS_LOG)
    return ok


def build_sweep_report(config: SweepConfig, runs: list[SweepRun]) -> Path | None:
    """``OUT/report/`` from every analysed run (``None`` if there is none)."""
    analysed = [r.run_dir for r in runs if analysis_is_valid(r.run_dir)]
    if not analysed:
        log.warning("no analysed runs: no report")
        return None
    from pydriver.report.build import build_report  # noqa: PLC0415

    out = config.output / REPORT_FOLDER
    build_report(analysed, out)
    log.info("report of %d runs: %s", len(analysed), out / "report.md")
    return out


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


def run_sweep(config: SweepConfig, retry_failed: bool = False, submit: bool = True, wait: bool = True,
              live: bool | None = None) -> dict:
    """Run (or resume) a whole sweep with the configured executor.

    Parameters
    ----------
    config : validated config (:func:`pydriver.sweep.config.load_config`).
    retry_failed : also restart runs that failed before.
    submit, wait : SLURM only: ``submit=False`` writes the job scripts without ``sbatch``;
        ``wait=False`` returns right after submitting.
    live : force the rich progress display on or off (default: on a terminal).

    Returns
    -------
    dict
        ``{"counts": {status: n}, "report": path or None, "runs": {name: status}}``.
    """
    runs = plan(config)
    config.output.mkdir(parents=True, exist_ok=True)
    model_file = export_model_once(config)
    prepare(config, runs, model_file)
    write_manifest(config, runs)
    if config.executor == "slurm":
        from pydriver.sweep.executors.slurm import run_slurm  # noqa: PLC0415

        statuses = run_slurm(config, runs, retry_failed, submit, wait, live)
    else:
        from pydriver.sweep.schedule import run_local  # noqa: PLC0415

        statuses = run_local(config, runs, retry_failed, live)
    report = None
    terminal = ("analyzed", "failed") if config.analysis.enabled else ("done", "analyzed", "failed")
    finished = all(s in terminal for s in statuses.values())
    if config.analysis.enabled and config.analysis.report and finished:
        report = build_sweep_report(config, runs)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    log.info("sweep %s: %s", config.name, json.dumps(counts))
    return {"counts": counts, "report": str(report) if report else None, "runs": statuses}
