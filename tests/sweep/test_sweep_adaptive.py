"""Adaptive production length: the stopping rule on synthetic runs, and a tiny real adaptive sweep.

Synthetic: a fake LAMMPS (restart files and dump frames written up to each chunk end) and a
stand-in analysis with a chosen number of hops; the run must stop at the cap or on the hop count,
whatever the error of its D. Real (24-atom NaBH4, float32): a sweep with a
``target`` stops by the rule, and ``kill -9`` of the job in the middle of a chunk followed by a
rerun of the job script loses nothing (every dump frame once, every check once).
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
from pydriver.deck.settings import AdaptiveTarget
from pydriver.sweep.adaptive import ChunkPlan, next_chunk, observed_hops, projection
from pydriver.sweep.outputs import RESTART_MAGIC, inspect_outputs
from pydriver.sweep.run_state import AdaptiveState
from tests.job_lock import wait_for_lock_release

REPO_ROOT = Path(__file__).resolve().parents[2]
N_ATOMS = 3
TARGET = {"min_hops": 10.0, "min_prod_ps": 0.02, "max_prod_ps": 0.1, "check_every_ps": 0.03}


def frame(step: int) -> str:
    atoms = "".join(f"{i + 1} 1 0 0.0 0.0 0.0\n" for i in range(N_ATOMS))
    return (f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{N_ATOMS}\nITEM: BOX BOUNDS pp pp pp\n0 1\n0 1\n0 1\n"
            f"ITEM: ATOMS id type mol xu yu zu\n{atoms}")


def adaptive_run(tmp_path) -> Path:
    run_dir = tmp_path / "run"
    (run_dir / "restart").mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({
        "equil_steps": 10, "prod_steps": 100, "dt_ps": 0.001, "dump_every": 5, "n_atoms": N_ATOMS,
        "dump_file": "dump.lammpstrj", "log_file": "log.lammps", "target": TARGET}))
    return run_dir


def fake_lammps(run_dir: Path, end: int) -> None:
    """What LAMMPS leaves after production up to ``end``: a whole restart file and dump frames to ``end``."""
    (run_dir / "restart" / f"restart.{end}").write_bytes(RESTART_MAGIC + b"\x01" * 10 + RESTART_MAGIC)
    (run_dir / "dump.lammpstrj").write_text("".join(frame(s) for s in range(10, end + 1, 5)))


def drive(run_dir: Path, hops: list[int], rel_errors: list[float] | None = None) -> list[int]:
    """Run the job script's loop with a fake LAMMPS; returns the chunk ends handed out.

    The stand-in analysis reports ``hops[i]`` site-to-site hops and a relative error ``rel_errors[i]``
    of D (default 0.5).
    """
    calls = iter(range(100))

    def analyze(_run_dir, _options):
        i = next(calls)
        rel = 0.5 if rel_errors is None else rel_errors[i]
        return {"transport": {"diffusivity_cm2_s": 1e-6, "diffusivity_std_cm2_s": 1e-6 * rel},
                "diagnostics": {"diffusive": True}, "hops": {"n_hops": hops[i]}}

    ends = []
    while (end := next_chunk(run_dir, analyze)) is not None:
        ends.append(end)
        assert not inspect_outputs(run_dir).complete
        fake_lammps(run_dir, end)
    return ends


def test_plan_rounds_to_dump_strides():
    plan = ChunkPlan.from_manifest({"equil_steps": 10, "dt_ps": 0.001, "dump_every": 5, "target": TARGET})
    assert (plan.first_end, plan.check_steps, plan.max_end) == (30, 30, 110)


def test_synthetic_run_stops_at_the_cap(tmp_path):
    run_dir = adaptive_run(tmp_path)
    assert drive(run_dir, [1, 2, 3, 4]) == [30, 60, 90, 110]
    state = AdaptiveState.load(run_dir)
    assert state.status == "capped" and [c["step"] for c in state.checks] == [30, 60, 90, 110]
    assert [c["hops"] for c in state.checks] == pytest.approx([1, 2, 3, 4])
    out = inspect_outputs(run_dir)
    assert out.complete and out.final_step == 110
    assert next_chunk(run_dir, None) is None  # finished: nothing more, no analysis


def test_synthetic_run_stops_on_the_hop_count_not_on_the_error_of_d(tmp_path):
    """A precise D (1 %) does not stop the run; ten hops do, however imprecise D still is."""
    run_dir = adaptive_run(tmp_path)
    assert drive(run_dir, [5, 9, 10], rel_errors=[0.01, 0.01, 3.0]) == [30, 60, 90]
    state = AdaptiveState.load(run_dir)
    assert state.status == "converged" and state.checks[-1]["step"] == 90
    assert inspect_outputs(run_dir).final_step == 90


def test_observed_hops_and_the_former_rule():
    assert observed_hops({"hops": {"n_hops": 37, "rate_per_ion_per_ps": 0.4}}) == 37
    assert observed_hops({"hops": {"reason": "no sites: ..."}}) == 0  # no sites found: runs to the cap
    assert observed_hops({"transport": {}}) == 0  # analysed before hops existed
    # run directories written with the former std(D)/D rule still resume, under the hop rule
    legacy = AdaptiveTarget.from_dict({"rel_error_D": 0.25, "min_prod_ps": 6, "max_prod_ps": 8, "check_every_ps": 2})
    assert legacy.min_hops == AdaptiveTarget().min_hops and legacy.max_prod_ps == 8
    with pytest.raises(ValueError, match="unknown target key 'rel_error'"):
        AdaptiveTarget.from_dict({"rel_error": 0.25})


def test_projection(tmp_path):
    run_dir = adaptive_run(tmp_path)
    manifest = json.loads((run_dir / "run.json").read_text())
    state = AdaptiveState(chunk_end_step=60, checks=[{"step": 30, "prod_ps": 0.02, "diffusivity_cm2_s": 1e-6,
                                                       "diffusivity_std_cm2_s": 4e-7, "hops": 4.0,
                                                       "diffusive": True}])
    p = projection(manifest, state, s_per_step=0.5)
    assert p["projected_prod_ps"] == pytest.approx(0.02 * 10 / 4)  # hops grow linearly with time
    assert p["remaining_steps"] == 30 and p["remaining_s"] == pytest.approx(15.0)


# ---- real LAMMPS ------------------------------------------------------------------------------------------------


def write_config(tmp_path, model, structure, target: dict) -> Path:
    path = tmp_path / "adaptive.yaml"
    path.write_text(f"""
name: adaptive
structures: [{{name: NaBH4, file: {structure}, supercell: [1, 1, 1]}}]
temperatures_K: [600]
mass_factors: {{BH4: [1]}}
md: {{equil_steps: 10, dump_every: 1, thermo_every: 5, restart_every: 10, target: {json.dumps(target)}}}
model: {{path: {model}, dtype: float32, device: cpu}}
local: {{cpus: 1, poll_s: 0.2}}
analysis: {{n_blocks: 3, plots: false}}
output: sweep
""")
    return path


def dump_steps(path: Path) -> list[int]:
    lines = path.read_text().splitlines()
    return [int(lines[i + 1]) for i, line in enumerate(lines) if line == "ITEM: TIMESTEP"]


@pytest.mark.lammps
def test_tiny_real_adaptive_sweep_stops_by_the_rule(tmp_path, nabh_model_f32, example_structures_dir, capsys,
                                                    timing_cache):
    target = {"min_hops": 1, "min_prod_ps": 0.04, "max_prod_ps": 0.12, "check_every_ps": 0.04}
    config = write_config(tmp_path, nabh_model_f32, example_structures_dir / "NaBH4.extxyz", target)
    assert main(["-q", "sweep", "run", str(config), "--no-progress"]) == 0
    run_dir = tmp_path / "sweep" / "NaBH4_T600_bh4x1_s1"
    state = AdaptiveState.load(run_dir)
    steps = [c["step"] for c in state.checks]
    assert steps == [50, 90, 130][:len(steps)]
    last = state.checks[-1]
    if state.status == "converged":  # met: enough hops at this check and no earlier one
        assert last["hops"] >= 1
    else:
        assert state.status == "capped" and steps == [50, 90, 130]
    assert not any(c["hops"] >= 1 for c in state.checks[:-1])
    assert dump_steps(run_dir / "dump.lammpstrj") == list(range(10, steps[-1] + 1))
    analysis = json.loads((run_dir / "analysis.json").read_text())
    assert analysis["transport"]["diffusivity_cm2_s"] == pytest.approx(last["diffusivity_cm2_s"])
    assert json.loads((tmp_path / "sweep" / "report" / "report.json").read_text())["runs"]
    # the runtime estimate timed this cell once (cached) before the runs started
    cache = json.loads((timing_cache / "step_timing.json").read_text())
    assert any(key.startswith("Na4B4H16|24|") and v["ms_per_step"] > 0 for key, v in cache.items())
    capsys.readouterr()
    assert main(["sweep", "status", str(config), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["runs"][0]
    assert row["status"] == "analyzed" and row["adaptive"]["status"] == state.status
    assert row["adaptive"]["diffusivity_cm2_s"] == pytest.approx(last["diffusivity_cm2_s"])
    assert row["adaptive"]["remaining_steps"] == 0
    assert main(["sweep", "status", str(config)]) == 0
    table = capsys.readouterr().out
    assert "D (cm^2/s)" in table and f"{last['diffusivity_cm2_s']:.2e}" in table


@pytest.mark.lammps
@pytest.mark.slow  # 67 s on 2 busy cores: an adaptive sweep killed mid-chunk, then resumed
def test_kill9_mid_chunk_then_resume_loses_nothing(tmp_path, nabh_model_f32, example_structures_dir):
    from pydriver.lammps.session import lammps_env, lmp_executable

    target = {"min_hops": 1e9, "min_prod_ps": 0.03, "max_prod_ps": 0.09, "check_every_ps": 0.03}
    config = write_config(tmp_path, nabh_model_f32, example_structures_dir / "NaBH4.extxyz", target)
    assert main(["-q", "sweep", "run", str(config), "--executor", "slurm", "--no-submit"]) == 0
    run_dir = tmp_path / "sweep" / "NaBH4_T600_bh4x1_s1"
    env = {**lammps_env(preload=False), "MPIRUN": "", "OMP_NUM_THREADS": "1", "LMP": lmp_executable(),
           "PYDRIVER_PYTHON": sys.executable,  # the job script holds no path of this machine: given at run time
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    env = {k: v for k, v in env.items() if not k.startswith("SLURM_")}
    with open(tmp_path / "job1.log", "wb") as fh:
        proc = subprocess.Popen(["bash", "job.slurm"], cwd=run_dir, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 240
    while not ((s := AdaptiveState.load(run_dir)) and s.checks and (inspect_outputs(run_dir).latest_restart or 0) > 40):
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "job1.log").read_text()[-2000:]
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the job, its worker and LAMMPS, mid-way through chunk 2
    proc.wait()
    wait_for_lock_release(run_dir)  # LAMMPS may still be exiting
    assert AdaptiveState.load(run_dir).status == "running"
    done = subprocess.run(["bash", "job.slurm"], cwd=run_dir, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    state = AdaptiveState.load(run_dir)
    assert state.status == "capped" and [c["step"] for c in state.checks] == [40, 70, 100]
    assert dump_steps(run_dir / "dump.lammpstrj") == list(range(10, 101))  # no gap, no repeat
    assert "resuming from restart/restart." in done.stdout
    assert main(["-q", "sweep", "run", str(config), "--executor", "local", "--no-progress"]) == 0
    assert inspect_outputs(run_dir).analyzed
