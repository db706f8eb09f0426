"""Disk full: a chunk starts only when the file system holds what it will write, and a failed
preparation step stops that run in one line (failures injected: a fake ``shutil.disk_usage``, an
``OSError(ENOSPC)`` while moving a truncated restart file aside). The job script's own resume step
(the dump trim) is tested in tests/deck/test_job_script.py."""

from __future__ import annotations

import errno
import json
import os
from collections import namedtuple

import pytest

from pydriver.cli.main import main
from pydriver.rundir import RunManifest
from pydriver.sweep import disk, lifecycle
from pydriver.sweep.run_state import RunState

Usage = namedtuple("Usage", "total used free")


def frames(steps, n_atoms=2) -> str:
    atoms = "".join(f"{i} 1 Na 0 0.000000 0.000000 0.000000\n" for i in range(1, n_atoms + 1))
    return "".join(f"ITEM: TIMESTEP\n{s}\nITEM: NUMBER OF ATOMS\n{n_atoms}\nITEM: ATOMS id\n{atoms}" for s in steps)


def manifest(**fields) -> RunManifest:
    """A ``run.json`` record with the fields the disk estimate reads (the rest placeholders)."""
    return RunManifest(temperature_K=500.0, dt_ps=0.001, types=[], **fields)


def test_chunk_bytes_from_the_run_so_far(tmp_path):
    manifest(n_atoms=2, equil_steps=10, dump_every=5, restart_every=10, thermo_every=5).write(tmp_path)
    (tmp_path / "dump.lammpstrj").write_text(frames([10, 15, 20]))
    frame = len(frames([10]))
    (tmp_path / "restart").mkdir()
    (tmp_path / "restart" / "restart.20").write_bytes(b"LammpS RestartT\0" + b"x" * 1000 + b"LammpS RestartT\0")
    sizes = disk.chunk_bytes(tmp_path, 20, 60)
    assert sizes["dump"] == 9 * frame  # frames 20, 25, ..., 60
    assert sizes["restart"] == 5 * 1032  # 20 (rewritten at the start of a resume is not counted twice: 30..60 + final)
    assert sizes["log"] == 8 * 200
    assert sizes["total"] == int(1.1 * (sizes["dump"] + sizes["restart"] + sizes["log"])) + disk.MARGIN_BYTES
    # before any output: estimated from the atom count
    (tmp_path / "dump.lammpstrj").unlink()
    assert disk.dump_frame_bytes(tmp_path, manifest(n_atoms=100, dump_columns=["id"] * 7)) == 100 * 86 + 200


@pytest.fixture
def config_file(nabh4_config):
    return nabh4_config([400, 500], "estimate: false\nlocal: {cpus: 2, poll_s: 0.1}\n")


def test_run_is_not_started_without_the_space_it_will_write(config_file, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda _p: Usage(10 << 20, 10 << 20, 300_000))
    assert main(["sweep", "run", str(config_file), "--no-progress"]) == 1
    assert "sweep scan: 2 failed" in capsys.readouterr().out
    out = tmp_path / "out"
    for name in ("NaBH4_T400_bh4x1_b12x1_s1", "NaBH4_T500_bh4x1_b12x1_s1"):
        state = RunState.load(out / name)
        assert state.status == "failed" and state.attempts == 0
        assert state.message.startswith("not started: steps 0..30 will write about 1.")
        assert state.message.endswith(f"293.0 KiB free in {out / name}; free space, then `sweep run --retry-failed`")
        assert not (out / name / "log.lammps").exists()  # LAMMPS never started
    assert "\n" not in state.message


def test_failed_restart_preparation_stops_the_run_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "run.json").write_text(json.dumps({"n_atoms": 2, "equil_steps": 0, "prod_steps": 10}))
    run = lifecycle.SweepRun(None, tmp_path)

    def full(_run_dir):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "corrupt"))

    monkeypatch.setattr(lifecycle, "quarantine_bad_restarts", full)
    state = RunState(status="interrupted")
    assert lifecycle.preflight(run, state) is False
    assert RunState.load(tmp_path).message == (f"not started: preparing the restart failed: No space left on device "
                                               f"({tmp_path / 'corrupt'}); fix that, then `sweep run --retry-failed`")


def test_adaptive_chunk_is_not_started_without_space(tmp_path, monkeypatch, capsys):
    """``python -m pydriver next-chunk`` (what the adaptive job script loops on) checks the next chunk."""
    from pydriver.sweep import adaptive

    manifest(n_atoms=24, equil_steps=10, prod_steps=9000, dump_every=5, restart_every=10, thermo_every=5,
             dump_columns=["id"] * 7).write(tmp_path)
    monkeypatch.setattr(adaptive, "next_chunk", lambda _run_dir: 5000)
    assert main(["next-chunk", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "5000\n"
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda _p: Usage(10 << 20, 10 << 20, 1000))
    assert main(["next-chunk", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("python -m pydriver next-chunk: error: steps 0..5000 will write about ")


def test_run_refused_on_resubmit_is_not_resubmitted_each_poll(nabh4_config, tmp_path, monkeypatch):
    """A SLURM job that ends interrupted is resubmitted; when the disk check then refuses the run, it stays
    failed (one line) instead of being resubmitted at every poll (fake sbatch/squeue, fake disk usage)."""
    import time

    from pydriver.sweep.executors import slurm

    config_file = nabh4_config([400], "estimate: false\nexecutor: slurm\nslurm: {poll_s: 0.01}\n")
    submitted, polls = [], []
    monkeypatch.setattr(slurm, "sbatch_available", lambda: True)
    monkeypatch.setattr(slurm, "sbatch", lambda args, env, cwd=None: submitted.append(args) or str(len(submitted)))
    monkeypatch.setattr(slurm, "queue_states", lambda: slurm.Queue())  # the job left the queue
    monkeypatch.setattr(slurm, "final_job_state", lambda _job_id: ("TIMEOUT", "0:0"))
    free = [1 << 40]
    monkeypatch.setattr(disk.shutil, "disk_usage", lambda _p: Usage(1 << 41, 0, free[0]))
    real_sleep = time.sleep

    def poll(_s):
        polls.append(_s)
        free[0] = 1000  # the disk filled up while the first job ran
        assert len(polls) < 5, "the refused run stayed queued and was retried at every poll"
        real_sleep(0)

    monkeypatch.setattr(slurm.time, "sleep", poll)
    assert main(["-q", "sweep", "run", str(config_file), "--no-progress"]) == 1
    assert len(submitted) == 1 and len(polls) == 1
    state = RunState.load(tmp_path / "out" / "NaBH4_T400_bh4x1_b12x1_s1")
    assert state.status == "failed" and state.attempts == 1
    assert state.message.startswith("not started: steps 0..30 will write about ")
    assert state.message.endswith("free space, then `sweep run --retry-failed`")
