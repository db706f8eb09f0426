#!/usr/bin/env python
"""NPT validation of the relaxed models against the published lattices, from the study's own runs.

The study (``examples/study_cpu/study.yaml``) runs each phase with the plugin at its measured
temperature (o-NBH 523 K, Na2B12H12 and NaBH4 298 K): NPT at 1 bar, 1 fs, Nose-Hoover damping 0.1 ps
(T) and 1 ps (P), ``aniso`` for the orthogonal cells and ``tri`` for the monoclinic one. This script
reads those run directories (``run.json`` + ``log.lammps``, whose thermo rows print the box every
``thermo_every`` steps), divides the box by the supercell replication, and compares the mean lattice
over the production part with the published one. Convergence: the means of the first and second
halves of the production part, and their difference (in %, per lattice parameter). Writes
``validation.json`` beside this script and prints a markdown table.

    .venv/bin/python examples/structures/validate_npt.py examples/study_cpu/results

Sources of the published values: SCIENCE.md and the issue quoting them (see ``PHASES``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from pydriver.analysis.run_inputs import box_cellpar, production_records
from pydriver.rundir import LOG_FILE, MANIFEST_FILE, RunManifest
from pydriver.structures import read_structure

log = logging.getLogger("validate_npt")
HERE = Path(__file__).resolve().parent
KEYS = ("a_A", "b_A", "c_A", "alpha_deg", "beta_deg", "gamma_deg", "volume_A3")
#: phase -> (structure file, measured temperature_K, published lattice (None: not published), source)
PHASES = {
    "oNBH": ("oNBH.extxyz", 523.0, {"a_A": 8.0083, "b_A": 21.881, "c_A": 7.7672, "volume_A3": 1361.05},
             "Sadikin et al., Adv. Energy Mater. 5, 1501016 (2015), doi 10.1002/aenm.201501016, 523 K"),
    "Na2B12H12": ("Na2B12H12.extxyz", 298.0, {"volume_A3": 537.3},
                  "Verdal et al., J. Solid State Chem. 212, 81 (2014), 298 K (deuteride); structure Her et al. "
                  "(ICSD 164649)"),
    "NaBH4": ("NaBH4_relaxed.extxyz", 298.0, {"a_A": 6.16, "b_A": 6.16, "c_A": 6.16, "volume_A3": 6.16**3},
              "NaBH4 Fm-3m at room temperature, a = 6.16 A (density 1.07 g/cm^3; SCIENCE.md)"),
}


def lattice_series(run_dir: Path) -> tuple[RunManifest, np.ndarray, np.ndarray]:
    """Production thermo rows of a run as unit-cell lattice parameters.

    Returns
    -------
    manifest, steps (n,), lattice (n, 7): a, b, c (A), alpha, beta, gamma (deg), volume (A^3) of the
    unit cell (box lengths divided by the supercell replication, volume by its product).

    Raises
    ------
    ValueError
        If ``log.lammps`` has no production rows with the box columns ``Lx Ly Lz``.
    """
    manifest = RunManifest.from_dict(json.loads((run_dir / MANIFEST_FILE).read_text()), str(run_dir / MANIFEST_FILE))
    records = production_records(run_dir / LOG_FILE, manifest.production_start_step or 0)
    cellpar = box_cellpar(records)
    if cellpar is None or len(records) < 4:
        raise ValueError(f"{run_dir / LOG_FILE}: fewer than 4 production thermo rows with Lx Ly Lz")
    rep = np.array(manifest.supercell or [1, 1, 1], dtype=float)
    cellpar[:, :3] /= rep
    volume = np.array([r["Volume"] for r in records]) / rep.prod()
    return manifest, np.array([int(r["Step"]) for r in records]), np.column_stack([cellpar, volume])


def validate_run(name: str, run_dir: Path) -> dict:
    """Mean +- std of the unit-cell lattice over the production part, halves, and deviation from published."""
    file, temperature_K, published, source = PHASES[name]
    manifest, steps, lat = lattice_series(run_dir)
    half = len(lat) // 2
    mean, std = lat.mean(axis=0), lat.std(axis=0, ddof=1)
    first, second = lat[:half].mean(axis=0), lat[half:].mean(axis=0)
    relaxed = read_structure(HERE / file)
    relaxed_par = [*relaxed.cell.cellpar(), relaxed.get_volume()]
    dt_ps = manifest.dt_ps
    return {
        "run": run_dir.name, "temperature_K": manifest.temperature_K, "measured_at_K": temperature_K,
        "source": source, "published": published,
        "relaxed_0K": dict(zip(KEYS, map(float, relaxed_par))),
        "npt_mean": dict(zip(KEYS, map(float, mean))), "npt_std": dict(zip(KEYS, map(float, std))),
        "halves_difference_percent": dict(zip(KEYS, map(float, 100 * (second / first - 1)))),
        "deviation_from_published_percent": {k: float(100 * (mean[KEYS.index(k)] / v - 1))
                                             for k, v in published.items()},
        "supercell": manifest.supercell, "n_atoms": manifest.n_atoms, "couple": manifest.barostat.get("couple"),
        "averaged_over_ps": float((steps[-1] - steps[0]) * dt_ps), "n_rows": int(len(lat)),
        "equilibration_ps": float((manifest.equil_steps or 0) * dt_ps),
    }


def find_runs(results_dir: Path) -> dict[str, Path]:
    """Phase -> the run directory of that phase at its measured temperature, unscaled masses."""
    found = {}
    for manifest_file in sorted(results_dir.glob(f"*/{MANIFEST_FILE}")):
        manifest = json.loads(manifest_file.read_text())
        source = Path(manifest.get("structure_source") or "").name
        for name, (file, temperature_K, _, _) in PHASES.items():
            if (source == file and abs(manifest["temperature_K"] - temperature_K) < 1e-6
                    and all(float(f) == 1.0 for f in manifest.get("mass_factors", {}).values())):
                found[name] = manifest_file.parent
    return found


def markdown_table(results: dict) -> str:
    """Published vs relaxed (0 K) vs NPT mean +- std, one row per phase and lattice parameter."""
    lines = ["| phase | T (K) | quantity | published | relaxed 0 K | NPT mean +- std | deviation | halves |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for key in KEYS:
            if key not in r["published"] and key not in ("a_A", "b_A", "c_A", "beta_deg"):
                continue
            pub = r["published"].get(key)
            dev = r["deviation_from_published_percent"].get(key)
            lines.append(f"| {name} | {r['temperature_K']:g} | {key} | {'' if pub is None else f'{pub:g}'} | "
                         f"{r['relaxed_0K'][key]:.3f} | {r['npt_mean'][key]:.3f} +- {r['npt_std'][key]:.3f} | "
                         f"{'' if dev is None else f'{dev:+.1f} %'} | {r['halves_difference_percent'][key]:+.2f} % |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Validate (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="the study's sweep folder (run directories inside)")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "validation.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runs = find_runs(args.results)
    missing = sorted(set(PHASES) - set(runs))
    if missing:
        raise SystemExit(f"validate_npt.py: no finished run at the measured temperature for {missing} in {args.results}")
    results = {name: validate_run(name, run_dir) for name, run_dir in runs.items()}
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown_table(results))
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
