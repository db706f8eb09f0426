"""The generated job script run for real with bash: quoting of every path, the run-directory lock,
the in-place dump trim before a resume and its failure on a full disk.

LAMMPS is replaced by a small fake ``lmp`` (it records its arguments) except in the one test that
runs the real plugin from paths with spaces and non-ASCII characters.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pydriver.cli.main import main
from pydriver.deck import dump_timesteps
from pydriver.lammps.quoting import lammps_path, lammps_quote, sbatch_quote, shell_quote

NASTY = ["plain", "sp ace/my venv", "données/Na₂B₁₂H₁₂", "a$b#c", "it's", 'say "hi"', "both ' and \"",
         "tab\there"]
FAKE_LMP = """#!/bin/bash
printf '%s\\n' "$0" "$@" > lmp_args.txt
if [ -n "${HOLD:-}" ]; then while [ ! -e "$HOLD" ]; do sleep 0.05; done; fi
"""


@pytest.mark.parametrize("word", NASTY)
def test_shell_quote_round_trips_through_bash(word):
    out = subprocess.run(["bash", "-c", f"printf %s {shell_quote(word)}"], capture_output=True, text=True, check=True)
    assert out.stdout == word


@pytest.mark.lammps
def test_lammps_quote_round_trips_through_lammps():
    from pydriver.lammps.session import start_lammps

    lmp = start_lammps()
    try:
        for i, word in enumerate(["plain", "sp ace/my venv", "tab\there", "a#b c"]):
            lmp.command(f"variable w{i} string {lammps_quote(word)}")
            assert lmp.extract_variable(f"w{i}") == word
    finally:
        lmp.close()


def test_quote_errors_and_sbatch(tmp_path):
    with pytest.raises(ValueError, match="cannot hold '\\\\n'"):
        lammps_quote("a\nb")
    with pytest.raises(ValueError, match="LAMMPS replaces non-ASCII characters"):
        lammps_quote("données")
    for word in ("a$b", "it's", 'say "hi"'):
        with pytest.raises(ValueError, match="a LAMMPS input cannot hold"):
            lammps_quote(word)
    assert lammps_path(tmp_path / "données" / "m.pt", tmp_path / "données" / "run") == "../m.pt"
    assert lammps_path(tmp_path / "m.pt", tmp_path) == str(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="copy it into the run directory"):
        lammps_path(tmp_path / "mödel.pt", tmp_path / "run")
    assert sbatch_quote("/a/b/%A.out") == "/a/b/%A.out"
    assert sbatch_quote('/sp ace/"q"/%A.out') == '"/sp ace/\\"q\\"/%A.out"'


def write_deck(tmp_path: Path, structure: Path, model: Path, out: Path, *extra: str) -> Path:
    assert main(["-q", "deck", str(structure), "--model", str(model), "--supercell", "1", "1", "1", "-o", str(out),
                 "--equil-steps", "10", "--prod-steps", "10", "--dump-every", "5", "--restart-every", "10",
                 *extra]) == 0
    return out


@pytest.fixture
def fake_deck(tmp_path, example_structures_dir):
    """A deck under paths with spaces and non-ASCII, whose recorded ``lmp`` is a fake one there too."""
    root = tmp_path / "sp ace" / "données"
    (root / "my venv" / "bin").mkdir(parents=True)
    lmp = root / "my venv" / "bin" / "l m p"
    lmp.write_text(FAKE_LMP)
    lmp.chmod(0o755)
    model = root / "model dir" / "m #1.pt"
    model.parent.mkdir()
    model.write_bytes(b"placeholder")
    return write_deck(tmp_path, example_structures_dir / "NaBH4.extxyz", model, root / "T 500 K", "--lmp", str(lmp),
                      "--launcher", "")


def run_job(run_dir: Path, **env) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if k not in ("LMP", "MPIRUN", "SLURM_SUBMIT_DIR")}
    full.update(env)
    return subprocess.Popen(["bash", str(run_dir / "job.slurm")], cwd=run_dir.parent, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_job_script_runs_from_paths_with_spaces_and_non_ascii(fake_deck):
    proc = run_job(fake_deck)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    args = (fake_deck / "lmp_args.txt").read_text().splitlines()
    assert args[0].endswith("sp ace/données/my venv/bin/l m p")
    assert args[1:] == ["-in", "in.lammps", "-log", "none", "-var", "resume", "0"]
    assert 'pair_coeff      * * "../model dir/m #1.pt" ' in (fake_deck / "in.lammps").read_text()
    # a launcher whose path has a space, given with shell quoting
    launcher = fake_deck.parent / "my venv" / "bin" / "mpi run"
    launcher.write_text('#!/bin/bash\n[ "$1" = -np ] && shift 2\nexec "$@"\n')
    launcher.chmod(0o755)
    proc = run_job(fake_deck, MPIRUN=shlex.join([str(launcher), "-np", "2"]))
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert (fake_deck / "lmp_args.txt").read_text().splitlines()[1:3] == ["-in", "in.lammps"]


def test_second_job_in_one_run_directory_is_refused_naming_the_first(fake_deck):
    hold = fake_deck / "release"
    first = run_job(fake_deck, HOLD=str(hold))
    deadline = time.monotonic() + 30
    while not (fake_deck / "lmp_args.txt").exists():
        assert time.monotonic() < deadline and first.poll() is None, first.stderr.read() if first.poll() else ""
        time.sleep(0.05)
    holder = json.loads((fake_deck / ".run.lock").read_text())
    assert holder["host"] == socket.gethostname() and holder["pid"] == first.pid and holder["started_at"]
    second = run_job(fake_deck)
    _out, err = second.communicate(timeout=30)
    assert second.returncode == 75
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is in use by another job" in lines[0] and f'"pid": {first.pid}' in lines[0]
    hold.touch()
    assert first.wait(timeout=30) == 0
    assert (fake_deck / ".run.lock").read_text() == ""  # released
    # a lock left by a killed job (file content, no flock holder) is taken over with a note
    (fake_deck / ".run.lock").write_text('{"host": "gone", "pid": 1, "started_at": "2020-01-01T00:00:00"}\n')
    third = run_job(fake_deck)
    out, _err = third.communicate(timeout=30)
    assert third.returncode == 0 and "note: taking over the lock of a job that ended without releasing it" in out


def frames(steps: list[int]) -> str:
    return "".join(f"ITEM: TIMESTEP\n{s}\nITEM: NUMBER OF ATOMS\n1\nITEM: ATOMS id\n1\n" for s in steps)


@pytest.mark.parametrize("steps, kept", [([0, 5, 10, 15], [0, 5]), ([10, 15], []), ([0, 5], [0, 5])])
def test_resume_cuts_the_dump_in_place(fake_deck, steps, kept):
    (fake_deck / "restart" / "restart.10").write_bytes(b"x")
    (fake_deck / "dump.lammpstrj").write_text(frames(steps) + "ITEM: TIMESTEP\n2")  # a frame cut by the kill
    (fake_deck / "dump.lammpstrj.tmp").write_text("left by an older job script")
    proc = run_job(fake_deck)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == "", err
    assert "resuming from restart/restart.10" in out
    assert (fake_deck / "dump.lammpstrj").read_text() == frames(kept) + ("" if 10 in steps else "ITEM: TIMESTEP\n2")
    assert not (fake_deck / "dump.lammpstrj.tmp").exists()
    assert (fake_deck / "lmp_args.txt").read_text().splitlines()[-1] == "1"  # -var resume 1


def test_failed_dump_trim_stops_before_lammps(fake_deck, tmp_path):
    """A full disk (here: ``truncate`` failing with ENOSPC) stops the job in one line; LAMMPS is not started."""
    (fake_deck / "restart" / "restart.10").write_bytes(b"x")
    (fake_deck / "dump.lammpstrj").write_text(frames([0, 5, 10, 15]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "truncate").write_text("#!/bin/bash\necho \"truncate: No space left on device\" >&2\nexit 1\n")
    (bin_dir / "truncate").chmod(0o755)
    proc = run_job(fake_deck, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 74
    assert err.strip().splitlines()[-1] == ("error: could not cut dump.lammpstrj back to step 10 (disk full or "
                                            "read-only?); LAMMPS not started")
    assert not (fake_deck / "lmp_args.txt").exists()
    assert dump_timesteps(fake_deck / "dump.lammpstrj") == [0, 5, 10, 15]  # untouched
    assert sorted(p.name for p in fake_deck.iterdir() if p.name.endswith(".tmp")) == []


@pytest.mark.lammps
def test_real_run_from_paths_with_spaces_and_non_ascii(tmp_path, nabh_model_f32, example_structures_dir):
    """The real plugin: checkout-like, venv-like, model and run folders with spaces and non-ASCII; run, then resume."""
    from pydriver.lammps.session import lammps_env, lmp_executable

    root = tmp_path / "sp ace" / "données Na₂B₁₂H₁₂"
    (root / "my venv" / "bin").mkdir(parents=True)
    lmp = root / "my venv" / "bin" / "lmp"
    lmp.symlink_to(lmp_executable())
    model = root / "model dir" / "nabh f32.pt"
    model.parent.mkdir()
    model.write_bytes(nabh_model_f32.read_bytes())
    structure = root / "structure files" / "NaBH4 cell.extxyz"
    structure.parent.mkdir()
    structure.write_text((example_structures_dir / "NaBH4.extxyz").read_text())
    run_dir = write_deck(tmp_path, structure, model, root / "T 500 K", "--lmp", str(lmp), "--launcher", "",
                         "--prod-steps", "20")
    env = {k: v for k, v in lammps_env().items() if k not in ("LMP", "MPIRUN")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(["bash", "job.slurm"], cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "non-ASCII" not in proc.stdout + proc.stderr
    assert dump_timesteps(run_dir / "dump.lammpstrj") == [10, 15, 20, 25, 30]
    # resume from restart.20 (as after a kill): the dump is cut back and continued without a repeat
    (run_dir / "restart" / "restart.30").unlink()
    proc = subprocess.run(["bash", "job.slurm"], cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "resuming from restart/restart.20" in proc.stdout
    assert dump_timesteps(run_dir / "dump.lammpstrj") == [10, 15, 20, 25, 30]
