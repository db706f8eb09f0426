"""The OpenMP environment of every LAMMPS run: thread count, wait policy, thread binding.

One place for it: the local executor and the runtime estimate take :func:`openmp_environment`,
and the job scripts (``templates/job.slurm.j2``) render :func:`openmp_template_values`, so a run
started by a sweep, by hand or by SLURM gets the same policy.

* ``OMP_NUM_THREADS``: torch threads per MPI rank (the plugin reads it; ``package omp`` overrides).
* ``OMP_WAIT_POLICY=PASSIVE``: an OpenMP thread waiting for work sleeps instead of spinning. With
  the default (spinning), a TorchScript model with 2 threads on a 2-core node shared with other
  jobs ran 5-7x slower than with 1 thread; passive waiting restores it. A value already set in the
  environment is kept (e.g. ``ACTIVE`` on nodes a job has to itself).
* ``OMP_PROC_BIND=close``, ``OMP_PLACES=cores``: each thread pinned to one core of its rank, only
  when the rank's CPU set holds exactly its thread count (``srun -c N --cpu-bind=cores`` with
  SLURM's task/affinity, ``mpiexec -bind-to core:N``, a job's own cgroup). On a CPU set shared
  with other jobs (a laptop, SLURM's task/none) binding would pile every job's threads onto the
  same first cores, so it is left off; the job script checks this per rank with ``nproc``.
"""

from __future__ import annotations

import os

#: an idle OpenMP thread sleeps instead of spinning (GNU and LLVM OpenMP read this)
WAIT_POLICY = "PASSIVE"
#: thread binding when a rank owns exactly its cores
PROC_BIND = "close"
PLACES = "cores"
#: the variables this module sets, in the order they are logged
OPENMP_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OMP_PROC_BIND", "OMP_PLACES")


def openmp_environment(threads: int, bind: bool = False, base: dict[str, str] | None = None) -> dict[str, str]:
    """The OpenMP variables of a LAMMPS run with ``threads`` torch threads per rank.

    Parameters
    ----------
    threads : threads per MPI rank (>= 1).
    bind : also pin threads (``OMP_PROC_BIND``, ``OMP_PLACES``); only where the rank's CPU set is its
        own (see the module docstring).
    base : the environment the run starts from (default ``os.environ``); an ``OMP_WAIT_POLICY``,
        ``OMP_PROC_BIND`` or ``OMP_PLACES`` set there is kept.

    Returns
    -------
    dict
        ``{"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}`` (plus the binding pair with ``bind``),
        to merge into the run's environment.

    Raises
    ------
    ValueError
        If ``threads`` < 1.
    """
    if int(threads) < 1:
        raise ValueError(f"threads per rank must be >= 1, got {threads} (threads_per_rank / --cpus-per-task)")
    base = os.environ if base is None else base
    env = {"OMP_NUM_THREADS": str(int(threads)), "OMP_WAIT_POLICY": base.get("OMP_WAIT_POLICY") or WAIT_POLICY}
    if bind:
        env["OMP_PROC_BIND"] = base.get("OMP_PROC_BIND") or PROC_BIND
        env["OMP_PLACES"] = base.get("OMP_PLACES") or PLACES
    return env


def openmp_summary(env: dict[str, str]) -> str:
    """One log line: ``OpenMP: OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE OMP_PROC_BIND=unset ...``."""
    return "OpenMP: " + " ".join(f"{name}={env.get(name) or 'unset'}" for name in OPENMP_VARIABLES)


def openmp_template_values() -> dict[str, str]:
    """The policy for ``templates/job.slurm.j2`` (``openmp`` there): wait policy, binding and places."""
    return {"wait_policy": WAIT_POLICY, "proc_bind": PROC_BIND, "places": PLACES}
