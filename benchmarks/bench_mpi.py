"""Strong scaling of ``pair_style m3gnet`` under MPI (np = 1, 2) and the halo speed-up over shell.

    .venv/bin/python benchmarks/bench_mpi.py [--steps 5] [--dtype float32] [--shell]

Cells: the 32-atom mixed Na3(BH4)(B12H12) test cell x (2,4,4) = 1024 atoms and x (4,4,8) = 4096 atoms.
Prints ms/step for np=1 and np=2 (comm halo), the parallel efficiency t1 / (2 t2), and with --shell
the time of one step in comm shell mode on np=2 for the 1024-atom cell (its ghost shell is
nblocks x (cutoff + 3-body cutoff) = 27 A, so it is slow). One OpenMP thread per rank.
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


def ms_per_step(tmp: Path, model: Path, nprocs: int, args: str, steps: int) -> float:
    (tmp / "in.bench").write_text(DECK.format(model=model, args=args, steps=steps))
    env = dict(lammps_env(), OMP_NUM_THREADS="1")
    mpirun = str(Path(sys.executable).parent / "mpirun")
    out = subprocess.run([mpirun, "-np", str(nprocs), lmp_executable(), "-in", "in.bench", "-log", "none"],
                         cwd=tmp, env=env, capture_output=True, text=True, check=True).stdout
    loop = re.findall(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps", out)[-1]
    return 1000 * float(loop[0]) / int(loop[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--shell", action="store_true", help="also time comm shell (slow)")
    a = ap.parse_args()
    frames = ase.io.read(ROOT / "tests" / "data" / "golden" / "structures_nabh.extxyz", index=":")
    mixed = next(f for f in frames if f.info["name"] == "na3_bh4_b12h12_mixed")
    print(f"{'atoms':>6} {'np=1 ms/step':>13} {'np=2 ms/step':>13} {'speed-up':>9} {'efficiency':>11}")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        model = export_checkpoint(MODELS / "M3GNet-r2SCAN-NaBH", tmp / "m.pt", dtype=a.dtype)
        for reps in ((2, 4, 4), (4, 4, 8)):
            atoms = mixed * reps
            write_lammps_data(tmp / "data.lmp", atoms, specorder=["Na", "B", "H"], masses=True, units="metal")
            t1 = ms_per_step(tmp, model, 1, "", a.steps)
            t2 = ms_per_step(tmp, model, 2, "comm halo", a.steps)
            print(f"{len(atoms):>6} {t1:>13.0f} {t2:>13.0f} {t1 / t2:>8.2f}x {t1 / (2 * t2):>10.0%}", flush=True)
            if a.shell and len(atoms) == 1024:
                ts = ms_per_step(tmp, model, 2, "comm shell", 1)
                print(f"{'':>6} np=2 comm shell {ts:.0f} ms/step: halo is {ts / t2:.1f}x faster", flush=True)


if __name__ == "__main__":
    main()
