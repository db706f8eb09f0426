"""Plugin speed vs the matgl 1.3.0 DGL reference on NaBH4 supercells (CPU), printed as ratios.

    .venv/bin/python benchmarks/bench_plugin.py --refenv ../refenv [--threads 1] [--steps 10]

For each cell (24-atom ordered NaBH4 x 2^3, 3^3, 4^3 = 192, 648, 1536 atoms) it measures, in the same
run: LAMMPS ms/step with ``pair_style m3gnet`` (NVE, float64 and float32 exports) and the reference's
time for one energy+forces+stress call (corrected three-body indexing, float64 and float32), both with
the same number of threads. The reference env is built by ``../shared/tools/reference-env.sh``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import ase.io
from ase.io.lammpsdata import write_lammps_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pydriver.lammps.session import lammps_env, lmp_executable  # noqa: E402
from pydriver.m3gnet.export import export_checkpoint  # noqa: E402

MODELS = Path(os.environ.get("M3GNET_MODELS_DIR", ROOT.parent / "shared" / "models"))
TOOLS = ROOT.parent / "shared" / "tools"
DECK = """units metal
atom_style atomic
read_data data.lmp
pair_style m3gnet
pair_coeff * * {model} Na B H
velocity all create 300 1
fix nve all nve
run 1
run {steps}
"""
REF_SCRIPT = """
import sys, time, torch, ase.io, matgl
sys.path.insert(0, {tools!r})
import reference_calc as rc
rc.correct_three_body_indexing()
if {dtype!r} == "float64":
    matgl.set_default_dtype("float", 64)
torch.set_num_threads({threads})
pot = rc.load_potential(__import__("pathlib").Path({model!r}))
atoms = ase.io.read({xyz!r})
with torch.enable_grad():
    rc.evaluate(pot, atoms)
    best = 1e9
    for _ in range(3):
        t = time.perf_counter(); rc.evaluate(pot, atoms); best = min(best, time.perf_counter() - t)
print("REF_SECONDS", best)
"""


def plugin_ms_per_step(atoms, model: Path, steps: int, threads: int, tmp: Path) -> float:
    write_lammps_data(tmp / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
    (tmp / "in.bench").write_text(DECK.format(model=model, steps=steps))
    env = dict(lammps_env(), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([lmp_executable(), "-in", "in.bench", "-log", "none"], cwd=tmp, env=env,
                         capture_output=True, text=True, check=True).stdout
    loop = re.findall(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps", out)[-1]
    return 1000 * float(loop[0]) / int(loop[1])


def reference_ms(refenv: Path, xyz: Path, dtype: str, threads: int) -> float:
    script = REF_SCRIPT.format(tools=str(TOOLS), dtype=dtype, threads=threads,
                               model=str(MODELS / "M3GNet-r2SCAN-NaBH"), xyz=str(xyz))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([str(refenv / "bin" / "python"), "-c", script], env=env, capture_output=True,
                         text=True, check=True).stdout
    return 1000 * float(re.search(r"REF_SECONDS ([\d.eE+-]+)", out).group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refenv", type=Path, required=True)
    ap.add_argument("--reps", type=int, nargs="+", default=[2, 3, 4], help="replications of the 24-atom cell")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    base = ase.io.read(ROOT / "examples" / "structures" / "NaBH4.extxyz")
    print(f"threads={a.threads}  (ms/step: plugin MD step incl. neighbour list; ref: one E+F+S call)")
    print(f"{'atoms':>6} {'dtype':>8} {'plugin ms/step':>15} {'atom-steps/s':>13} {'ref ms/call':>12} {'ref/plugin':>11}")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        models = {dt: export_checkpoint(MODELS / "M3GNet-r2SCAN-NaBH", tmp / f"m_{dt}.pt", dtype=dt)
                  for dt in ("float64", "float32")}
        for n in a.reps:
            atoms = base * (n, n, n)
            xyz = tmp / f"cell{n}.extxyz"
            ase.io.write(xyz, atoms)
            for dt, model in models.items():
                ms = plugin_ms_per_step(atoms, model, a.steps, a.threads, tmp)
                ref = reference_ms(a.refenv, xyz, dt, a.threads)
                print(f"{len(atoms):>6} {dt:>8} {ms:>15.1f} {len(atoms) / ms * 1000:>13.0f} {ref:>12.1f} "
                      f"{ref / ms:>10.2f}x", flush=True)


if __name__ == "__main__":
    main()
