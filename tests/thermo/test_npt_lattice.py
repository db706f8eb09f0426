"""NPT lattices (pydriver.thermo.npt_lattice): examples/structures/validation.json is what the module
computes from the study's committed LAMMPS logs, and its lattice arithmetic is exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.geometry import cellpar_to_cell

from pydriver.rundir import MANIFEST_FILE, RUN_FORMAT
from pydriver.thermo.npt_lattice import NABH_MEASURED, find_runs, lattice_series, validate_run

REPO_ROOT = Path(__file__).resolve().parents[2]
VALIDATION = REPO_ROOT / "examples" / "structures" / "validation.json"
RESULTS = REPO_ROOT / "examples" / "study_cpu" / "results"


def test_lattice_series_divides_the_box_by_the_supercell(tmp_path):
    """A 2x1x3 monoclinic box in the log -> the unit cell's a, b, c, beta and volume, production rows only."""
    unit = np.array([6.9, 10.4, 7.1, 90.0, 91.0, 90.0])
    rep = np.array([2, 1, 3])
    run = tmp_path / "Na2B12H12_T298_bh4x1_b12x1_s1"
    run.mkdir()
    manifest = {"format": RUN_FORMAT, "temperature_K": 298.0, "dt_ps": 0.001, "types": [],
                "supercell": rep.tolist(), "production_start_step": 100, "mass_factors": {"BH4": 1.0, "B12H12": 1.0},
                "structure_source": "/somewhere/Na2B12H12.extxyz", "equil_steps": 100}
    (run / MANIFEST_FILE).write_text(json.dumps(manifest))
    rows = ["Step Lx Ly Lz Xy Xz Yz Volume"]
    for step, scale in ((0, 0.9), (50, 0.9), (100, 1.0), (150, 1.01), (200, 0.99), (250, 1.0)):
        cell = cellpar_to_cell([*(unit[:3] * scale * rep), *unit[3:]])
        rows.append(f"{step} {cell[0, 0]} {cell[1, 1]} {cell[2, 2]} {cell[1, 0]} {cell[2, 0]} {cell[2, 1]} "
                    f"{abs(np.linalg.det(cell))}")
    (run / "log.lammps").write_text("\n".join(rows) + "\nLoop time of 1 on 1 procs\n")
    _, steps, lattice = lattice_series(run)
    assert steps.tolist() == [100, 150, 200, 250]  # equilibration rows left out
    scales = np.array([1.0, 1.01, 0.99, 1.0])
    assert lattice[:, :3] == pytest.approx(np.outer(scales, unit[:3]), rel=1e-12)
    assert lattice[:, 4] == pytest.approx(91.0, abs=1e-9)
    volume = abs(np.linalg.det(cellpar_to_cell(unit)))
    assert lattice[:, 6] == pytest.approx(volume * scales**3, rel=1e-12)
    assert find_runs(tmp_path, NABH_MEASURED) == {"Na2B12H12": run}


@pytest.mark.skipif(not VALIDATION.is_file(), reason="validation.json not committed yet")
def test_committed_validation_is_the_committed_logs():
    committed = json.loads(VALIDATION.read_text())
    runs = find_runs(RESULTS, NABH_MEASURED)
    assert sorted(runs) == sorted(committed) == sorted(NABH_MEASURED)
    for name, run_dir in runs.items():
        fresh = validate_run(NABH_MEASURED[name], run_dir, REPO_ROOT / "examples" / "structures")
        for key in ("npt_mean", "npt_std", "deviation_from_published_percent", "halves_difference_percent"):
            assert fresh[key] == pytest.approx(committed[name][key], rel=1e-12), (name, key)
