"""Decks run in LAMMPS through the real m3gnet plugin (24-atom NaBH4, float32 model)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from pydriver.deck import MDSettings, write_run_directory
from pydriver.structures import read_lammps_data
from pydriver.structures.builders import nabh4_cubic
from pydriver.deck import dump_timesteps as dump_steps
from tests.job_lock import wait_for_lock_release

pytestmark = pytest.mark.lammps


def job_env() -> dict:
    from pydriver.lammps.session import lammps_env, lmp_executable

    return {**lammps_env(preload=False), "MPIRUN": "", "LMP": lmp_executable(), "OMP_NUM_THREADS": "1"}


def lammps_state(restart_file, tmp_path) -> tuple[dict, np.ndarray]:
    """Per-type masses (extract_atom) and LAMMPS's own write_data of a restart file."""
    from pydriver.lammps.session import start_lammps

    lmp = start_lammps()
    try:
        for cmd in (f"read_restart {restart_file}", "pair_style zero 5.0", "pair_coeff * *",
                    f"write_data {tmp_path / 'state.lmp'} nocoeff"):
            lmp.command(cmd)
        ntypes = lmp.extract_global("ntypes")
        mass_ptr = lmp.extract_atom("mass")
        masses = np.array([mass_ptr[t] for t in range(1, ntypes + 1)])
    finally:
        lmp.close()
    return read_lammps_data(tmp_path / "state.lmp"), masses


def test_mass_scaled_deck_runs(tmp_path, nabh_model_f32):
    md = MDSettings(temperature_K=400, equil_steps=50, prod_steps=50, dump_every=10, thermo_every=10,
                    restart_every=50, mass_factors={"BH4": 5.0, "B12H12": 2.0})
    out = write_run_directory(nabh4_cubic(), nabh_model_f32, tmp_path / "run", md=md, replication=(1, 1, 1))
    proc = subprocess.run(["bash", "job.slurm"], cwd=out, env=job_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data, masses = lammps_state(out / "restart" / "restart.100", tmp_path)
    assert masses == pytest.approx([22.98976928, 5 * 10.81, 5 * 1.008])
    assert data["masses_amu"] == pytest.approx({1: 22.98976928, 2: 54.05, 3: 5.04})
    assert data["labels"] == {1: "Na", 2: "B_BH4", 3: "H_BH4"}
    assert data["type_ids"].tolist() == [1] * 4 + [2, 3, 3, 3, 3] * 4
    assert data["molecule_ids"].tolist() == [0] * 4 + [m for m in range(1, 5) for _ in range(5)]
    assert dump_steps(out / "dump.lammpstrj") == [50, 60, 70, 80, 90, 100]
    assert "ITEM: ATOMS id type element mol xu yu zu" in (out / "dump.lammpstrj").read_text()
    assert "Step" in (out / "log.lammps").read_text()


def wait_for(predicate, timeout_s: float, proc) -> None:
    start = time.monotonic()
    while not predicate():
        if proc.poll() is not None or time.monotonic() - start > timeout_s:
            raise AssertionError("LAMMPS ended (or timed out) before it could be killed")
        time.sleep(0.02)


def test_killed_run_resumes_at_restart_step(tmp_path, nabh_model_f32):
    md = MDSettings(equil_steps=40, prod_steps=4000, dump_every=10, thermo_every=10, restart_every=40)
    out = write_run_directory(nabh4_cubic(), nabh_model_f32, tmp_path / "run", md=md, replication=(1, 1, 1))
    proc = subprocess.Popen(["bash", "job.slurm"], cwd=out, env=job_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        dump = out / "dump.lammpstrj"
        wait_for(lambda: (out / "restart" / "restart.80").exists() and dump.exists() and max(dump_steps(dump) or [0]) >= 90,
                 240, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # our own job's process group
        proc.wait()
        wait_for_lock_release(out)  # LAMMPS may still be exiting
    latest = max(int(p.name.split(".")[1]) for p in (out / "restart").glob("restart.*"))
    assert dump_steps(dump)[-1] >= 90
    # shorten the remaining run: resume must continue at `latest`, not at 0 or at the equilibration end
    deck = (out / "in.lammps").read_text().replace(f"equal {md.equil_steps + md.prod_steps}", f"equal {latest + 30}")
    (out / "in.lammps").write_text(deck)
    proc = subprocess.run(["bash", "job.slurm"], cwd=out, env=job_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"resuming from restart/restart.{latest}" in proc.stdout
    assert dump_steps(dump) == list(range(40, latest + 31, 10))  # no gaps, no duplicates
    log = (out / "log.lammps").read_text()
    starts = [int(block.split("\n")[1].split()[0]) for block in log.split("   Step")[1:]]
    assert starts[0] == 0 and starts[-1] == latest
    assert (out / "restart" / f"restart.{latest + 30}").exists()
