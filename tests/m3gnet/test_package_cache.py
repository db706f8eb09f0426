"""Compiled packages are cached between exports (keyed by what the code depends on) and an unwritable cache
folder only means compiling again. The compiler is replaced by a stub here (the real compile runs once per
test session, in the ``compiled_models`` fixture)."""

from __future__ import annotations

import pytest
import torch

from pydriver.m3gnet import compiled, package_cache
from pydriver.m3gnet.export import build_model, export_checkpoint
from pydriver.model_file import block_files, compiled_file, read_metadata
from tests.conftest import MODELS_DIR
from tests.golden import NABH


@pytest.fixture
def stub_compiler(monkeypatch):
    """``compile_packages`` replaced by a stub that counts its calls and returns marked bytes."""
    calls = []

    def stub(model, device="cpu", halo=True):  # noqa: ANN001, ANN202
        calls.append((model.node_embedding.weight.dtype, device, halo))
        tag = f"{len(calls)}".encode()
        return compiled.Packages(b"energy" + tag, b"block" + tag, b"grad" + tag, compiled.THREADS_RUN_TIME,
                                 compiled.block_weight_names(model), compiled.cpu_capability())

    monkeypatch.setattr(compiled, "compile_packages", stub)
    return calls


def _packages(path):  # noqa: ANN001, ANN202
    meta = read_metadata(path, verify=True)
    names = [compiled_file("cpu"), *block_files("cpu")]
    extra = {name: b"" for name in names}
    torch.jit.load(str(path), _extra_files=extra)
    return meta["compiled"]["cpu"], [extra[name] for name in names]


def test_a_second_export_takes_the_packages_from_the_cache(stub_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(tmp_path / "cache"))
    first = export_checkpoint(MODELS_DIR / NABH, tmp_path / "a.pt", dtype="float32", compiled=True)
    second = export_checkpoint(MODELS_DIR / NABH, tmp_path / "b.pt", dtype="float32", compiled=True)
    assert len(stub_compiler) == 1
    entry, packages = _packages(second)
    assert packages == [b"energy1", b"block1", b"grad1"] and _packages(first)[1] == packages
    assert entry["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert entry["torch"] == torch.__version__ and entry["halo"]["block"] == block_files("cpu")[0]
    assert len(list((tmp_path / "cache").glob("compiled-*.json"))) == 1
    export_checkpoint(MODELS_DIR / NABH, tmp_path / "c.pt", dtype="float64", compiled=True)  # another key
    assert len(stub_compiler) == 2 and _packages(tmp_path / "c.pt")[1][0] == b"energy2"


def test_an_unwritable_cache_folder_means_compiling_every_time(stub_compiler, monkeypatch, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(blocker / "cache"))
    for name in ("a.pt", "b.pt"):
        export_checkpoint(MODELS_DIR / NABH, tmp_path / name, dtype="float32", compiled=True)
    assert len(stub_compiler) == 2
    assert _packages(tmp_path / "b.pt")[1][0] == b"energy2"


def test_an_unreadable_cache_entry_is_compiled_again(stub_compiler, monkeypatch, tmp_path):
    monkeypatch.setenv("PYDRIVER_CACHE_DIR", str(tmp_path / "cache"))
    export_checkpoint(MODELS_DIR / NABH, tmp_path / "a.pt", dtype="float32", compiled=True)
    (entry,) = (tmp_path / "cache").glob("compiled-*.json")
    entry.write_text("{truncated")
    export_checkpoint(MODELS_DIR / NABH, tmp_path / "b.pt", dtype="float32", compiled=True)
    assert len(stub_compiler) == 2 and _packages(tmp_path / "b.pt")[1][0] == b"energy2"


def test_the_key_follows_weights_dtype_device_torch_and_cpu(monkeypatch):
    model, _ = build_model(MODELS_DIR / NABH, "float32")
    key = package_cache.cache_key(model, "cpu", True, "AVX512")
    assert key == package_cache.cache_key(model, "cpu", True, "AVX512")
    assert key != package_cache.cache_key(model, "cpu", True, "AVX2")
    assert key != package_cache.cache_key(model, "cuda", True, "AVX512")
    assert key != package_cache.cache_key(model, "cpu", False, "AVX512")
    assert key != package_cache.cache_key(model.double(), "cpu", True, "AVX512")
    monkeypatch.setattr(torch, "__version__", "2.0.0+cpu")
    assert key != package_cache.cache_key(model.float(), "cpu", True, "AVX512")
    monkeypatch.undo()
    with torch.no_grad():
        model.blocks[1].edge_weight.weight[0, 0] += 1e-3
    assert key != package_cache.cache_key(model, "cpu", True, "AVX512")
