"""Benchmark of the mechanism analysis (sites, hops, reorientation) on an o-NBH-sized synthetic cell.

1024 atoms like the study's 2x2x2 o-NBH supercell: 96 Na hopping on a site lattice
(``site_lattice_gas``), 32 BH4 (160 atoms) and 32 B12H12 (768 atoms) in rotational diffusion.
Positions are float32 like the reader's memory map. Timed: ``mechanism.mechanism`` end to end
(wrapped fractional positions, sites from the density, core-state assignment, occupancy, hop
statistics, C_1/C_2 and reorientation events of both anion kinds), once per frame count, on one
core (``OMP_NUM_THREADS=1`` etc. are set before numpy is imported). The target is 10,000 frames
in <= 5 min; the cost is linear in frames and atoms, so smaller runs extrapolate.

Run: .venv/bin/python benchmarks/bench_mechanism.py [--frames 1000 2000] [--out results/mechanism.json]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from pydriver.analysis import mechanism  # noqa: E402
from pydriver.analysis.molecules import Molecules  # noqa: E402
from pydriver.analysis.synthetic import (icosahedron_offsets, rotational_diffusion, site_lattice_gas,  # noqa: E402
                                         tetrahedron_offsets)

DT_PS = 0.02
N_NA, N_BH4, N_B12 = 96, 32, 32
TARGET_FRAMES = 10_000


def build(n_frames: int, seed: int = 0):
    """Positions (n_frames, 1024, 3) float32, cells, per-atom elements/masses and the anions."""
    na, truth = site_lattice_gas(n_frames, N_NA, DT_PS, 0.1, 500.0, 0.05, n_per_edge=8, seed=seed)
    box = truth.cell_A[0, 0]
    rng = np.random.default_rng(seed)
    bh4 = np.vstack([[0.0, 0.0, 0.0], tetrahedron_offsets()])
    cage = icosahedron_offsets(1.70)
    b12 = np.vstack([cage, cage * 2.89 / 1.70])
    parts = [na, rotational_diffusion(n_frames, rng.uniform(0, box, (N_BH4, 3)), bh4, 0.25, DT_PS, seed + 1),
             rotational_diffusion(n_frames, rng.uniform(0, box, (N_B12, 3)), b12, 0.05, DT_PS, seed + 2)]
    positions = np.concatenate(parts, axis=1).astype(np.float32)
    elements = np.array(["Na"] * N_NA + ["B", "H", "H", "H", "H"] * N_BH4 + (["B"] * 12 + ["H"] * 12) * N_B12)
    masses = np.select([elements == "Na", elements == "B"], [22.99, 10.81], 1.008)
    members, kinds, start = [], [], N_NA
    for size, kind, count in ((5, "BH4", N_BH4), (24, "B12H12", N_B12)):
        for _ in range(count):
            members.append(np.arange(start, start + size))
            kinds.append(kind)
            start += size
    return positions, np.broadcast_to(truth.cell_A, (n_frames, 3, 3)), elements, masses, Molecules(members, kinds, "mol")


def time_one(n_frames: int) -> dict:
    positions, cells, elements, masses, mols = build(n_frames)
    t0 = time.perf_counter()
    ions = np.asarray(positions[:, :N_NA], dtype=np.float64)
    mech = mechanism.mechanism(ions, cells, DT_PS, mols, positions, elements, masses)
    seconds = time.perf_counter() - t0
    return {"frames": n_frames, "atoms": int(positions.shape[1]), "seconds": round(seconds, 2),
            "n_sites": mech["sites"]["n_sites"], "hops": mech["hops"]["n_hops"],
            "tau_1_BH4_ps": mech["reorientation"]["BH4"]["tau_1_ps"],
            "tau_1_B12H12_ps": mech["reorientation"]["B12H12"]["tau_1_ps"]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = [time_one(n) for n in args.frames]
    per_frame = rows[-1]["seconds"] / rows[-1]["frames"]
    for row in rows:
        print(json.dumps(row))
    print(f"extrapolated to {TARGET_FRAMES} frames x 1024 atoms: {per_frame * TARGET_FRAMES:.0f} s "
          f"(linear from {rows[-1]['frames']} frames)")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "extrapolated_10000_frames_s": per_frame * TARGET_FRAMES},
                                       indent=2))


if __name__ == "__main__":
    main()
