"""Sweeps end to end with the real plugin and LAMMPS (24-atom NaBH4, float32 model, tens of steps).

The kill test crashes the sweep twice: ``kill -9`` of the sweep alone (its LAMMPS jobs live on and
the next sweep adopts them), then ``kill -9`` of the sweep and of every LAMMPS job, with the newest
restart file of an interrupted run truncated as if the kill hit while LAMMPS wrote it. The third
sweep must finish every run exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pydriver.cli.main import main
from pydriver.sweep.outputs import inspect_outputs
from pydriver.sweep.run_state import RunState, process_alive
from tests.job_lock import wait_for_lock_release

pytestmark = pytest.mark.lammps
REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_NAMES = ["NaBH4_T500_bh4x1_s1", "NaBH4_T600_bh4x1_s1", "NaBH4_T500_bh4x5_s1", "NaBH4_T600_bh4x5_s1"]


def write_config(tmp_path, model, structure, prod_steps: int, dump_every: int) -> Path:
    """2 temperatures x 2 BH4 mass factors on the 24-atom cell."""
    path = tmp_path / "tiny.yaml"
    path.write_text(f"""
name: tiny
structures: [{{name: NaBH4, file: {structure}, supercell: [1, 1, 1]}}]
temperatures_K: [500, 600]
mass_factors: {{BH4: [1, 5]}}
md: {{equil_steps: 10, prod_steps: {prod_steps}, dump_every: {dump_every}, thermo_every: 5, restart_every: 10}}
model: {{path: {model}, dtype: float32, device: cpu}}
local: {{cpus: 2, max_parallel: 2, poll_s: 0.2}}
analysis: {{n_blocks: 3}}
output: sweep
""")
    return path


def dump_steps(path: Path) -> list[int]:
    lines = path.read_text().splitlines()
    return [int(lines[i + 1]) for i, line in enumerate(lines) if line == "ITEM: TIMESTEP"]


def thermo_block_starts(log_path: Path) -> list[int]:
    return [int(block.split("\n")[1].split()[0]) for block in log_path.read_text().split("   Step")[1:]]


def check_report(sweep: Path) -> dict:
    report = json.loads((sweep / "report" / "report.json").read_text())
    for name in ("report.md", "report.csv", "arrhenius.png", "active_vs_mass.png"):
        assert (sweep / "report" / name).is_file(), name
    assert sorted(Path(r["run_dir"]).name for r in report["runs"]) == sorted(RUN_NAMES)  # each run exactly once
    return report


@pytest.mark.slow  # 53 s on 2 busy cores (the fast tier keeps the adaptive tiny sweep end to end)
def test_tiny_sweep_end_to_end(tmp_path, nabh_model_f32, example_structures_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, nabh_model_f32, example_structures_dir / "NaBH4.extxyz", 40, 1)
    assert main(["-q", "sweep", "run", str(config), "--no-progress"]) == 0
    assert "sweep tiny: 4 analyzed; report:" in capsys.readouterr().out
    sweep = tmp_path / "sweep"
    report = check_report(sweep)
    assert {r["temperature_K"] for r in report["runs"]} == {500.0, 600.0}
    assert {r["mass_factor"] for r in report["runs"]} == {1.0, 5.0}
    for name in RUN_NAMES:
        analysis = json.loads((sweep / name / "analysis.json").read_text())
        assert analysis["transport"]["diffusivity_cm2_s"] > 0
        assert dump_steps(sweep / name / "dump.lammpstrj") == list(range(10, 51))
        assert RunState.load(sweep / name).attempts == 1
    # running again finds everything finished and starts nothing
    assert main(["-q", "sweep", "run", str(config), "--no-progress"]) == 0
    assert all(RunState.load(sweep / n).attempts == 1 for n in RUN_NAMES)
    assert main(["sweep", "status", str(sweep), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["counts"] == {"analyzed": 4}


def start_sweep(config: Path, log_file: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(log_file, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "pydriver", "sweep", "run", str(config), "--no-progress"],
                                cwd=config.parent, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_until(predicate, proc: subprocess.Popen, timeout_s: float = 240) -> None:
    start = time.monotonic()
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"sweep ended (exit code {proc.returncode}) before the kill point")
        if time.monotonic() - start > timeout_s:
            raise AssertionError("timed out waiting for the kill point")
        time.sleep(0.1)


def kill9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep's own session: the sweep process only
    proc.wait()


def running_mid_run(sweep: Path, min_restart: int) -> list[str]:
    """Runs whose LAMMPS job is alive and past restart step ``min_restart``."""
    found = []
    for name in RUN_NAMES:
        state = RunState.load(sweep / name)
        latest = inspect_outputs(sweep / name).latest_restart if (sweep / name / "run.json").exists() else None
        if state.status == "running" and process_alive(state) and (latest or 0) >= min_restart:
            found.append(name)
    return found


@pytest.mark.slow  # ~45 s: two sweeps, each killed mid-run, then resumed to the end
def test_kill9_and_resume(tmp_path, nabh_model_f32, example_structures_dir):
    config = write_config(tmp_path, nabh_model_f32, example_structures_dir / "NaBH4.extxyz", 100, 2)
    sweep, log1, log2 = tmp_path / "sweep", tmp_path / "sweep1.log", tmp_path / "sweep2.log"
    # 1. kill -9 of the sweep alone while its first two runs are mid-way: the LAMMPS jobs live on
    proc = start_sweep(config, log1)
    wait_until(lambda: len(running_mid_run(sweep, 20)) == 2, proc)
    kill9(proc)
    first = running_mid_run(sweep, 0)
    assert len(first) == 2
    # 2. a new sweep adopts them (held mid-run with SIGSTOP until it has: 90 steps of this cell take a
    # few seconds, about as long as the sweep takes to start); kill -9 it and every LAMMPS job while
    # the next runs are mid-way
    groups = [RunState.load(sweep / name).pgid for name in first]
    for pgid in groups:
        os.killpg(pgid, signal.SIGSTOP)
    proc = start_sweep(config, log2)
    try:
        wait_until(lambda: log2.read_text().count("still running") == 2, proc)
    finally:
        for pgid in groups:
            os.killpg(pgid, signal.SIGCONT)
    wait_until(lambda: any(n not in first for n in running_mid_run(sweep, 30)), proc)
    kill9(proc)
    interrupted = []
    for name in RUN_NAMES:
        state = RunState.load(sweep / name)
        if state.status == "running" and process_alive(state):
            os.killpg(state.pgid, signal.SIGKILL)  # the run's own LAMMPS process group
            interrupted.append(name)
    # a next run is among them (on a loaded machine one of the first two may still be running too)
    assert set(interrupted) - set(first)
    for name in interrupted:
        wait_for_lock_release(sweep / name)  # their LAMMPS processes may still be exiting
    victim = max((sweep / n for n in interrupted), key=lambda d: inspect_outputs(d).latest_restart or 0)
    newest = max((p for p in (victim / "restart").glob("restart.*")), key=lambda p: int(p.suffix[1:]))
    assert int(newest.suffix[1:]) >= 20
    newest.write_bytes(newest.read_bytes()[:100])  # as if killed while LAMMPS wrote it
    # 3. resume: every run finishes exactly once
    assert main(["-q", "sweep", "run", str(config), "--no-progress"]) == 0
    check_report(sweep)
    for name in RUN_NAMES:
        assert dump_steps(sweep / name / "dump.lammpstrj") == list(range(10, 111, 2)), name  # no gap, no repeat
        state = RunState.load(sweep / name)
        assert state.status == "analyzed"
        if name in first:
            assert state.attempts == 1 and thermo_block_starts(sweep / name / "log.lammps") == [0, 10]
    assert (victim / "corrupt" / newest.name).is_file()
    resumed_from = int(newest.suffix[1:]) - 10
    assert f"resuming from restart/restart.{resumed_from}" in (victim / "sweep_run.log").read_text()
    assert thermo_block_starts(victim / "log.lammps")[-1] == resumed_from
    assert RunState.load(victim).attempts == 2
