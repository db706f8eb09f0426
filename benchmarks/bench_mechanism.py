"""Benchmark of the mechanism analysis (sites, hops, reorientation) on an o-NBH-sized synthetic cell.

1024 atoms like the study's 2x2x2 o-NBH supercell: 96 Na hopping on a site lattice
(``site_lattice_gas``), 32 BH4 (160 atoms) and 32 B12H12 (768 atoms) in rotational diffusion.
Positions are float32 like the reader's memory map. Timed: ``mechanism.mechanism`` end to end
(wrapped fractional positions, sites from the density, core-state assignment, occupancy, hop
statistics, C_1/C_2 and reorientation events of both anion kinds), once per frame count, on one
core (``OMP_NUM_THREADS=1`` etc. are set before numpy is imported). The target is 10,000 frames
in <= 5 min; the cost is linear in frames and atoms, so smaller runs extrapolate.

``--calibrate N``: coverage of the 95 % intervals (and 68 % for tau) over N synthetic runs with
known answers: hop rate, back-jump probability, family occupancy and residence time on the site
lattice (64 ions, 40 ps, ~20 hops per ion, true sites), tau_1 and tau_2 of rotational diffusion
(16 BH4, 20 ps, D_r = 0.25 /ps), event rate of tetrahedral C3 jumps (16 BH4, 40 ps, 0.5 /ps), and
the rotation-hop enhancement factor with 3x and with no injected coupling (96 ions, 216 BH4, 60 ps,
``coupled_hops_and_jumps``; ``--calibrate-coupling M`` runs, as each takes ~2 s).

Run: .venv/bin/python benchmarks/bench_mechanism.py [--frames 1000 2000] [--calibrate 200 [--calibrate-coupling 100]]
[--out FILE]
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

from pydriver.analysis import hops, mechanism, reorientation, sites  # noqa: E402
from pydriver.analysis.molecules import Molecules  # noqa: E402
from pydriver.analysis.synthetic import (coupled_hops_and_jumps, icosahedron_offsets, orientation_jumps,  # noqa: E402
                                         rotational_diffusion, site_lattice_gas, tetrahedron_offsets)

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
    cells = np.broadcast_to(truth.cell_A, (n_frames, 3, 3))
    return positions, cells, elements, masses, Molecules(members, kinds, "mol")


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


def _inside(interval, value) -> bool:
    return bool(interval[0] <= value <= interval[1])


def _coupling(factor: float, seed: int) -> dict:
    ions, anions, truth = coupled_hops_and_jumps(3001, 96, DT_PS, 0.3, 0.1, factor, seed=seed)
    n_anions = anions.shape[1] // 5
    elements = np.array(["Na"] * 96 + ["B", "H", "H", "H", "H"] * n_anions)
    masses = np.select([elements == "Na", elements == "B"], [22.99, 10.81], 1.008)
    mols = Molecules([96 + np.arange(5 * i, 5 * i + 5) for i in range(n_anions)], ["BH4"] * n_anions, "mol")
    mech = mechanism.mechanism(ions, np.broadcast_to(truth.cell_A, (3001, 3, 3)), DT_PS, mols,
                               np.concatenate([ions, anions], axis=1), elements, masses)
    return mech["coupling"]["BH4"]


def calibrate(n_runs: int, n_coupling: int = 0) -> dict:
    """Coverage and bias of the mechanism estimators over ``n_runs`` synthetic runs per case."""
    rows: dict[str, list] = {k: [] for k in ("rate", "back", "occupancy", "residence", "tau_1", "tau_2", "events",
                                             "coupling_3x", "coupling_none")}
    for seed in range(n_runs):
        pos, truth = site_lattice_gas(2001, 64, DT_PS, 0.1, 500.0, 0.05, seed=10_000 + seed)
        frac = sites.wrapped_fractional(pos, np.broadcast_to(truth.cell_A, (2001, 3, 3)))
        given = sites.Sites(truth.site_frac, truth.cell_A, sites.core_radii(truth.site_frac, truth.cell_A),
                            "structure", truth.site_family)
        states = sites.assign_sites(frac, given)
        occ = sites.occupancy(states, given, DT_PS)
        h = hops.hop_statistics(states, given, DT_PS, occ["occupied_time_ps"])
        rows["rate"].append((h["rate_per_ion_per_ps"] / truth.hop_rate_per_ion_per_ps,
                             _inside(h["rate_per_ion_per_ps_ci95"], truth.hop_rate_per_ion_per_ps)))
        rows["back"].append((h["back_jump_probability"] * 6.0, _inside(h["back_jump_probability_ci95"], 1 / 6)))
        for fam in occ["families"]:
            exact = truth.family_occupancy[fam["family"]]
            rows["occupancy"].append((fam["occupancy_per_site"] / exact,
                                      _inside(fam["occupancy_per_site_ci95"], exact)))
        for fam in h["residence_by_family"]:
            exact = truth.residence_time_ps[int(fam["name"])]
            rows["residence"].append((fam["residence_time_ps"] / exact, _inside(fam["residence_time_ci95_ps"], exact)))
    offsets = np.vstack([[0.0, 0.0, 0.0], tetrahedron_offsets()])
    elements = np.array(["B", "H", "H", "H", "H"] * 16)
    masses = np.where(elements == "B", 10.81, 1.008)
    mols = Molecules([np.arange(5 * i, 5 * i + 5) for i in range(16)], ["BH4"] * 16, "mol")
    centres = np.random.default_rng(0).uniform(0, 20, (16, 3))
    for seed in range(n_runs):
        pos = rotational_diffusion(1001, centres, offsets, 0.25, DT_PS, seed=20_000 + seed)
        out = reorientation.anion_reorientation(pos, np.broadcast_to(np.eye(3) * 20, (1001, 3, 3)), mols, elements,
                                                masses, DT_PS)["BH4"]
        for l, exact in ((1, 2.0), (2, 2.0 / 3.0)):
            rows[f"tau_{l}"].append((out[f"tau_{l}_ps"] / exact, _inside(out[f"tau_{l}_ci95_ps"], exact),
                                     _inside(out[f"tau_{l}_ci68_ps"], exact)))
        pos, jumps = orientation_jumps(2001, centres, offsets, 0.5, DT_PS, seed=30_000 + seed)
        out = reorientation.anion_reorientation(pos, np.broadcast_to(np.eye(3) * 20, (2001, 3, 3)), mols, elements,
                                                masses, DT_PS)["BH4"]
        rows["events"].append((out["event_rate_per_anion_per_ps"] / 0.5,
                               _inside(out["event_rate_per_anion_per_ps_ci95"], 0.5)))
    for seed in range(n_coupling):
        for factor, name in ((3.0, "coupling_3x"), (1.0, "coupling_none")):
            out = _coupling(factor, 40_000 + seed)
            rows[name].append((out["enhancement_factor"] / factor, _inside(out["enhancement_factor_ci95"], factor),
                               _inside(out["enhancement_factor_ci68"], factor)))
    table = {}
    for name, values in rows.items():
        if not values:
            continue
        arr = np.array(values, dtype=np.float64)
        table[name] = {"n": int(arr.shape[0]), "mean_ratio": round(float(arr[:, 0].mean()), 4),
                       "sd_ratio": round(float(arr[:, 0].std()), 4),
                       "within_10_percent": round(float((np.abs(arr[:, 0] - 1) <= 0.1).mean()), 3),
                       "coverage95": round(float(arr[:, 1].mean()), 3)}
        if arr.shape[1] > 2:
            table[name]["coverage68"] = round(float(arr[:, 2].mean()), 3)
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--calibrate", type=int, default=0, metavar="N", help="coverage over N synthetic runs")
    parser.add_argument("--calibrate-coupling", type=int, default=0, metavar="M", help="coupling runs per factor")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.calibrate or args.calibrate_coupling:
        table = calibrate(args.calibrate, args.calibrate_coupling)
        for name, row in table.items():
            print(name, json.dumps(row))
        if args.out:
            args.out.write_text(json.dumps(table, indent=2))
        return
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
