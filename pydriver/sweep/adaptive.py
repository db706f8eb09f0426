"""Adaptive production length: run in chunks until the ions have hopped enough, or up to a cap.

A run directory whose ``run.json`` has a ``target`` (:class:`pydriver.deck.settings.AdaptiveTarget`)
runs production in chunks. Its ``job.slurm`` loops: ``python -m pydriver next-chunk .``
calls :func:`next_chunk`, which prints the step the next chunk must reach; LAMMPS resumes from the
latest restart file and runs ``-var prod_end STEP``. After each chunk :func:`next_chunk` analyses
the run through :func:`pydriver.analysis.analyze_run` and stops when

* the diffusing ions have made ``min_hops`` site-to-site hops in total (:func:`observed_hops`):
  status ``converged``;
* or production has reached ``max_prod_ps``: status ``capped``.

The rule is fixed in advance and counts events (like stopping a Poisson process at its n-th event),
so the D of the stopped runs is biased by about ``1 / min_hops`` and not by which runs happened to
look precise; the analysis fits every run of one target over the same lags
(:func:`pydriver.analysis.run_analysis.analyze_run`). Measured on synthetic ensembles in
``benchmarks/bench_stopping.py`` (docs/analysis.md).

The verdicts live in ``adaptive.json`` (written atomically), so ``kill -9`` at any point loses
at most the steps since the last restart file, as for fixed-length runs: the chunk end is
recorded before LAMMPS starts, and a chunk whose outputs are complete is analysed (again) on
the next call. Hops grow linearly with time, which gives the projected production time
``t * min_hops / hops`` shown by ``sweep status``.
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


def observed_hops(summary: dict) -> int:
    """Site-to-site hops of the diffusing ions in an ``analysis.json`` dict (``hops.n_hops``; 0 when
    the analysis found no sites, e.g. ions that never left their cages)."""
    n = (summary.get("hops") or {}).get("n_hops")
    return int(n) if n is not None else 0


def check(summary: dict, target: AdaptiveTarget) -> dict:
    """The stopping rule's view of an ``analysis.json`` dict: D, its std, hops, diffusive, met."""
    tr = summary["transport"]
    hops = observed_hops(summary)
    return {"diffusivity_cm2_s": float(tr["diffusivity_cm2_s"]), "diffusivity_std_cm2_s": float(tr["diffusivity_std_cm2_s"]),
            "hops": hops, "diffusive": bool(summary.get("diagnostics", {}).get("diffusive", True)),
            "met": hops >= target.min_hops}


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
    verdict = check(summary, target)
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
    log.info("%s: step %d, D = %.3e +- %.1e cm^2/s (%.0f of %g hops, %s): %s", run_dir.name,
             state.checks[-1]["step"], verdict["diffusivity_cm2_s"], verdict["diffusivity_std_cm2_s"],
             verdict["hops"], target.min_hops, "diffusive" if verdict["diffusive"] else "not diffusive",
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
        ``diffusivity_cm2_s``, ``diffusivity_std_cm2_s``, ``hops`` (latest check or ``None``),
        ``projected_prod_ps`` (``t * min_hops / hops`` clamped to [t, max]; the cap without hops),
        ``remaining_steps`` and ``remaining_s`` (``None`` without a rate).
    """
    plan = ChunkPlan.from_manifest(manifest)
    target = AdaptiveTarget.from_dict(manifest["target"])
    out = {"diffusivity_cm2_s": None, "diffusivity_std_cm2_s": None, "hops": None,
           "projected_prod_ps": target.min_prod_ps, "remaining_steps": plan.first_end, "remaining_s": None}
    if state is not None and state.checks:
        last = state.checks[-1]
        out.update({k: last.get(k) for k in ("diffusivity_cm2_s", "diffusivity_std_cm2_s", "hops")})
        now_ps = last["prod_ps"]
        hops = last.get("hops")
        if state.finished:
            needed_ps = now_ps
        elif hops:
            needed_ps = min(max(now_ps * target.min_hops / hops, now_ps), target.max_prod_ps)
        else:
            needed_ps = target.max_prod_ps
        out["projected_prod_ps"] = needed_ps
        out["remaining_steps"] = max(0, round((needed_ps - now_ps) / plan.dt_ps))
    if s_per_step is not None:
        out["remaining_s"] = out["remaining_steps"] * s_per_step
    return out
