"""Adaptive run length without stopping bias: the sweep's hop rule on synthetic ensembles with a known D.

Each synthetic run (:func:`pydriver.analysis.synthetic.hopping_crystal`: ions vibrating on sites and
hopping as a Poisson process) is analysed at the checks an adaptive sweep makes (``min_prod_ps``,
then every ``check_every_ps`` up to ``max_prod_ps``) exactly as ``python -m pydriver next-chunk``
does: the transport analysis over the target's fixed fit window
(:func:`pydriver.analysis.run_analysis.target_fit_window`), the site-to-site hops of
:func:`pydriver.analysis.mechanism.mechanism` (sites from the ions' density maxima in a periodic
cell of 4 x 4 x 4 sites) and the stopping rule :func:`pydriver.sweep.adaptive.check` (stop once
the ions made ``min_hops`` hops). The D reported
at the stop, over many runs, must average to the true D (within 5 %). For comparison the former rule
(stop once ``std(D)/D < 0.25`` with D resolved; fit window a fraction of each run's own length) is
scored on the same trajectories.

    .venv/bin/python benchmarks/bench_stopping.py --runs 240 --json benchmarks/results/stopping_bias.json

Runtime on 2 cores: about 3 minutes for 240 runs per regime.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout, not an installed copy

from pydriver.analysis import AnalysisOptions, mechanism
from pydriver.analysis.run_analysis import target_fit_window
from pydriver.analysis.synthetic import hopping_crystal
from pydriver.analysis.transport import DiffusionAnalysis
from pydriver.deck.settings import AdaptiveTarget
from pydriver.sweep.adaptive import check

TARGET = AdaptiveTarget(min_hops=100.0, min_prod_ps=5.0, max_prod_ps=20.0, check_every_ps=2.5)
JUMP_LENGTH_A = 3.0  # site spacing of the synthetic lattice
CELL_SITES = 4  # periodic cell of 4 x 4 x 4 sites for the site analysis
FORMER_REL_ERROR = 0.25


@dataclass(frozen=True)
class Regime:
    """Ions, hop rate (per ion per ps), vibration; frames every ``dt_frame_ps``."""

    name: str
    n_ions: int
    hop_rate_per_ps: float
    vibration_rms_A: float = 0.35
    vibration_time_ps: float = 0.05
    dt_frame_ps: float = 0.02


REGIMES = [
    Regime("12 Na, 1 hop/ion/ps (100 hops at ~8 ps)", 12, 1.0),
    Regime("48 Na, 0.25 hop/ion/ps (100 hops at ~8 ps)", 48, 0.25),
    Regime("24 Na, 0.3 hop/ion/ps, slow vibrations (100 hops at ~14 ps)", 24, 0.3, vibration_rms_A=0.3,
           vibration_time_ps=0.5),
]


def transport(positions: np.ndarray, dt_frame_ps: float, window: tuple[float, float] | None) -> dict:
    """The user's transport analysis of a synthetic trajectory (no drift correction)."""
    n_frames, n_ions, _ = positions.shape
    names = np.array(["Na"] * n_ions)
    start, end = window if window else (None, None)
    return DiffusionAnalysis(positions, dt_frame_ps * np.arange(n_frames), names, names, np.full(n_frames, 1e4),
                             600.0, fit_start_ps=start, fit_end_ps=end, drift_correction=False).run().results


def one_run(regime: Regime, seed: int) -> dict:
    """D / D_true and the stop time of the hop rule and of the former rule on one trajectory."""
    n_frames = int(round(TARGET.max_prod_ps / regime.dt_frame_ps)) + 1
    pos, truth = hopping_crystal(n_frames, regime.n_ions, regime.dt_frame_ps, regime.hop_rate_per_ps,
                                 jump_length_A=JUMP_LENGTH_A, vibration_rms_A=regime.vibration_rms_A,
                                 vibration_time_ps=regime.vibration_time_ps, seed=seed)
    opts = target_fit_window(AnalysisOptions(), TARGET.as_dict())
    window = (opts.fit_start_ps, opts.fit_end_ps)
    checks = np.arange(TARGET.min_prod_ps, TARGET.max_prod_ps + 1e-9, TARGET.check_every_ps)
    out = {}
    for t in checks:
        part = pos[: int(round(t / regime.dt_frame_ps)) + 1]
        last = t >= checks[-1]
        if "hops" not in out:
            r = transport(part, regime.dt_frame_ps, window)
            cells = np.repeat((CELL_SITES * JUMP_LENGTH_A * np.eye(3))[None], part.shape[0], axis=0)
            mech = mechanism.mechanism(part, cells, regime.dt_frame_ps)
            summary = {"transport": r, "hops": mechanism.mechanism_summary(mech)["hops"]}
            if check(summary, TARGET)["met"] or last:
                out["hops"] = (r["diffusivity_cm2_s"] / truth.diffusivity_cm2_s, float(t))
        if "former" not in out:
            r = transport(part, regime.dt_frame_ps, None)
            d, std = r["diffusivity_cm2_s"], r["diffusivity_std_cm2_s"]
            if (d > 0 and std / d < FORMER_REL_ERROR and r["diffusivity_resolved"]) or last:
                out["former"] = (d / truth.diffusivity_cm2_s, float(t))
        if len(out) == 2:
            break
    return out


def regime_scores(regime: Regime, n_runs: int, seed0: int = 0) -> dict:
    """Mean D / D_true (with its standard error) and stop times over ``n_runs`` runs, per rule."""
    runs = [one_run(regime, seed) for seed in range(seed0, seed0 + n_runs)]
    out = {"regime": regime.name, "n_runs": n_runs}
    for rule in ("hops", "former"):
        ratio = np.array([r[rule][0] for r in runs])
        stop = np.array([r[rule][1] for r in runs])
        out[rule] = {"mean_d_over_truth": float(ratio.mean()), "se": float(ratio.std(ddof=1) / np.sqrt(n_runs)),
                     "stopped_before_cap": float(np.mean(stop < TARGET.max_prod_ps)),
                     "mean_stop_ps": float(stop.mean())}
    return out


def table(results: dict) -> str:
    """Markdown table of a results dict."""
    lines = ["| regime | rule | mean D / true D | stopped before the cap | mean length (ps) |", "|---|---|---|---|---|"]
    for r in results["regimes"]:
        for rule, label in (("hops", f"{TARGET.min_hops:g} hops"), ("former", "std(D)/D < 0.25")):
            s = r[rule]
            lines.append(f"| {r['regime']} | {label} | {s['mean_d_over_truth']:.3f} +- {s['se']:.3f} | "
                         f"{100 * s['stopped_before_cap']:.0f} % | {s['mean_stop_ps']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=240, help="runs per regime (default 240)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--table", type=Path, help="print the markdown table of a results file and exit")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    start = time.perf_counter()
    results = {"target": TARGET.as_dict(), "regimes": []}
    for regime in REGIMES:
        results["regimes"].append(regime_scores(regime, args.runs))
        print(f"{regime.name}: {results['regimes'][-1]}", flush=True)
    results["wall_s"] = time.perf_counter() - start
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
