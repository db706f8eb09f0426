"""Sweep tests keep the runtime-estimate timing cache in a temporary folder (not ~/.cache)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def timing_cache(tmp_path_factory, monkeypatch):
    """``PYDRIVER_CACHE_DIR`` for this test and the sweeps it starts (shared by the session)."""
    folder = tmp_path_factory.getbasetemp() / "timing-cache"
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def nabh4_config(tmp_path, example_structures_dir):
    """``nabh4_config(temperatures_K, extra)``: a small NaBH4 sweep config with a placeholder model.

    ``extra`` is appended YAML (executor, local or estimate settings); output goes to ``tmp_path/out``.
    For tests that stop before LAMMPS (locks, disk checks).
    """
    def write(temperatures_K, extra: str = ""):
        (tmp_path / "model.pt").write_bytes(b"placeholder")
        path = tmp_path / "scan.yaml"
        path.write_text(f"""
structures: [{{name: NaBH4, file: {example_structures_dir / 'NaBH4.extxyz'}, supercell: [1, 1, 1]}}]
temperatures_K: {list(temperatures_K)}
md: {{equil_steps: 10, prod_steps: 20, dump_every: 5}}
model: {{path: model.pt}}
output: out
{extra}""")
        return path

    return write
