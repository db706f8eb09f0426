"""Adaptive production length: run in chunks until D is precise enough, or up to a cap.

A run directory whose ``run.json`` has a ``target`` (:class:`pydriver.deck.settings.AdaptiveTarget`)
runs production in chunks. Its ``job.slurm`` loops: ``python -m pydriver next-chunk .``
calls :func:`next_chunk`, which prints the step the next chunk must reach; LAMMPS resumes from the
latest restart file and runs ``-var prod_end STEP``. After each chunk :func:`next_chunk` analyses
the run through :func:`pydriver.analysis.analyze_run` and stops when

* ``std(D) / D <= rel_error_D`` and the run is diffusive (``diagnostics.diffusive`` in
  ``analysis.json``; a missing key counts as diffusive): status ``converged``;
* or production has reached ``max_prod_ps``: status ``capped``.

The verdicts live in ``adaptive.json`` (written atomically), so ``kill -9`` at any point loses
at most the steps since the last restart file, as for fixed-length runs: the chunk end is
recorded before LAMMPS starts, and a chunk whose outputs are complete is analysed (again) on
the next call. The error of D falls as ``1/sqrt(t)`` (uncorrelated MSD blocks), which gives the
projected production time ``t * (err / target)^2`` shown by ``sweep status``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from pydriver.analysis import AnalysisOptions, analyze_run
from pydriver.deck.settings import AdaptiveTarget
from pydriver.rundir import MANIFEST_FILE
from pydriver.sweep.outputs import chunk_complete, quarantine_bad_restarts
from pydriver.sweep.run_state import AdaptiveState, now_iso, read_json

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ChunkPlan:
    """Step numbers of an adaptive run (all rounded up to whole dump strides).

    Attributes
    ----------
    equil_steps : end of equilibration (production starts here).
    first_end, max_end : end of the first chunk and the cap, as absolute steps.
    check_steps : production steps between two checks.
    dt_ps : time step, in ps.
    """

    equil_steps: int
    first_end: int
    max_end: int
    check_steps: int
    dt_ps: float

    @classmethod
    def from_manifest(cls, manifest: dict) -> ChunkPlan:
        """From ``run.json`` (its ``target``, ``dt_ps``, ``equil_steps``, ``dump_every``).

        Raises
        ------
        ValueError
            If the run has no ``target`` (not an adaptive run).
        """
        if not manifest.get("target"):
            raise ValueError(f"{MANIFEST_FILE} has no 'target': not an adaptive run")
        target = AdaptiveTarget.from_dict(manifest["target"])
        dt, every, equil = float(manifest["dt_ps"]), int(manifest["dump_every"]), int(manifest["equil_steps"])

        def steps(time_ps: float) -> int:
            return max(1, math.ceil(time_ps / dt / every - 1e-9)) * every

        return cls(equil, equil + steps(target.min_prod_ps), equil + steps(target.max_prod_ps),
                   steps(target.check_every_ps), dt)


def check(summary: dict, rel_error_target: float) -> dict:
    """The stopping rule's view of an ``analysis.json`` dict: D, its std, relative error, diffusive, met."""
    tr = summary["transport"]
    d, std = float(tr["diffusivity_cm2_s"]), float(tr["diffusivity_std_cm2_s"])
    rel = std / d if d > 0 and math.isfinite(std) else math.inf
    diffusive = bool(summary.get("diagnostics", {}).get("diffusive", True))
    return {"diffusivity_cm2_s": d, "diffusivity_std_cm2_s": std, "rel_error_D": rel, "diffusive": diffusive,
            "met": diffusive and rel <= rel_error_target}


def next_chunk(run_dir: str | Path, analyze=analyze_run) -> int | None:
    """The stopping rule: the step the next production chunk must reach, or ``None`` when finished.

    Parameters
    ----------
    run_dir : an adaptive run directory.
    analyze : ``analyze(run_dir, AnalysisOptions) -> analysis.json dict`` (tests pass a stand-in).

    Returns
    -------
    int or None
        Absolute LAMMPS step; ``None`` once the run is ``converged`` or ``capped``.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` has no ``run.json``.
    ValueError
        If the run is not adaptive.
    """
    run_dir = Path(run_dir).resolve()
    manifest = read_json(run_dir / MANIFEST_FILE)
    if manifest is None:
        raise FileNotFoundError(f"{run_dir}: no readable {MANIFEST_FILE}")
    plan = ChunkPlan.from_manifest(manifest)
    target = AdaptiveTarget.from_dict(manifest["target"])
    state = AdaptiveState.load(run_dir) or AdaptiveState(chunk_end_step=plan.first_end)
    if state.finished:
        return None
    quarantine_bad_restarts(run_dir)
    if not chunk_complete(run_dir, manifest, state.chunk_end_step):
        state.chunk_started_s = state.chunk_started_s or time.time()
        state.save(run_dir)
        return state.chunk_end_step
    summary = analyze(run_dir, AnalysisOptions.from_dict(state.analysis_options))
    verdict = check(summary, target.rel_error_D)
    previous = state.checks[-1]["step"] if state.checks else plan.equil_steps
    state.checks.append({"step": state.chunk_end_step, "prod_ps": (state.chunk_end_step - plan.equil_steps) * plan.dt_ps,
                         **{k: v for k, v in verdict.items() if k != "met"},
                         "steps": state.chunk_end_step - previous,
                         "wall_s": time.time() - state.chunk_started_s if state.chunk_started_s else None,
                         "checked_at": now_iso()})
    if verdict["met"]:
        state.status = "converged"
    elif state.chunk_end_step >= plan.max_end:
        state.status = "capped"
    else:
        state.chunk_end_step = min(state.chunk_end_step + plan.check_steps, plan.max_end)
        state.chunk_started_s = time.time()
    state.save(run_dir)
    log.info("%s: step %d, D = %.3e +- %.1e cm^2/s (rel. error %.2f, target %.2f, %s): %s", run_dir.name,
             state.checks[-1]["step"], verdict["diffusivity_cm2_s"], verdict["diffusivity_std_cm2_s"],
             verdict["rel_error_D"], target.rel_error_D, "diffusive" if verdict["diffusive"] else "not diffusive",
             state.status if state.finished else f"next chunk to step {state.chunk_end_step}")
    return None if state.finished else state.chunk_end_step


def seconds_per_step(state: AdaptiveState | None) -> float | None:
    """Measured wall time per MD step over the analysed chunks (``None`` before the first)."""
    timed = [c for c in (state.checks if state else []) if c.get("wall_s") and c.get("steps")]
    if not timed:
        return None
    return sum(c["wall_s"] for c in timed) / sum(c["steps"] for c in timed)


def projection(manifest: dict, state: AdaptiveState | None, s_per_step: float | None) -> dict:
    """Current D +- error and projected remaining production of an adaptive run (for ``sweep status``).

    Returns
    -------
    dict
        ``diffusivity_cm2_s``, ``diffusivity_std_cm2_s``, ``rel_error_D`` (latest check or ``None``),
        ``projected_prod_ps`` (``t * (err/target)^2`` clamped to [t, max]), ``remaining_steps`` and
        ``remaining_s`` (``None`` without a rate).
    """
    plan = ChunkPlan.from_manifest(manifest)
    target = AdaptiveTarget.from_dict(manifest["target"])
    out = {"diffusivity_cm2_s": None, "diffusivity_std_cm2_s": None, "rel_error_D": None,
           "projected_prod_ps": target.min_prod_ps, "remaining_steps": plan.first_end, "remaining_s": None}
    if state is not None and state.checks:
        last = state.checks[-1]
        out.update({k: last[k] for k in ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "rel_error_D")})
        now_ps = last["prod_ps"]
        if state.finished:
            needed_ps = now_ps
        elif math.isfinite(last["rel_error_D"]) and last["diffusive"]:
            needed_ps = min(max(now_ps * (last["rel_error_D"] / target.rel_error_D) ** 2, now_ps), target.max_prod_ps)
        else:
            needed_ps = target.max_prod_ps
        out["projected_prod_ps"] = needed_ps
        out["remaining_steps"] = max(0, round((needed_ps - now_ps) / plan.dt_ps))
    if s_per_step is not None:
        out["remaining_s"] = out["remaining_steps"] * s_per_step
    return out
