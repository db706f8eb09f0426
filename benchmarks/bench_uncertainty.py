"""Calibration of the transport error bars on synthetic crystals with known answers.

For each regime, many independent synthetic trajectories (:func:`pydriver.analysis.synthetic.hopping_crystal`
or Gaussian walkers) go through the same :class:`~pydriver.analysis.transport.DiffusionAnalysis`
a user's run goes through. Per estimator and quantity it prints the RMS of
``z = ln(estimate / truth) / sigma_ln`` (``sigma_ln``: half the log-width of the reported 68 %
interval; for the symmetric ``kinisi`` and ``block`` errors, ``z = (estimate - truth) / std``) and
how often the 68 % and 95 % intervals contain the truth. A calibrated estimator has RMS(z) near 1
and coverages near 68.3 % and 95 %; at n runs the 99 % binomial band around 68.3 % is
``68.3 +- 2.58 sqrt(0.683 * 0.317 / n)`` (62.3-74.3 % at n = 400).

The Arrhenius part fits replicate sets of five temperatures exactly as ``python -m pydriver report``
does (resolved points only, weighted by their log errors) and counts how often the 95 % intervals of
Ea and of D(300 K) contain the truth.

    .venv/bin/python benchmarks/bench_uncertainty.py --runs 400 --sets 200 --json benchmarks/results/uncertainty.json
    .venv/bin/python benchmarks/bench_uncertainty.py --table benchmarks/results/uncertainty.json   # markdown

Runtime on 2 cores: about 10 minutes for 400 runs per regime and 200 Arrhenius sets.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout, not an installed copy

from pydriver.analysis.diffusion import extrapolate_arrhenius, fit_arrhenius
from pydriver.units import BOLTZMANN_EV_K
from pydriver.analysis.synthetic import hopping_crystal, random_walk
from pydriver.analysis.transport import DiffusionAnalysis



@dataclass(frozen=True)
class Regime:
    """One calibration regime: ions, run length, hops per ion, vibration, correlation."""

    name: str
    n_ions: int
    duration_ps: float
    hops_per_ion: float
    dt_frame_ps: float = 0.02
    vibration_rms_A: float = 0.35
    vibration_time_ps: float = 0.05
    group_size: int = 1
    brownian: bool = False

    def trajectory(self, seed: int):
        """Positions (n_frames, n_ions, 3) and (D, charge D, Haven) truths in cm^2/s."""
        n_frames = int(round(self.duration_ps / self.dt_frame_ps)) + 1
        if self.brownian:
            d = 1e-5
            return random_walk(n_frames, self.n_ions, d, self.dt_frame_ps, seed=seed), (d, d, 1.0)
        pos, truth = hopping_crystal(n_frames, self.n_ions, self.dt_frame_ps, self.hops_per_ion / self.duration_ps,
                                     vibration_rms_A=self.vibration_rms_A, vibration_time_ps=self.vibration_time_ps,
                                     group_size=self.group_size, seed=seed)
        return pos, (truth.diffusivity_cm2_s, truth.charge_diffusivity_cm2_s, truth.haven_ratio)


REGIMES = [
    Regime("few ions, few hops (12 Na, 8 ps, 4 hops/ion)", 12, 8.0, 4.0),
    Regime("one hop per ion (12 Na, 5 ps, 1 hop/ion, 0.4 A)", 12, 5.0, 1.0, vibration_rms_A=0.4),
    Regime("study cell (48 Na, 8 ps, 4 hops/ion)", 48, 8.0, 4.0),
    Regime("long run (48 Na, 50 ps, 20 hops/ion, 0.1 ps frames)", 48, 50.0, 20.0, dt_frame_ps=0.1, vibration_rms_A=0.3),
    Regime("large cell (100 Na, 20 ps, 10 hops/ion, 0.2 A)", 100, 20.0, 10.0, dt_frame_ps=0.05, vibration_rms_A=0.2),
    Regime("slow vibrations (24 Na, 10 ps, 2 hops/ion, 0.5 ps)", 24, 10.0, 2.0, vibration_rms_A=0.3,
           vibration_time_ps=0.5),
    Regime("concerted pairs (48 Na, 20 ps, 10 hops/ion, Haven 0.5)", 48, 20.0, 10.0, dt_frame_ps=0.05, group_size=2),
    Regime("Gaussian walkers (32 Na, 40 ps)", 32, 40.0, 0.0, dt_frame_ps=0.1, brownian=True),
]


def analyse(positions: np.ndarray, dt_frame_ps: float) -> dict:
    """The user's transport analysis of a synthetic trajectory (no framework, no drift correction)."""
    n_frames, n_ions, _ = positions.shape
    names = np.array(["Na"] * n_ions)
    return DiffusionAnalysis(positions, dt_frame_ps * np.arange(n_frames), names, names, np.full(n_frames, 1e4),
                             600.0, drift_correction=False).run().results


def _log_z(value, truth, ci68):
    lo, hi = ci68
    if not (value > 0 and lo > 0 and hi > 0):
        return float("nan")
    return float(np.log(value / truth) / ((np.log(hi) - np.log(lo)) / 2.0))


def regime_scores(regime: Regime, n_runs: int, seed0: int = 0) -> dict:
    """z-scores and coverages of every estimator for ``n_runs`` trajectories of ``regime``."""
    rec = {k: [] for k in ("D_ions", "D_kinisi", "D_block", "Dq_pivot", "Dq_kinisi", "haven_pivot")}
    cover = {k: [] for k in ("D68", "D95", "Dq68", "Dq95", "H68", "H95", "D_resolved")}
    for seed in range(seed0, seed0 + n_runs):
        pos, (d, dq, haven) = regime.trajectory(seed)
        r = analyse(pos, regime.dt_frame_ps)
        v = r["diffusivity_cm2_s"]
        rec["D_ions"].append(_log_z(v, d, r["diffusivity_ci68_cm2_s"]))
        rec["D_kinisi"].append((v - d) / r["diffusivity_kinisi_std_cm2_s"])
        rec["D_block"].append((v - d) / r["diffusivity_block_std_cm2_s"])
        rec["Dq_pivot"].append(_log_z(r["charge_diffusivity_cm2_s"], dq, r["charge_diffusivity_ci68_cm2_s"]))
        rec["Dq_kinisi"].append((r["charge_diffusivity_cm2_s"] - dq) / r["charge_diffusivity_kinisi_std_cm2_s"])
        rec["haven_pivot"].append(_log_z(r["haven_ratio"], haven, r["haven_ratio_ci68"]))
        for key, ci, truth in (("D", "diffusivity_ci", d), ("Dq", "charge_diffusivity_ci", dq),
                               ("H", "haven_ratio_ci", haven)):
            suffix = "" if key == "H" else "_cm2_s"
            for level in ("68", "95"):
                lo, hi = r[f"{ci}{level}{suffix}"]
                cover[f"{key}{level}"].append(bool(lo <= truth <= hi))
        cover["D_resolved"].append(bool(r["diffusivity_resolved"]))
    out = {"regime": regime.name, "n_runs": n_runs}
    for k, z in rec.items():
        z = np.asarray(z, dtype=float)
        ok = np.isfinite(z)
        out[f"rms_z_{k}"] = float(np.sqrt(np.mean(z[ok] ** 2))) if ok.any() else None
        out[f"coverage68_{k}"] = float(np.mean(np.abs(z[ok]) < 1)) if ok.any() else None
        out[f"defined_{k}"] = int(ok.sum())
    for k, c in cover.items():
        out[f"interval_{k}"] = float(np.mean(c))
    return out


ARRHENIUS_EA_EV = 0.25
ARRHENIUS_TEMPERATURES_K = (500.0, 600.0, 700.0, 800.0, 900.0)
ARRHENIUS_REGIME = Regime("Arrhenius set (24 Na, 10 ps, 1-10 hops/ion)", 24, 10.0, 10.0, dt_frame_ps=0.025,
                          vibration_rms_A=0.3)


def arrhenius_scores(n_sets: int, seed0: int = 100_000) -> dict:
    """Coverage of the 95 % intervals of Ea and D(300 K) over replicate sets of five temperatures."""
    hops_900 = ARRHENIUS_REGIME.hops_per_ion
    ea_cover, d300_cover, used, z_ea = [], [], [], []
    for k in range(n_sets):
        t_used, values, sig = [], [], []
        truth_900 = None
        for j, temp in enumerate(ARRHENIUS_TEMPERATURES_K):
            hops = hops_900 * np.exp(-ARRHENIUS_EA_EV / BOLTZMANN_EV_K * (1 / temp - 1 / 900.0))
            regime = Regime(ARRHENIUS_REGIME.name, ARRHENIUS_REGIME.n_ions, ARRHENIUS_REGIME.duration_ps, hops,
                            ARRHENIUS_REGIME.dt_frame_ps, ARRHENIUS_REGIME.vibration_rms_A)
            pos, (d, _, _) = regime.trajectory(seed0 + 10 * k + j)
            truth_900 = d if temp == 900.0 else truth_900
            r = analyse(pos, regime.dt_frame_ps)
            if not r["diffusivity_resolved"]:
                continue
            lo, hi = r["diffusivity_ci68_cm2_s"]
            t_used.append(temp)
            values.append(r["diffusivity_cm2_s"])
            sig.append((np.log(hi) - np.log(lo)) / 2.0)
        used.append(len(t_used))
        if len(t_used) < 3:
            continue
        fit = fit_arrhenius(t_used, values, mode="D", log_errors=sig, n_bootstrap=4000, seed=k)
        ea_cover.append(fit.ea_ci95_eV[0] <= ARRHENIUS_EA_EV <= fit.ea_ci95_eV[1])
        z_ea.append((fit.ea_eV - ARRHENIUS_EA_EV) / fit.ea_std_eV)
        d300 = truth_900 * np.exp(-ARRHENIUS_EA_EV / BOLTZMANN_EV_K * (1 / 300.0 - 1 / 900.0))
        ext = extrapolate_arrhenius(fit, 300.0)
        d300_cover.append(ext["ci95_low"] <= d300 <= ext["ci95_high"])
    return {"n_sets": n_sets, "n_fitted": len(ea_cover), "mean_temperatures_used": float(np.mean(used)),
            "ea_coverage95": float(np.mean(ea_cover)), "ea_rms_z": float(np.sqrt(np.mean(np.square(z_ea)))),
            "d300_coverage95": float(np.mean(d300_cover)), "ea_true_eV": ARRHENIUS_EA_EV,
            "temperatures_K": list(ARRHENIUS_TEMPERATURES_K), "regime": ARRHENIUS_REGIME.name}


def table(results: dict) -> str:
    """Markdown table of a results JSON (docs/analysis.md)."""
    def pct(x):
        return "-" if x is None else f"{100 * x:.0f}"

    def num(x):
        return "-" if x is None else f"{x:.2f}"

    lines = ["| regime | D: RMS z / 68 % / 95 % | D, kinisi-style: RMS z / 68 % | D, blocks: RMS z / 68 % | "
             "charge D: RMS z / 68 % / 95 % | Haven: 68 % / 95 % | D resolved |",
             "|---|---|---|---|---|---|---|"]
    for r in results["regimes"]:
        lines.append(f"| {r['regime']} | {num(r['rms_z_D_ions'])} / {pct(r['interval_D68'])} "
                     f"/ {pct(r['interval_D95'])} "
                     f"| {num(r['rms_z_D_kinisi'])} / {pct(r['coverage68_D_kinisi'])} "
                     f"| {num(r['rms_z_D_block'])} / {pct(r['coverage68_D_block'])} "
                     f"| {num(r['rms_z_Dq_pivot'])} / {pct(r['interval_Dq68'])} / {pct(r['interval_Dq95'])} "
                     f"| {pct(r['interval_H68'])} / {pct(r['interval_H95'])} | {pct(r['interval_D_resolved'])} |")
    a = results.get("arrhenius")
    if a:
        lines += ["", f"Arrhenius ({a['regime']}, T = {', '.join(f'{t:g}' for t in a['temperatures_K'])} K, "
                      f"Ea = {a['ea_true_eV']} eV): {a['n_fitted']} of {a['n_sets']} sets fitted, "
                      f"{a['mean_temperatures_used']:.1f} temperatures used on average; 95 % interval of Ea contains "
                      f"the truth in {pct(a['ea_coverage95'])} %, of D(300 K) in {pct(a['d300_coverage95'])} %; "
                      f"RMS z of Ea {a['ea_rms_z']:.2f}."]
    return "\n".join(lines)


def main() -> None:
    """Command line: run the calibration or print the table of a saved result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="trajectories per regime (default 400)")
    parser.add_argument("--sets", type=int, default=200, help="Arrhenius replicate sets (default 200)")
    parser.add_argument("--regimes", type=int, nargs="*", help="indices of REGIMES to run (default all)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--table", type=Path, help="print the markdown table of this results JSON and exit")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # thousands of synthetic runs: their per-run warnings are noise here
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    start = time.time()
    chosen = [REGIMES[i] for i in args.regimes] if args.regimes else REGIMES
    results = {"regimes": [], "date": time.strftime("%Y-%m-%d")}
    for regime in chosen:
        t0 = time.time()
        results["regimes"].append(regime_scores(regime, args.runs))
        print(f"{regime.name}: {time.time() - t0:.0f} s", flush=True)
    if args.sets:
        results["arrhenius"] = arrhenius_scores(args.sets)
    results["seconds"] = round(time.time() - start, 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
