"""Benchmark of the transport analysis.

1. Time and peak memory (ru_maxrss of a fresh process that only analyses) to read
   and analyse (MSD all origins, D with uncertainties, Haven ratio, active Na) a 1024-atom,
   10,000-frame dump.
2. On a 1024-atom, 2,000-frame dump: our D (same data, origins="first" and fit over all lags so the
   estimator is identical) versus pymatgen-analysis-diffusion's DiffusionAnalyzer(smoothed=False),
   timed end to end from the dump file in the same run (pymatgen reads it with
   pymatgen.io.lammps.outputs.parse_lammps_dumps, then from_structures), plus core-only times.

3. ``--kinisi N``: our D and kinisi-style uncertainty versus the kinisi package (GLS posterior) on N
   random walks (48 ions, 400 frames of 0.1 ps, D = 1e-5 cm^2/s, window 10 % of the run to its end):
   mean D, true scatter of D and mean reported std of each (docs/analysis.md has the numbers).

Run: .venv/bin/python benchmarks/bench_analysis.py [--frames 10000] [--skip-large] [--kinisi 20]
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from pydriver.analysis.dump_reader import read_lammps_dump
from pydriver.analysis.active import active_ions
from pydriver.analysis.synthetic import random_walk, write_lammps_dump
from pydriver.analysis.transport import DiffusionAnalysis

log = logging.getLogger("bench_analysis")
N_ATOMS, N_NA = 1024, 96
DT_FRAME_PS = 0.1


def make_dump(path: Path, n_frames: int) -> Path:
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 20, (N_ATOMS, 3))
    pos = np.empty((n_frames, N_ATOMS, 3))
    pos[:, :N_NA] = random_walk(n_frames, N_NA, 1e-5, DT_FRAME_PS, seed=1, start_A=start[:N_NA])
    pos[:, N_NA:] = start[N_NA:] + rng.normal(0, 0.3, (n_frames, N_ATOMS - N_NA, 3))
    types = np.array([1] * N_NA + [2] * (N_ATOMS - N_NA))
    return write_lammps_dump(path, pos, types, np.diag([20.0] * 3), np.arange(n_frames) * 100, columns="xu")


def ours(path: Path, origins="all", full_window=False):
    traj = read_lammps_dump(path)
    labels = np.where(traj.types == 1, "Na", "B")
    t = (traj.steps - traj.steps[0]) * 0.001
    kw = dict(fit_start_ps=0.0, fit_end_ps=float(t[-1])) if full_window else {}
    res = DiffusionAnalysis(traj.positions_A, t, labels, labels, traj.volumes_A3, 500.0, origins=origins,
                            **kw).run().results
    active_ions(res["mobile_per_atom_msd_A2"], res["lag_time_ps"])
    return res


def analyze_only(path: Path) -> None:
    """Child process: analyse ``path`` and report wall time and the process's peak RSS."""
    t0 = time.perf_counter()
    res = ours(path)
    elapsed = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log.info("RESULT %.2f s, peak RSS %.0f MB, D = %.3e +- %.1e cm^2/s (true 1e-5)", elapsed, rss,
             res["diffusivity_cm2_s"], res["diffusivity_std_cm2_s"])


def bench_large(folder: Path, n_frames: int) -> None:
    path = make_dump(folder / "large.lammpstrj", n_frames)
    size_mb = path.stat().st_size / 2**20
    # a fresh process, so the peak RSS is the analysis's own (reader, MSD, uncertainties, active Na)
    out = subprocess.run([sys.executable, __file__, "--analyze-only", str(path)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    result = [line for line in (out.stdout + out.stderr).splitlines() if "RESULT" in line][-1]
    log.info("large: %d atoms x %d frames (%.0f MB text): %s", N_ATOMS, n_frames, size_mb,
             result.split("RESULT", 1)[1].strip())


def bench_vs_pymatgen(folder: Path, n_frames: int = 2000) -> None:
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.io.lammps.outputs import parse_lammps_dumps

    path = make_dump(folder / "small.lammpstrj", n_frames)
    t0 = time.perf_counter()
    mine = ours(path, origins="first", full_window=True)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    structures = [d.as_structure() if hasattr(d, "as_structure") else _to_structure(d) for d in parse_lammps_dumps(str(path))]
    t_parse = time.perf_counter() - t0
    t1 = time.perf_counter()
    da = DiffusionAnalyzer.from_structures(structures, "Na", 500.0, time_step=1.0, step_skip=100, smoothed=False)
    t_core = time.perf_counter() - t1
    t_theirs = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours(path)  # all time origins (our default) for reference
    t_all = time.perf_counter() - t0
    log.info("vs DiffusionAnalyzer (%d atoms x %d frames): D ours %.6e, pymatgen %.6e (rel diff %.2e)", N_ATOMS,
             n_frames, mine["diffusivity_cm2_s"], da.diffusivity, mine["diffusivity_cm2_s"] / da.diffusivity - 1)
    log.info("time end to end: ours %.2f s, pymatgen %.2f s (parse+structures %.2f s, analyzer %.2f s): "
             "speed-up %.1fx; ours with all time origins %.2f s (%.1fx)", t_ours, t_theirs, t_parse, t_core,
             t_theirs / t_ours, t_all, t_theirs / t_all)


def _to_structure(dump):
    from pymatgen.core import Lattice, Structure

    df = dump.data.sort_values("id")
    species = np.where(df["type"].to_numpy() == 1, "Na", "B")
    return Structure(Lattice(dump.box.to_lattice().matrix), species, df[["xu", "yu", "zu"]].to_numpy(),
                     coords_are_cartesian=True)


def bench_vs_kinisi(n_walks: int, n_ions: int = 48, n_frames: int = 400, d_cm2_s: float = 1e-5) -> None:
    """Scatter and reported uncertainty of D: ours versus kinisi on the same random walks."""
    import scipp as sc  # optional: kinisi and scipp come with the test extra
    from ase import Atoms
    from kinisi.analyze import DiffusionAnalyzer

    length_A, duration = 15.0, (n_frames - 1) * DT_FRAME_PS
    elements = np.array(["Na"] * n_ions)
    rows = []
    for seed in range(n_walks):
        start = np.random.default_rng(seed).uniform(0, length_A, (n_ions, 3))
        pos = random_walk(n_frames, n_ions, d_cm2_s, DT_FRAME_PS, seed=seed, start_A=start)
        res = DiffusionAnalysis(pos, DT_FRAME_PS * np.arange(n_frames), elements, elements,
                                np.full(n_frames, length_A**3), 500.0, fit_start_ps=0.1 * duration,
                                fit_end_ps=duration, drift_correction=False).run().results
        frames = [Atoms(f"Na{n_ions}", positions=p, cell=np.eye(3) * length_A, pbc=True) for p in pos]
        for atoms in frames:
            atoms.wrap()
        k = DiffusionAnalyzer.from_ase(frames, "Na", time_step=DT_FRAME_PS * sc.Unit("ps"),
                                       step_skip=1 * sc.Unit("dimensionless"), progress=False)
        k.diffusion(0.1 * duration * sc.Unit("ps"), progress=False, n_samples=500,
                    random_state=np.random.RandomState(seed))
        samples = k.D.to(unit="cm^2/s").values
        rows.append((res["diffusivity_cm2_s"], res["diffusivity_std_cm2_s"], np.mean(samples), np.std(samples)))
    r = np.array(rows) / d_cm2_s
    for name, col in (("ours (OLS, kinisi-style std)", 0), ("kinisi (GLS posterior)", 2)):
        log.info("%s: mean D %.3f, scatter %.3f, mean reported std %.3f (units of the true D)", name,
                 r[:, col].mean(), r[:, col].std(ddof=1), r[:, col + 1].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-pymatgen", action="store_true")
    parser.add_argument("--kinisi", type=int, default=0, metavar="N", help="compare with kinisi on N random walks")
    parser.add_argument("--analyze-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.analyze_only:
        analyze_only(args.analyze_only)
        return
    if args.kinisi:
        bench_vs_kinisi(args.kinisi)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_pymatgen:
            bench_vs_pymatgen(Path(tmp))
        if not args.skip_large:
            bench_large(Path(tmp), args.frames)


if __name__ == "__main__":
    main()
