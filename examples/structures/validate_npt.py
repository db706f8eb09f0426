#!/usr/bin/env python
"""NPT validation of the relaxed models against the published lattices (LAMMPS + pair_style m3gnet).

For each phase: supercell with every width > 10 A, velocities at T, ``fix npt`` (1 bar; ``aniso``
for orthogonal cells, ``tri`` for the monoclinic one), time step 1 fs, Nose-Hoover damping 0.1 ps
(T) and 1 ps (P). The lattice of the unit cell (supercell / replication) is sampled every
``--sample-every`` steps; mean +- std over the second half of the run. Compares with the published
values (SCIENCE.md) and writes ``validation.json``. Not part of CI.

    python examples/structures/validate_npt.py --model nabh_f32.pt --steps 2000 --out-dir /tmp/npt
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from pydriver.structures import prepare_system, read_structure

log = logging.getLogger("validate_npt")
HERE = Path(__file__).resolve().parent
#: phase -> (file, temperature_K, published lattice {a_A, b_A, c_A, volume_A3} (None: not published here), source)
PHASES = {
    "oNBH": ("oNBH.extxyz", 523.0, {"a_A": 8.0083, "b_A": 21.881, "c_A": 7.7672, "volume_A3": 1361.05},
             "Sadikin et al., Adv. Energy Mater. 5, 1501016 (2015), 523 K"),
    "Na2B12H12": ("Na2B12H12.extxyz", 298.0, {"a_A": None, "b_A": None, "c_A": None, "volume_A3": 537.3},
                  "Verdal et al., J. Solid State Chem. 212, 81 (2014), 298 K (deuteride)"),
    "NaBH4": ("NaBH4_relaxed.extxyz", 298.0, {"a_A": 6.16, "b_A": 6.16, "c_A": 6.16, "volume_A3": 6.16**3},
              "NaBH4 Fm-3m at room temperature, a = 6.16 A (SCIENCE.md)"),
}


def cellpar_from_box(lmp) -> np.ndarray:
    """(a, b, c, alpha, beta, gamma) of the current LAMMPS box (A, deg)."""
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    lx, ly, lz = (np.array(boxhi) - np.array(boxlo))
    cell = np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])
    from ase.geometry import cell_to_cellpar

    return cell_to_cellpar(cell)


def run_phase(name: str, model: Path, steps: int, sample_every: int, seed: int, workdir: Path) -> dict:
    """NPT of one phase; lattice statistics of the unit cell."""
    from pydriver.lammps.session import start_lammps

    file, temperature_K, published, source = PHASES[name]
    atoms = read_structure(HERE / file)
    system = prepare_system(atoms, None, 10.0)
    data = system.write_data(workdir / f"{name}.data")
    rep = np.array(system.replication, dtype=float)
    couple = "tri" if system.box.is_triclinic else "aniso"
    lmp = start_lammps()
    for line in ("units metal", "atom_style full", "boundary p p p", f"read_data {data}",
                 "pair_style m3gnet", f"pair_coeff * * {model} {' '.join(system.pair_coeff_elements)}",
                 "timestep 0.001", f"velocity all create {temperature_K} {seed} dist gaussian mom yes rot yes",
                 f"fix md all npt temp {temperature_K} {temperature_K} 0.1 {couple} 1.0 1.0 1.0",
                 "thermo 0"):
        lmp.command(line)
    samples = []
    t0 = time.time()
    for step in range(0, steps, sample_every):
        lmp.command(f"run {sample_every} pre no post no")
        par = cellpar_from_box(lmp)
        par[:3] /= rep
        samples.append([step + sample_every, *par, lmp.get_thermo("vol") / rep.prod(), lmp.get_thermo("temp")])
    wall = time.time() - t0
    lmp.close()
    samples = np.array(samples)
    half = samples[len(samples) // 2:]
    keys = ["a_A", "b_A", "c_A", "alpha_deg", "beta_deg", "gamma_deg", "volume_A3", "temperature_K"]
    mean = {k: float(half[:, i + 1].mean()) for i, k in enumerate(keys)}
    std = {k: float(half[:, i + 1].std()) for i, k in enumerate(keys)}
    dev = {k: (100 * (mean[k] / v - 1) if v else None) for k, v in published.items()}
    relaxed = {"a_A": atoms.cell.lengths()[0], "b_A": atoms.cell.lengths()[1], "c_A": atoms.cell.lengths()[2],
               "volume_A3": atoms.get_volume()}
    log.info("%s: %d steps in %.0f s; V = %.1f +- %.1f A^3 (published %s)", name, steps, wall, mean["volume_A3"],
             std["volume_A3"], published["volume_A3"])
    return {"temperature_K": temperature_K, "source": source, "published": published, "relaxed_0K": relaxed,
            "npt_mean": mean, "npt_std": std, "deviation_from_published_percent": dev,
            "supercell": list(system.replication), "n_atoms": len(system.atoms), "couple": couple,
            "steps": steps, "dt_ps": 0.001, "averaged_over_ps": 0.001 * (steps - steps // 2),
            "wall_s": round(wall, 1), "trace": samples.round(5).tolist()}


def main(argv: list[str] | None = None) -> int:
    """Run the NPT validation (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="exported model (.pt)")
    parser.add_argument("--phases", nargs="+", default=list(PHASES), choices=list(PHASES))
    parser.add_argument("--steps", type=int, default=2000, help="NPT steps of 1 fs per phase")
    parser.add_argument("--sample-every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=4928)
    parser.add_argument("--out-dir", type=Path, default=HERE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / "validation.json"
    results = json.loads(out.read_text()) if out.is_file() else {}
    for name in args.phases:
        results[name] = run_phase(name, args.model.resolve(), args.steps, args.sample_every, args.seed, args.out_dir)
        results[name]["model"] = args.model.name
        out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
