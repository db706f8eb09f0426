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
import sys
import time
from pathlib import Path

import pytest

from pydriver.cli.main import main
from pydriver.deck import JobSettings, MDSettings, dump_timesteps, write_run_directory
from pydriver.lammps.quoting import lammps_path, lammps_quote, sbatch_quote, shell_quote
from pydriver.structures.builders import nabh4_cubic

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
    # LMP relative to where the job is started (LMP=.venv/bin/lmp bash RUN_DIR/job.slurm)
    relative = os.path.relpath(args[0], fake_deck.parent)
    proc = run_job(fake_deck, LMP=relative)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert (fake_deck / "lmp_args.txt").read_text().splitlines()[0] == f"{fake_deck.parent}/{relative}"
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
    env = {k: v for k, v in lammps_env(preload=False).items() if k not in ("LMP", "MPIRUN")}
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


FAKE_LAUNCHER = """#!/bin/bash
printf '%s\\n' "$(basename "$0")" "$@" > launcher_args.txt
while [ "$#" -gt 0 ] && [ "$1" != bash ]; do shift; done
exec "$@"
"""
FAKE_LMP_ENV = """#!/bin/bash
printf '%s\\n' "$0" "$@" > lmp_args.txt
env | grep '^OMP_' | sort > lmp_omp.txt
"""


def sbatch_directives(script: str) -> dict[str, str]:
    """``#SBATCH --key=value`` lines of a job script as ``{key: value}``."""
    out = {}
    for line in script.splitlines():
        if line.startswith("#SBATCH --"):
            key, _, value = line[len("#SBATCH --"):].partition("=")
            out[key] = value
    return out


@pytest.fixture
def tools(tmp_path):
    """A venv-like bin folder (fake ``lmp`` recording its arguments and OpenMP variables, fake ``mpiexec`` beside
    it) and a site bin folder with a fake ``srun``."""
    venv, site = tmp_path / "my venv" / "bin", tmp_path / "site bin"
    venv.mkdir(parents=True)
    site.mkdir()
    for path, text in ((venv / "lmp", FAKE_LMP_ENV), (venv / "mpiexec", FAKE_LAUNCHER), (site / "srun", FAKE_LAUNCHER)):
        path.write_text(text)
        path.chmod(0o755)
    return venv, site


VARIANTS = {  # name: (JobSettings, MDSettings, SLURM environment, expected launcher argv or None)
    "wheel one rank": (JobSettings(cpus_per_task=2), MDSettings(), {"SLURM_JOB_ID": "7"}, None),
    "wheel two ranks": (JobSettings(ranks_per_node=2, cpus_per_task=2), MDSettings(),
                        {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_CPUS_PER_TASK": "2"},
                        ["mpiexec", "-n", "2", "-bind-to", "core:2"]),
    "site srun": (JobSettings(ranks_per_node=4, cpus_per_task=2, launcher="srun", modules=["lammps/2025"]),
                  MDSettings(plugin_path="/opt/m3gnet/m3gnetplugin.so"),
                  {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4", "SLURM_CPUS_PER_TASK": "2"},
                  ["srun", "-c", "2", "--cpu-bind=cores"]),
    "gpu": (JobSettings(gpus_per_node=1, launcher="srun"), MDSettings(device="cuda"),
            {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1", "SLURM_CPUS_PER_TASK": "1"}, ["srun", "-c", "1", "--cpu-bind=cores"]),
    "command": (JobSettings(cpus_per_task=3, launcher='srun --mpi=pmix -c "$SLURM_CPUS_PER_TASK"'), MDSettings(),
                {"SLURM_JOB_ID": "7", "SLURM_CPUS_PER_TASK": "3"}, ["srun", "--mpi=pmix", "-c", "3"]),
    "none": (JobSettings(launcher=""), MDSettings(), {}, None),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_job_script_variants_parse_and_launch(variant, tools, tmp_path):
    """Each launcher variant: its #SBATCH lines, the deck lines it needs, and the command it starts (fake launchers
    and lmp), with no path of the writing machine in the script."""
    venv, site = tools
    job, md, slurm_env, launcher_argv = VARIANTS[variant]
    model = tmp_path / "m.pt"
    model.write_bytes(b"placeholder")
    out = write_run_directory(nabh4_cubic(), model, tmp_path / "run", md=md, job=job)
    script = (out / "job.slurm").read_text()
    directives = sbatch_directives(script)
    assert directives["ntasks-per-node"] == str(job.ranks_per_node)
    assert directives["cpus-per-task"] == str(job.cpus_per_task)
    assert directives.get("gres") == (f"gpu:{job.gpus_per_node}" if job.gpus_per_node else None)
    assert "gpus-per-node" not in directives and directives["output"] == "slurm-%j.out"
    assert str(tmp_path) not in script and str(Path(sys.executable).parent) not in script
    deck = (out / "in.lammps").read_text()
    assert ("plugin          load /opt/m3gnet/m3gnetplugin.so" in deck) == (md.plugin_path is not None)
    assert ("pair_style      m3gnet device cuda" in deck) == (md.device == "cuda")
    if job.modules:  # `module` is a shell function on clusters; a stand-in here
        (site / "module").write_text("#!/bin/bash\nexit 0\n")
        (site / "module").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMP_", "LMP", "MPIRUN"))}
    env.update(slurm_env, PATH=os.pathsep.join([str(venv), str(site), env["PATH"]]), SLURM_SUBMIT_DIR=str(out))
    proc = subprocess.run(["bash", "job.slurm"], cwd=out, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lmp_args = (out / "lmp_args.txt").read_text().splitlines()
    assert lmp_args[0] == str(venv / "lmp") and lmp_args[1:3] == ["-in", "in.lammps"]
    if launcher_argv is None:
        assert not (out / "launcher_args.txt").exists()
    else:
        recorded = (out / "launcher_args.txt").read_text().splitlines()
        assert recorded[:len(launcher_argv)] == launcher_argv and recorded[len(launcher_argv)] == "bash", recorded
    omp = dict(line.split("=", 1) for line in (out / "lmp_omp.txt").read_text().splitlines())
    assert omp["OMP_NUM_THREADS"] == slurm_env.get("SLURM_CPUS_PER_TASK", str(job.cpus_per_task))
    assert omp["OMP_WAIT_POLICY"] == "PASSIVE"
    assert f"OpenMP: OMP_NUM_THREADS={omp['OMP_NUM_THREADS']} OMP_WAIT_POLICY=PASSIVE" in proc.stdout


def test_threads_are_pinned_only_on_a_cpu_set_of_their_own(fake_deck):
    """One thread in a CPU set of one core (taskset): pinned, and logged; in a CPU set shared with others: not;
    a wait policy set before the job is kept."""
    import shutil

    if shutil.which("taskset") is None:
        pytest.skip("no taskset here")
    (fake_deck / "fake lmp env").write_text(FAKE_LMP_ENV)
    (fake_deck / "fake lmp env").chmod(0o755)
    own = run_job(fake_deck, LMP=str(fake_deck / "fake lmp env"), OMP_NUM_THREADS="", SLURM_CPUS_PER_TASK="1")
    out, err = own.communicate(timeout=60)
    assert own.returncode == 0, err
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMP_", "LMP", "MPIRUN"))}
    env.update(LMP=str(fake_deck / "fake lmp env"), SLURM_CPUS_PER_TASK="1", OMP_WAIT_POLICY="ACTIVE")
    pinned = subprocess.run(["taskset", "-c", "0", "bash", "job.slurm"], cwd=fake_deck, env=env, capture_output=True,
                            text=True, timeout=60)
    assert pinned.returncode == 0, pinned.stderr
    omp = dict(line.split("=", 1) for line in (fake_deck / "lmp_omp.txt").read_text().splitlines())
    assert omp == {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "ACTIVE", "OMP_PROC_BIND": "close", "OMP_PLACES": "cores"}
    assert "OpenMP: OMP_NUM_THREADS=1 OMP_WAIT_POLICY=ACTIVE OMP_PROC_BIND=close OMP_PLACES=cores" in pinned.stdout
    if (os.cpu_count() or 1) > 1 and len(os.sched_getaffinity(0)) > 1:
        assert "OMP_PROC_BIND=unset OMP_PLACES=unset" in out  # the whole machine's CPUs: shared, not pinned
