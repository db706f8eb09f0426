"""Strong scaling of ``pair_style m3gnet`` under MPI (np = 1, 2), compiled engine and TorchScript, in one run.

    .venv/bin/python benchmarks/bench_mpi.py [--cells nabh4:3 mixed:2,4,4] [--steps 5] [--repeats 2]
        [--dtype float32] [--shell] [--json out.json]

Cells: ``nabh4:n`` is the 24-atom ordered NaBH4 cell x n^3 (3: 648 atoms), ``mixed:a,b,c`` the 32-atom
mixed Na3(BH4)(B12H12) test cell x (a, b, c) (2,4,4: 1024 atoms; 4,4,8: 4096). One model file with the
compiled engine (``python -m pydriver export``; its packages come from the cache folder after the first
export) runs as ``compiled auto`` (1 rank: the energy + gradient package; 2 ranks, ``comm halo``: the
per-block packages) and as ``compiled no`` (TorchScript), one OpenMP thread per rank. The four runs of a
cell are interleaved (A, B, C, D, A, B, ...; the best of ``--repeats`` kept), so that a busy machine
slows them alike: compare ratios within one run. Prints ms/step, the 2-rank speed-up t1 / t2 and the
parallel efficiency t1 / (2 t2) per engine, and the compiled engine over TorchScript; with ``--shell``
one step of ``comm shell`` on 2 ranks for 1024 atoms (its ghost shell is nblocks x (cutoff + 3-body
cutoff) = 27 A, so it is slow).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ase.io
from ase.io.lammpsdata import write_lammps_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pydriver.lammps.session import lammps_env, lmp_executable  # noqa: E402

MODELS = Path(os.environ.get("M3GNET_MODELS_DIR", ROOT.parent / "shared" / "models"))
DECK = """units metal
atom_style atomic
read_data data.lmp
pair_style m3gnet {args}
pair_coeff * * {model} Na B H
velocity all create 300 1
fix nve all nve
run 1
run {steps}
"""
ENGINES = {"compiled": "compiled auto", "TorchScript": "compiled no"}


def ms_per_step(tmp: Path, model: Path, nprocs: int, args: str, steps: int) -> tuple[float, str, float]:
    """ms per MD step of the second ``run``, the plugin's engine line and LAMMPS's "% CPU use" (below 100:
    the ranks waited for cores that other jobs held)."""
    (tmp / "in.bench").write_text(DECK.format(model=model, args=args, steps=steps))
    env = dict(lammps_env(), OMP_NUM_THREADS="1")
    mpirun = str(Path(sys.executable).parent / "mpirun")
    out = subprocess.run([mpirun, "-np", str(nprocs), lmp_executable(), "-in", "in.bench", "-log", "none"],
                         cwd=tmp, env=env, capture_output=True, text=True, check=True).stdout
    loop = re.findall(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps", out)[-1]
    engine = re.search(r"Pair style m3gnet: engine (.*)", out)
    cpu = re.findall(r"([\d.]+)% CPU use", out)
    return 1000 * float(loop[0]) / int(loop[1]), engine.group(1) if engine else "?", float(cpu[-1]) if cpu else 0.0


def cell(spec: str):  # noqa: ANN201
    """The atoms of a ``--cells`` entry."""
    name, reps = spec.split(":")
    if name == "nabh4":
        return ase.io.read(ROOT / "examples" / "structures" / "NaBH4.extxyz") * ((int(reps),) * 3)
    frames = ase.io.read(ROOT / "tests" / "data" / "golden" / "structures_nabh.extxyz", index=":")
    mixed = next(f for f in frames if f.info["name"] == "na3_bh4_b12h12_mixed")
    return mixed * tuple(int(r) for r in reps.split(","))


def export_model(out: Path, dtype: str) -> Path:
    """The NaBH checkpoint exported with the compiled engine (the default of ``python -m pydriver export``)."""
    subprocess.run([sys.executable, "-m", "pydriver", "export", str(MODELS / "M3GNet-r2SCAN-NaBH"), str(out),
                    "--dtype", dtype], check=True, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"),
                   capture_output=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", nargs="+", default=["nabh4:3", "mixed:2,4,4"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--shell", action="store_true", help="also time comm shell (slow)")
    ap.add_argument("--json", type=Path, help="write the results here")
    a = ap.parse_args()
    results = []
    print(f"{'cell':>12} {'atoms':>6} {'engine':>12} {'np=1 ms':>8} {'np=2 ms':>8} {'speed-up':>9} {'efficiency':>11}")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        model = export_model(tmp / "m.pt", a.dtype)
        for spec in a.cells:
            atoms = cell(spec)
            write_lammps_data(tmp / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
            runs = [(engine, nprocs) for engine in ENGINES for nprocs in (1, 2)]
            best = {run: float("inf") for run in runs}
            lines, cpu = {}, {}
            for _ in range(a.repeats):
                for engine, nprocs in runs:
                    args = ENGINES[engine] + (" comm halo" if nprocs > 1 else "")
                    ms, line, use = ms_per_step(tmp, model, nprocs, args, a.steps)
                    if ms < best[(engine, nprocs)]:
                        best[(engine, nprocs)], lines[(engine, nprocs)], cpu[(engine, nprocs)] = ms, line, use
            for engine in ENGINES:
                t1, t2 = best[(engine, 1)], best[(engine, 2)]
                print(f"{spec:>12} {len(atoms):>6} {engine:>12} {t1:>8.0f} {t2:>8.0f} {t1 / t2:>8.2f}x "
                      f"{t1 / (2 * t2):>10.0%}   CPU use {cpu[(engine, 1)]:.0f} / {cpu[(engine, 2)]:.0f} %",
                      flush=True)
                results.append({"cell": spec, "atoms": len(atoms), "dtype": a.dtype, "engine": engine,
                                "np1_ms": t1, "np2_ms": t2, "engine_np1": lines[(engine, 1)],
                                "engine_np2": lines[(engine, 2)], "cpu_use_np1": cpu[(engine, 1)],
                                "cpu_use_np2": cpu[(engine, 2)]})
            for nprocs in (1, 2):
                ratio = best[("TorchScript", nprocs)] / best[("compiled", nprocs)]
                print(f"{'':>12} {'':>6} np={nprocs}: compiled {ratio:.2f}x faster than TorchScript", flush=True)
            print(f"{'':>12} {'':>6} compiled np=2 over TorchScript np=1: "
                  f"{best[('TorchScript', 1)] / best[('compiled', 2)]:.2f}x; over compiled np=1: "
                  f"{best[('compiled', 1)] / best[('compiled', 2)]:.2f}x", flush=True)
            if a.shell and len(atoms) == 1024:
                ts, _, _ = ms_per_step(tmp, model, 2, "comm shell", 1)
                print(f"{'':>12} np=2 comm shell {ts:.0f} ms/step: halo is {ts / best[('compiled', 2)]:.1f}x faster",
                      flush=True)
    if a.json:
        a.json.write_text(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": results}, indent=1))


if __name__ == "__main__":
    main()
