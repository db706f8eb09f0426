"""A report from synthetic runs with a known answer: what `python -m pydriver report` shows.

Na ions random-walk with D(T) = D0 exp(-Ea / kB T) (Ea = 0.20 eV, D0 = 1e-3 cm^2/s) among rigid BH4
rotors whose angular speed falls as 1/sqrt(mass factor); 5 temperatures at mass factor 1 and mass
factors 2, 5 at 500 K. Each run directory gets a LAMMPS dump and a run.json as a deck would write,
then goes through `analyze` and `report` exactly as real runs do. Used for the README's report
images (docs/images/report_*.png); the real study is examples/study_cpu.

    .venv/bin/python examples/report_demo/make_report_demo.py OUT_DIR [--images docs/images]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from pydriver.analysis.synthetic import random_walk, rigid_rotors, write_lammps_dump
from pydriver.cli.main import main as pydriver_main
from pydriver.rundir import DUMP_FILE, RUN_FORMAT, RunManifest
from pydriver.units import BOLTZMANN_EV_K

EA_EV, D0_CM2_S = 0.20, 1e-3
N_NA, N_BH4, N_FRAMES, DT_FRAME_PS, BOX_A = 32, 16, 600, 0.5, 20.0
BH4_A = np.array([[0, 0, 0], [0.7, 0.7, 0.7], [0.7, -0.7, -0.7], [-0.7, 0.7, -0.7], [-0.7, -0.7, 0.7]])
TYPES = [{"type": 1, "label": "Na", "element": "Na", "anion": None, "mass_amu": 22.98977},
         {"type": 2, "label": "B_BH4", "element": "B", "anion": "BH4", "mass_amu": 10.811},
         {"type": 3, "label": "H_BH4", "element": "H", "anion": "BH4", "mass_amu": 1.008}]
RUNS = [(400.0, 1.0), (450.0, 1.0), (500.0, 1.0), (550.0, 1.0), (600.0, 1.0), (500.0, 2.0), (500.0, 5.0)]


def write_run(folder: Path, temperature_K: float, mass_factor: float, seed: int) -> None:
    """One synthetic run directory (dump + run.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    d_cm2_s = D0_CM2_S * np.exp(-EA_EV / (BOLTZMANN_EV_K * temperature_K))
    rng = np.random.default_rng(seed)
    na = random_walk(N_FRAMES, N_NA, d_cm2_s, DT_FRAME_PS, seed=seed, start_A=rng.uniform(0, BOX_A, (N_NA, 3)))
    centers = rng.uniform(2, BOX_A - 2, (N_BH4, 3))
    anions = rigid_rotors(N_FRAMES, centers, BH4_A, 2.0 / np.sqrt(mass_factor), DT_FRAME_PS, seed=seed)
    types = np.array([1] * N_NA + [2, 3, 3, 3, 3] * N_BH4)
    mol = np.array([0] * N_NA + list(np.repeat(np.arange(1, N_BH4 + 1), 5)))
    dump_every = int(round(DT_FRAME_PS / 0.001))
    steps = dump_every * np.arange(N_FRAMES)
    write_lammps_dump(folder / DUMP_FILE, np.concatenate([na, anions], axis=1), types, np.diag([BOX_A] * 3), steps,
                      mol)
    manifest = {"format": RUN_FORMAT, "formula": "Na32B16H64", "n_atoms": len(types), "types": TYPES,
                "mass_factors": {"BH4": mass_factor}, "temperature_K": temperature_K, "dt_ps": 0.001,
                "dump_every": dump_every, "production_start_step": 0, "dump_file": DUMP_FILE,
                "structure_source": "synthetic"}
    RunManifest.from_dict(manifest).write(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the run directories and the report")
    parser.add_argument("--images", type=Path, help="copy the report's PNGs here as report_<name>.png")
    args = parser.parse_args()
    for seed, (t, m) in enumerate(RUNS):
        run = args.out / "runs" / f"T{t:g}_bh4x{m:g}"
        write_run(run, t, m, seed)
        assert pydriver_main(["analyze", str(run), "--max-frames", "50"]) == 0
    assert pydriver_main(["report", str(args.out / "runs"), "-o", str(args.out / "report")]) == 0
    if args.images:
        args.images.mkdir(parents=True, exist_ok=True)
        for png in sorted((args.out / "report").glob("*.png")):
            shutil.copy(png, args.images / f"report_{png.name}")
        shutil.copy(args.out / "runs" / "T500_bh4x1" / "msd.png", args.images / "report_msd_T500.png")
    report = json.loads((args.out / "report" / "report.json").read_text())
    fits = [g["fit"] for g in report["arrhenius"].values() if g.get("fit")]
    print(json.dumps({"ea_true_eV": EA_EV, "fits": fits}, indent=1, default=str)[:2000])


if __name__ == "__main__":
    main()
