"""Run state: atomic state files, detection of complete, partial and corrupt outputs, live processes."""

from __future__ import annotations

import json
import subprocess

import pytest

from pydriver.sweep.executors.slurm_queue import _expand_array_id
from pydriver.sweep.lifecycle import SweepRun, classify
from pydriver.sweep.outputs import (RESTART_MAGIC, analysis_is_valid, inspect_outputs, last_dump_frame,
                                    last_thermo_step, quarantine_bad_restarts, restart_is_whole)
from pydriver.sweep.run_state import RunState, atomic_write_json, process_start_ticks, read_json

N_ATOMS = 3


def frame(step: int, n_atoms: int = N_ATOMS) -> str:
    atoms = "".join(f"{i + 1} 1 0 0.0 0.0 0.0\n" for i in range(n_atoms))
    return (f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n_atoms}\nITEM: BOX BOUNDS pp pp pp\n0 1\n0 1\n0 1\n"
            f"ITEM: ATOMS id type mol xu yu zu\n{atoms}")


def write_restart(path, whole: bool = True) -> None:
    path.write_bytes(RESTART_MAGIC + b"\x01" * 100 + (RESTART_MAGIC if whole else b"\x00" * 7))


def fake_run(tmp_path, steps_done: int, final: int = 100) -> SweepRun:
    """A run directory as LAMMPS leaves it after ``steps_done`` steps (restart every 20, dump every 10)."""
    run_dir = tmp_path / "run"
    (run_dir / "restart").mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"equil_steps": 20, "prod_steps": final - 20, "n_atoms": N_ATOMS,
                                                  "dump_file": "dump.lammpstrj", "log_file": "log.lammps"}))
    for step in range(20, steps_done + 1, 20):
        write_restart(run_dir / "restart" / f"restart.{step}")
    (run_dir / "dump.lammpstrj").write_text("".join(frame(s) for s in range(20, steps_done + 1, 10)))
    thermo = "".join(f"  {s}  {s * 0.001}  300.0  -1.0\n" for s in range(0, steps_done + 1, 10))
    (run_dir / "log.lammps").write_text("   Step   Time   Temp   PotEng\n" + thermo + "Loop time of 1.0\n")
    return SweepRun(spec=None, run_dir=run_dir)


def test_atomic_json_and_corrupt_state(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    assert read_json(tmp_path / "a.json") == {"x": 1} and not list(tmp_path.glob(".a.json*"))
    (tmp_path / "sweep_state.json").write_text('{"status": "runn')  # torn write of an older tool
    assert RunState.load(tmp_path).status == "pending"
    state = RunState(status="running", attempts=2, pid=5)
    state.save(tmp_path)
    loaded = RunState.load(tmp_path)
    assert loaded.status == "running" and loaded.attempts == 2 and loaded.pid == 5
    loaded.finish("interrupted", -9, "killed")
    assert loaded.pid is None and loaded.history[-1]["exit_code"] == -9


def test_restart_truncation_detected_and_moved_aside(tmp_path):
    run = fake_run(tmp_path, 60)
    newest = run.run_dir / "restart" / "restart.60"
    write_restart(newest, whole=False)
    assert not restart_is_whole(newest) and restart_is_whole(run.run_dir / "restart" / "restart.40")
    assert inspect_outputs(run.run_dir).latest_restart == 40
    moved = quarantine_bad_restarts(run.run_dir)
    assert moved == [run.run_dir / "corrupt" / "restart.60"] and not newest.exists()
    (run.run_dir / "restart" / "restart.80").write_bytes(b"")  # created, nothing written yet
    assert quarantine_bad_restarts(run.run_dir) == [run.run_dir / "corrupt" / "restart.80"]
    assert sorted(p.name for p in (run.run_dir / "restart").iterdir()) == ["restart.20", "restart.40"]


def test_dump_tail(tmp_path):
    path = tmp_path / "dump.lammpstrj"
    path.write_text(frame(10) + frame(20))
    assert last_dump_frame(path, N_ATOMS) == (20, True)
    path.write_text(frame(10) + frame(20)[:-12])  # last atom line cut
    assert last_dump_frame(path, N_ATOMS) == (20, False)
    path.write_text(frame(10) + "ITEM: TIMESTEP\n2")
    assert last_dump_frame(path, N_ATOMS) == (None, False)
    assert last_dump_frame(tmp_path / "none", N_ATOMS) == (None, False)


def test_thermo_tail(tmp_path):
    log = tmp_path / "log.lammps"
    log.write_text("   Step  Time  Temp\n   0   0   300\n  10  0.01  310\n  20  0.02")  # last line still being written
    assert last_thermo_step(log) == 10
    log.write_text("Loop time of 3 on 1 procs for 20 steps\n  1 by 1 by 1 MPI processor grid\n")
    assert last_thermo_step(log) is None


def test_complete_partial_and_analysed(tmp_path):
    run = fake_run(tmp_path, 100)
    out = inspect_outputs(run.run_dir)
    assert out.complete and out.final_step == 100 and not out.analyzed
    state = RunState(status="running", executor="local", pid=2 ** 22 + 12345)
    assert classify(run, state) == "done"
    (run.run_dir / "analysis.json").write_text('{"transport": {}')  # killed while writing
    assert not analysis_is_valid(run.run_dir)
    (run.run_dir / "analysis.json").write_text('{"transport": {}}')
    assert inspect_outputs(run.run_dir).analyzed and classify(run, state) == "analyzed"
    dump = run.run_dir / "dump.lammpstrj"
    dump.write_text(dump.read_text()[:-5])
    out = inspect_outputs(run.run_dir)
    assert not out.complete and "partial frame" in out.problem


def test_finished_run_with_its_trajectory_deleted_stays_finished(tmp_path):
    """Deleting dumps and restarts of an analysed run (to save space, or committed results without them) must not
    make the sweep redo it: complete and analysed when log.lammps reached the final step and analysis.json covers it."""
    run = fake_run(tmp_path, 100)
    (run.run_dir / "dump.lammpstrj").unlink()
    for path in (run.run_dir / "restart").iterdir():
        path.unlink()
    assert not inspect_outputs(run.run_dir).complete  # no analysis: the run must be redone
    (run.run_dir / "analysis.json").write_text(json.dumps({"transport": {}, "run": {"last_step": 80}}))
    assert not inspect_outputs(run.run_dir).complete  # analysed only to step 80
    (run.run_dir / "analysis.json").write_text(json.dumps({"transport": {}, "run": {"last_step": 100}}))
    out = inspect_outputs(run.run_dir)
    assert out.complete and out.analyzed and out.trajectory_removed and out.problem == ""
    state = RunState(status="analyzed", executor="local")
    assert classify(run, state) == "analyzed"
    log = run.run_dir / "log.lammps"
    log.write_text(log.read_text().replace("  100  0.1", "  90  0.09"))  # LAMMPS did not reach the end
    assert not inspect_outputs(run.run_dir).complete


def test_classify_pending_interrupted_running(tmp_path):
    run = fake_run(tmp_path, 0)
    assert classify(run, RunState()) == "pending"
    write_restart(run.run_dir / "restart" / "restart.40")
    assert classify(run, RunState()) == "interrupted"
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        state = RunState(status="running", executor="local", pid=proc.pid, proc_start_ticks=process_start_ticks(proc.pid))
        assert classify(run, state) == "running"
        state.proc_start_ticks += 1  # same pid, other process (pid reuse)
        assert classify(run, state) == "interrupted"
    finally:
        proc.kill()
        proc.wait()
    assert classify(run, RunState(status="running", executor="local", pid=proc.pid)) == "interrupted"
    assert classify(run, RunState(status="failed")) == "failed"


@pytest.mark.parametrize("job_id, expected", [
    ("123_4", ["123_4"]), ("77", ["77"]), ("12_[0-2]", ["12_0", "12_1", "12_2"]),
    ("12_[1,3-4%2]", ["12_1", "12_3", "12_4"]),
])
def test_squeue_array_ids(job_id, expected):
    assert _expand_array_id(job_id) == expected
