"""Progress of running jobs: an adaptive run's percentage and ETA refer to its cap and never jump back."""

from __future__ import annotations

import json

from pydriver.sweep.lifecycle import SweepRun, final_step
from pydriver.sweep.progress import ProgressBoard


def write_run(tmp_path, name: str, target: dict | None, step: int):
    run_dir = tmp_path / name
    run_dir.mkdir()
    manifest = {"equil_steps": 2000, "prod_steps": 8000, "n_atoms": 3, "dump_file": "dump.lammpstrj",
                "log_file": "log.lammps"}
    if target:
        manifest["target"] = target
    (run_dir / "run.json").write_text(json.dumps(manifest))
    (run_dir / "log.lammps").write_text(f"   Step   Time   Temp\n  0  0.0  300\n  {step}  {step / 1000}  300\n")
    return SweepRun(spec=None, run_dir=run_dir)


def test_adaptive_progress_is_relative_to_the_cap(tmp_path):
    adaptive = write_run(tmp_path, "a", {"min_hops": 50, "min_prod_ps": 6, "max_prod_ps": 8,
                                         "check_every_ps": 2}, 7000)
    fixed = write_run(tmp_path, "f", None, 2500)
    assert final_step(adaptive) == (10000, True)  # not the current chunk's end (8000 until the first check)
    assert final_step(fixed) == (10000, False)
    board = ProgressBoard(2, 0, live=False)
    board.start("a", *final_step(adaptive))
    board.start("f", *final_step(fixed))
    board.refresh({"a": adaptive.run_dir, "f": fixed.run_dir})
    assert board.summary() == "0/2 runs done; running: a 70% of its cap (ETA ≤ ?), f 25% (ETA ?)"
    (adaptive.run_dir / "log.lammps").write_text("   Step   Time   Temp\n  8000  8.0  300\n  8100  8.1  300\n")
    board.refresh({"a": adaptive.run_dir, "f": fixed.run_dir})
    assert board.runs["a"].final_step == 10000 and board.summary().startswith("0/2 runs done; running: a 81% of its cap")
