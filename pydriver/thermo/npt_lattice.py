"""Lattices from NPT molecular dynamics: the mean unit cell of a run at a temperature, against the
published one and the relaxed 0 K one (thermal expansion as the MD sees it).

A run directory (``run.json`` + ``log.lammps``, whose thermo rows print the box) gives the box per
row; dividing by the supercell replication gives the unit cell. Over the production part: mean and
standard deviation, and the means of the two halves (their difference is the convergence check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pydriver.analysis.run_inputs import box_cellpar, production_records
from pydriver.rundir import LOG_FILE, MANIFEST_FILE, RunManifest
from pydriver.structures import read_structure
from pydriver.structures.search.na2b12h12 import PUBLISHED_VOLUME_A3
from pydriver.structures.search.onbh import PUBLISHED_CELL_A

#: lattice quantities, in the column order of :func:`lattice_series`
KEYS = ("a_A", "b_A", "c_A", "alpha_deg", "beta_deg", "gamma_deg", "volume_A3")


@dataclass(frozen=True)
class MeasuredLattice:
    """A phase's structure model and its measured lattice.

    Attributes
    ----------
    structure_file : file name of the relaxed model (also how a run's ``structure_source`` is matched).
    measured_at_K : temperature of the measurement, in K.
    published : measured lattice quantities (keys of :data:`KEYS`; only those published).
    source : reference.
    """

    structure_file: str
    measured_at_K: float
    published: dict
    source: str


#: the Na-B-H phases of the study (SCIENCE.md)
NABH_MEASURED = {
    "oNBH": MeasuredLattice("oNBH.extxyz", 523.0, {"a_A": PUBLISHED_CELL_A[0], "b_A": PUBLISHED_CELL_A[1],
                                                  "c_A": PUBLISHED_CELL_A[2], "volume_A3": 1361.05},
                            "Sadikin et al., Adv. Energy Mater. 5, 1501016 (2015), doi 10.1002/aenm.201501016, 523 K"),
    "Na2B12H12": MeasuredLattice("Na2B12H12.extxyz", 298.0, {"volume_A3": PUBLISHED_VOLUME_A3},
                                 "Verdal et al., J. Solid State Chem. 212, 81 (2014), 298 K (deuteride); structure "
                                 "Her et al. (ICSD 164649)"),
    "NaBH4": MeasuredLattice("NaBH4_relaxed.extxyz", 298.0, {"a_A": 6.16, "b_A": 6.16, "c_A": 6.16, "volume_A3": 6.16**3},
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
        If ``log.lammps`` has fewer than 4 production rows with the box columns ``Lx Ly Lz``.
    """
    run_dir = Path(run_dir)
    manifest = RunManifest.from_dict(json.loads((run_dir / MANIFEST_FILE).read_text()), str(run_dir / MANIFEST_FILE))
    records = production_records(run_dir / LOG_FILE, manifest.production_start_step or 0)
    cellpar = box_cellpar(records)
    if cellpar is None or len(records) < 4:
        raise ValueError(f"{run_dir / LOG_FILE}: fewer than 4 production thermo rows with Lx Ly Lz "
                         "(add Lx Ly Lz Xy Xz Yz Volume to the thermo output)")
    rep = np.array(manifest.supercell or [1, 1, 1], dtype=float)
    cellpar[:, :3] /= rep
    volume = np.array([r["Volume"] for r in records]) / rep.prod()
    return manifest, np.array([int(r["Step"]) for r in records]), np.column_stack([cellpar, volume])


def validate_run(measured: MeasuredLattice, run_dir: Path, structures_dir: Path) -> dict:
    """Mean +- std of the unit-cell lattice over the production part of ``run_dir``, the two halves'
    difference (%) and the deviation (%) from ``measured.published``; the relaxed model is read from
    ``structures_dir / measured.structure_file``."""
    manifest, steps, lat = lattice_series(run_dir)
    half = len(lat) // 2
    mean, std = lat.mean(axis=0), lat.std(axis=0, ddof=1)
    first, second = lat[:half].mean(axis=0), lat[half:].mean(axis=0)
    relaxed = read_structure(Path(structures_dir) / measured.structure_file)
    relaxed_par = [*relaxed.cell.cellpar(), relaxed.get_volume()]
    dt_ps = manifest.dt_ps
    return {
        "run": Path(run_dir).name, "temperature_K": manifest.temperature_K, "measured_at_K": measured.measured_at_K,
        "source": measured.source, "published": measured.published,
        "relaxed_0K": dict(zip(KEYS, map(float, relaxed_par))),
        "npt_mean": dict(zip(KEYS, map(float, mean))), "npt_std": dict(zip(KEYS, map(float, std))),
        "halves_difference_percent": dict(zip(KEYS, map(float, 100 * (second / first - 1)))),
        "deviation_from_published_percent": {k: float(100 * (mean[KEYS.index(k)] / v - 1))
                                             for k, v in measured.published.items()},
        "supercell": manifest.supercell, "n_atoms": manifest.n_atoms, "couple": manifest.barostat.get("couple"),
        "averaged_over_ps": float((steps[-1] - steps[0]) * dt_ps), "n_rows": int(len(lat)),
        "equilibration_ps": float((manifest.equil_steps or 0) * dt_ps),
    }


def find_runs(results_dir: Path, phases: dict[str, MeasuredLattice]) -> dict[str, Path]:
    """Phase -> the run directory of that phase's structure file at its measured temperature with
    unscaled masses."""
    found = {}
    for manifest_file in sorted(Path(results_dir).glob(f"*/{MANIFEST_FILE}")):
        manifest = json.loads(manifest_file.read_text())
        source = Path(manifest.get("structure_source") or "").name
        for name, m in phases.items():
            if (source == m.structure_file and abs(manifest["temperature_K"] - m.measured_at_K) < 1e-6
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
