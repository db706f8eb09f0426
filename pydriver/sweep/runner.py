"""Plan, prepare and run a sweep; analyse finished runs; build the report.

``run_sweep`` is the entry point of ``python -m pydriver sweep run``. It is idempotent: run it
again after any interruption (Ctrl-C, ``kill -9``, a node crash, a SLURM time-out) and it keeps
finished runs, waits for runs still alive, resumes interrupted runs from their latest restart
file and starts the rest.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from pydriver import __version__
from pydriver.deck.model_ref import check_elements
from pydriver.rundir import (MANIFEST_FILE, REPORT_FOLDER, SUPERSEDED_FOLDER, SWEEP_FORMAT,
                             SWEEP_MANIFEST)
from pydriver.structures import read_structure
from pydriver.sweep.adaptive import ChunkPlan
from pydriver.sweep.config import SweepConfig
from pydriver.sweep.executors.local import local_parallel_runs, run_local
from pydriver.sweep.executors.slurm import run_slurm
from pydriver.sweep.estimate import LOCAL_LIMIT_S, estimate_runs
from pydriver.sweep.expand import (changed_parameters, expand, job_settings, md_settings, run_parameters,
                                   upgrade_parameters, write_run)
from pydriver.sweep.lifecycle import SweepRun, current_status
from pydriver.sweep.lock import folder_lock
from pydriver.sweep.log_once import once_per_message
from pydriver.sweep.outputs import analysis_is_valid, deck_model_found, inspect_outputs
from pydriver.sweep.relocate import copy_model_file, manifest_config, model_file_for, portable_path, stage_inputs
from pydriver.sweep.run_state import AdaptiveState, RunState, atomic_write_json, now_iso, read_json

log = logging.getLogger(__name__)

#: run.json keys that must match the config when a run directory already exists
_CHECKED_KEYS = ("temperature_K", "seed", "mass_factors", "equil_steps", "prod_steps", "dump_every", "dt_ps")


def check_structures(config: SweepConfig) -> None:
    """Every structure's elements are in the model (before any run directory is written).

    Raises
    ------
    ValueError
        ``structure S (FILE) has Li; model M has Na, B, H``.
    """
    for structure in config.structures:
        try:
            check_elements(set(read_structure(structure.file).get_chemical_symbols()), config.model.path)
        except ValueError as exc:
            raise ValueError(f"structure {structure.label} ({structure.file}): {exc}") from None


def plan(config: SweepConfig) -> list[SweepRun]:
    """The sweep's runs with their directories under ``config.output`` (nothing is written)."""
    model_file = model_file_for(config)
    runs = []
    for spec in expand(config):
        runs.append(SweepRun(spec, config.output / spec.name, run_parameters(config, spec, model_file)))
    return runs


def export_model_once(config: SweepConfig) -> Path:
    """The sweep's model file in ``OUT/model/`` (:func:`pydriver.sweep.relocate.model_file_for`): a checkpoint
    folder exported once per sweep (atomically; reused when it exists), an exported file elsewhere copied."""
    target = model_file_for(config)
    if copy_model_file(config) is not None or target == config.model.path or target.is_file():
        return target
    from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415  (imports torch)

    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s (%s%s) to %s", config.model.path, config.model.dtype,
             ", compiling: 1-2 min" if config.model.compile else "", target)
    return export_checkpoint(config.model.path, target, dtype=config.model.dtype, compiled=config.model.compile)


def write_manifest(config: SweepConfig, runs: list[SweepRun], model_file: Path) -> Path:
    """Write ``OUT/sweep.json``: the validated config (paths inside the folder relative to it, so ``sweep run
    OUT`` works after a move), the model file the runs use and the run list (read by ``sweep status``)."""
    out = config.output
    path = out / SWEEP_MANIFEST
    atomic_write_json(path, {
        "format": SWEEP_FORMAT, "name": config.name, "pydriver_version": __version__, "written_at": now_iso(),
        **manifest_config(config, model_file),
        "runs": [{**r.spec.as_dict(), "structure_file": portable_path(r.spec.structure_file, out),
                  "run_dir": r.run_dir.name} for r in runs],
    })
    return path


def _check_existing(config: SweepConfig, run: SweepRun, manifest: dict) -> None:
    md = md_settings(config, run.spec)
    expected = {k: getattr(md, k) for k in _CHECKED_KEYS}
    for key, want in expected.items():
        if manifest.get(key) != want:
            raise ValueError(f"run directory {run.run_dir} has {key}={manifest.get(key)!r} but the config "
                             f"gives {want!r}; use another output folder or delete that run directory")


def _describe_changes(changes: list[tuple[str, object, object]]) -> str:
    return ", ".join(f"{key} {old!r} -> {new!r}" for key, old, new in changes)


def _classify(config: SweepConfig, run: SweepRun) -> tuple[str, RunState, list[tuple[str, object, object]]]:
    """What :func:`prepare` does with a run's directory: ``(action, its state, the changed fields)``.

    Actions: ``write`` (no deck yet), ``keep`` (same parameters, or written by an older pydriver
    without a field-by-field record: then checked on the run.json keys of ``_CHECKED_KEYS``, a
    ``ValueError`` naming the first difference), ``refresh`` (same parameters, but the deck names a
    model file that is not there, e.g. an absolute path written before the sweep folder moved:
    rewritten with the same parameters, its outputs kept), ``rewrite`` (changed, never ran:
    rewriting it loses nothing) or ``supersede`` (changed after it ran).

    The parameters hold no paths (files enter by content, :func:`pydriver.sweep.expand.run_parameters`),
    so a sweep folder moved elsewhere compares equal.
    """
    state = RunState.load(run.run_dir)
    manifest = read_json(run.run_dir / MANIFEST_FILE)
    if manifest is None:
        return "write", state, []
    keep = "keep" if deck_model_found(run.run_dir) else "refresh"
    if state.parameters is None:
        _check_existing(config, run, manifest)
        return keep, state, []
    changes = changed_parameters(upgrade_parameters(state.parameters, model_file_for(config)), run.parameters or {})
    if not changes:
        return keep, state, []
    if state.attempts == 0 and inspect_outputs(run.run_dir).last_step is None:
        return "rewrite", state, changes
    return "supersede", state, changes


def _refuse_changes(config: SweepConfig, changed: dict) -> None:
    items = list(changed.items())
    shown = "; ".join(f"{name} ({_describe_changes(changes)})" for name, changes in items[:3])
    more = f"; and {len(items) - 3} more" if len(items) > 3 else ""
    raise ValueError(f"the config changed for {len(items)} run(s) that ran with other parameters: {shown}{more}; "
                     "rerun exactly those with `sweep run CONFIG --rerun-changed` (their old directories are kept in "
                     f"{config.output / SUPERSEDED_FOLDER}), or undo the change, or use another output folder (-o)")


def _supersede(config: SweepConfig, run: SweepRun, state: RunState, changes: list) -> None:
    """Move a changed run's directory to ``OUT/superseded/<name>-<time>/`` (kept, not deleted)."""
    if current_status(state, inspect_outputs(run.run_dir)) in ("running", "queued"):
        raise ValueError(f"{run.name} changed ({_describe_changes(changes)}) but is still {state.status} "
                         f"(pid/job {state.pid or state.job_id}); stop it first, then run --rerun-changed again")
    target = config.output / SUPERSEDED_FOLDER / f"{run.name}-{time.strftime('%Y%m%dT%H%M%S')}"
    target.parent.mkdir(exist_ok=True)
    os.replace(run.run_dir, target)
    log.warning("%s: parameters changed (%s); rerunning it (the old run is kept in %s)", run.name,
                _describe_changes(changes), target)


def _record_structure_name(run: SweepRun) -> None:
    """Write the config's structure label into the run's ``run.json`` as ``structure_name``.

    The replicate structure files of one phase (``replicate_files``) are different files; the
    shared label is what tells the report they are replicates of one condition. Stamped on every
    prepare, so run directories written before this key existed gain it without a rewrite.
    """
    path = run.run_dir / MANIFEST_FILE
    manifest = read_json(path)
    if manifest is not None and manifest.get("structure_name") != run.spec.structure:
        atomic_write_json(path, {**manifest, "structure_name": run.spec.structure})


def prepare(config: SweepConfig, runs: list[SweepRun], model_file: Path, rerun_changed: bool = False) -> None:
    """Write missing or incomplete run directories; compare existing ones with the config field by field.

    A run that has run with other parameters than the config now gives is refused (nothing is
    written), or with ``rerun_changed`` moved to ``OUT/superseded/`` and rerun from the start. A
    deck that never ran is rewritten.

    Raises
    ------
    ValueError
        ``the config changed for 1 run(s) that ran with other parameters: NaBH4_T500_bh4x1_s1
        (md.pressure_bar 1.0 -> 20000.0); rerun exactly those with --rerun-changed ...``.
    """
    checks = {run.name: _classify(config, run) for run in runs}
    changed = {name: changes for name, (action, _state, changes) in checks.items() if action == "supersede"}
    if changed and not rerun_changed:
        _refuse_changes(config, changed)
    for run in runs:
        action, state, changes = checks[run.name]
        if action == "supersede":
            _supersede(config, run, state, changes)
            state = RunState()  # a fresh run in a fresh directory
        elif action == "rewrite":
            log.info("%s: rewriting its deck, which never ran, for the changed config (%s)", run.name,
                     _describe_changes(changes))
        elif action == "refresh":
            log.info("%s: rewriting its deck with the same parameters: the model file it names is not there "
                     "(written before the sweep folder moved?)", run.name)
        if action != "keep":
            run.run_dir.mkdir(parents=True, exist_ok=True)
            write_run(config, run.spec, model_file, run.run_dir)
        _record_structure_name(run)
        state.parameters = run.parameters
        state.save(run.run_dir)
        if config.md.target and AdaptiveState.load(run.run_dir) is None:
            # the stopping rule's analysis uses the sweep's analysis options
            AdaptiveState(chunk_end_step=ChunkPlan.from_manifest(read_json(run.run_dir / MANIFEST_FILE)).first_end,
                          analysis_options=config.analysis.options).save(run.run_dir)


def estimate(config: SweepConfig, runs: list[SweepRun]) -> None:
    """Log the runtime estimate of the runs whose MD is not complete (a timing failure only warns)."""
    todo = [r for r in runs if not inspect_outputs(r.run_dir).complete]
    if not todo:
        return
    if config.executor == "slurm":
        limit_s, limit_name = job_settings(config, todo[0].spec).time_limit_s(), "SLURM time limit"
        parallel = config.slurm.max_concurrent or len(todo)
    else:
        limit_s, limit_name = LOCAL_LIMIT_S, "day a local run may take"
        parallel = local_parallel_runs(config)
    items = [(r.name, r.run_dir, md_settings(config, r.spec).equil_steps + md_settings(config, r.spec).prod_steps)
             for r in todo]
    try:
        estimate_runs(items, limit_s, limit_name, config.model.dtype, config.threads_per_rank, parallel)
    except (RuntimeError, OSError, ValueError, StopIteration) as exc:
        log.warning("no runtime estimate: %s", exc)


def build_sweep_report(config: SweepConfig, runs: list[SweepRun]) -> Path | None:
    """``OUT/report/`` from every analysed run (``None`` if there is none)."""
    analysed = [r.run_dir for r in runs if analysis_is_valid(r.run_dir)]
    if not analysed:
        log.warning("no analysed runs: no report")
        return None
    from pydriver.report.build import build_report  # noqa: PLC0415  (imports matplotlib)

    out = config.output / REPORT_FOLDER
    build_report(analysed, out)
    log.info("report of %d runs: %s", len(analysed), out / "report.md")
    return out


def run_sweep(config: SweepConfig, retry_failed: bool = False, submit: bool = True, wait: bool = True,
              live: bool | None = None, rerun_changed: bool = False) -> dict:
    """Run (or resume) a whole sweep with the configured executor.

    Parameters
    ----------
    config : validated config (:func:`pydriver.sweep.config.load_config`).
    retry_failed : also restart runs that failed before.
    submit, wait : SLURM only: ``submit=False`` writes the job scripts without ``sbatch``;
        ``wait=False`` returns right after submitting.
    live : force the rich progress display on or off (default: on a terminal).
    rerun_changed : rerun (from the start) the runs whose parameters differ from the config's;
        without it such a resume is refused (:func:`prepare`).

    Returns
    -------
    dict
        ``{"counts": {status: n}, "report": path or None, "runs": {name: status}}``.

    Raises
    ------
    pydriver.sweep.lock.FolderInUse
        If another ``sweep run`` works on the same output folder (:mod:`pydriver.sweep.lock`).
    """
    with once_per_message():  # the same structure lines and barostat warning for every run: shown once
        check_structures(config)
        config.output.mkdir(parents=True, exist_ok=True)
        with folder_lock(config.output):
            return _run_locked(config, retry_failed, submit, wait, live, rerun_changed)


def _run_locked(config: SweepConfig, retry_failed: bool, submit: bool, wait: bool, live: bool | None,
                rerun_changed: bool) -> dict:
    model_file = export_model_once(config)
    config = stage_inputs(config)  # runs are written from the copies in OUT/inputs: the folder moves whole
    runs = plan(config)  # after the export: the parameters hold the exported model's sha256
    prepare(config, runs, model_file, rerun_changed)
    write_manifest(config, runs, model_file)
    if config.estimate:
        estimate(config, runs)
    if config.executor == "slurm":
        statuses = run_slurm(config, runs, retry_failed, submit, wait, live)
    else:
        statuses = run_local(config, runs, retry_failed, live)
    report = None
    terminal = ("analyzed", "failed") if config.analysis.enabled else ("done", "analyzed", "failed")
    finished = all(s in terminal for s in statuses.values())
    if config.analysis.enabled and config.analysis.report and finished:
        report = build_sweep_report(config, runs)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return {"counts": counts, "report": str(report) if report else None, "runs": statuses}
