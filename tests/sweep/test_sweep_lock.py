"""One ``sweep run`` per folder: a second one is refused in one line naming the first; a record left
by a dead process is recovered with a note (through the CLI, no LAMMPS: ``--no-submit``)."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time

import pytest

from pydriver.cli.main import main
from pydriver.sweep.lock import FolderInUse, folder_lock

HOLD = """
import sys, time
from pathlib import Path
from pydriver.sweep.lock import folder_lock
with folder_lock(Path(sys.argv[1])):
    print("held", flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.05)
"""


@pytest.fixture
def config_file(nabh4_config):
    return nabh4_config([400], "executor: slurm\n")


def test_second_sweep_run_is_refused_naming_the_first(config_file, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    release = tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out), str(release)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["sweep", "run", str(config_file), "--no-submit"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert err[0].startswith(f"python -m pydriver sweep: error: {out} is in use by another `sweep run` (host "
                                 f"{socket.gethostname()}, pid {holder.pid}, started ")
        assert not (out / "sweep.json").exists()  # nothing written
    finally:
        release.touch()
        holder.wait(timeout=30)
    assert (out / ".sweep.lock").read_text() == ""  # released cleanly: no record left
    assert main(["-q", "sweep", "run", str(config_file), "--no-submit"]) == 0
    assert (out / "sweep.json").is_file()


def test_record_of_a_dead_process_is_recovered_with_a_note(config_file, tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = {"host": socket.gethostname(), "pid": dead.pid, "started_at": "2025-01-01T00:00:00+0000"}
    (out / ".sweep.lock").write_text(json.dumps(record) + "\n")  # as after kill -9 of a sweep
    with caplog.at_level(logging.WARNING, logger="pydriver.sweep.lock"):
        assert main(["-q", "sweep", "run", str(config_file), "--no-submit"]) == 0
    assert f"recovered the lock left by a process that ended without releasing it (host {socket.gethostname()}, " \
           f"pid {dead.pid}, started 2025-01-01T00:00:00+0000)" in caplog.text
    assert (out / ".sweep.lock").read_text() == ""


def test_lock_is_released_on_an_exception_and_refused_in_process(tmp_path):
    with pytest.raises(RuntimeError):
        with folder_lock(tmp_path):
            with pytest.raises(FolderInUse, match="is in use by another"):
                with folder_lock(tmp_path):
                    pass
            raise RuntimeError("stop")
    start = time.monotonic()
    with folder_lock(tmp_path):
        assert json.loads((tmp_path / ".sweep.lock").read_text())["pid"] > 0
    assert time.monotonic() - start < 5
