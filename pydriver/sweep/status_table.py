"""The status table of a sweep folder (read-only): one row per run from ``sweep.json``, state files and outputs."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from pydriver.rundir import MANIFEST_FILE, SWEEP_MANIFEST
from pydriver.sweep.adaptive import projection, seconds_per_step
from pydriver.sweep.executors.slurm_queue import queue_states, sbatch_available
from pydriver.sweep.lifecycle import current_status
from pydriver.sweep.outputs import inspect_outputs, is_adaptive
from pydriver.sweep.run_state import AdaptiveState, RunState, read_json

log = logging.getLogger(__name__)

#: order of statuses in summaries
STATUS_ORDER = ("analyzed", "done", "running", "queued", "interrupted", "pending", "failed")


def _elapsed_s(state: RunState) -> float | None:
    if not state.started_at:
        return None
    try:
        start = datetime.fromisoformat(state.started_at)
        end = datetime.fromisoformat(state.finished_at) if state.finished_at else datetime.now(start.tzinfo)
    except ValueError:
        return None
    return max((end - start).total_seconds(), 0.0)


def run_row(run_dir: Path, queue=None) -> dict:
    """Status row of one run directory (``queue``: a :class:`pydriver.sweep.executors.slurm_queue.Queue` or ``None``)."""
    state = RunState.load(run_dir)
    outputs = inspect_outputs(run_dir)
    status = current_status(state, outputs, queue)
    row = {"name": run_dir.name, "status": status, "step": outputs.last_step, "final_step": outputs.final_step,
           "attempts": state.attempts, "started_at": state.started_at, "finished_at": state.finished_at,
           "elapsed_s": _elapsed_s(state), "job": state.job_id or state.pid,
           "message": state.message if status in ("failed", "interrupted", "done") else "", "adaptive": None}
    if outputs.trajectory_removed:
        row["message"] = "dump deleted after analysis"
    manifest = read_json(run_dir / MANIFEST_FILE)
    if is_adaptive(manifest):
        adaptive = AdaptiveState.load(run_dir)
        row["adaptive"] = {"status": adaptive.status if adaptive else "running",
                           **projection(manifest, adaptive, seconds_per_step(adaptive))}
    return row


def sweep_status(out_dir: str | Path) -> dict:
    """Status of every run of a sweep folder.

    Parameters
    ----------
    out_dir : the sweep's output folder (holds ``sweep.json``).

    Returns
    -------
    dict
        ``{"name": ..., "runs": [row, ...], "counts": {status: n}}``; rows from :func:`run_row`.

    Raises
    ------
    FileNotFoundError
        If ``out_dir/sweep.json`` is missing or unreadable.
    """
    out_dir = Path(out_dir)
    manifest = read_json(out_dir / SWEEP_MANIFEST)
    if manifest is None:
        raise FileNotFoundError(f"{out_dir}/{SWEEP_MANIFEST} not found or unreadable: not a sweep folder "
                                "(run `python -m pydriver sweep run CONFIG` first)")
    queue = None
    slurm_used = manifest.get("config", {}).get("executor") == "slurm" or any(
        RunState.load(out_dir / r["run_dir"]).executor == "slurm" for r in manifest["runs"])
    if slurm_used:
        queue = queue_states() if sbatch_available() else None
    rows = [run_row(out_dir / r["run_dir"], queue) for r in manifest["runs"]]
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUS_ORDER}
    return {"name": manifest.get("name"), "runs": rows, "counts": {k: v for k, v in counts.items() if v}}
