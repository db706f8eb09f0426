"""Copies of an exported model file with edited metadata (tests only): another torch, another CPU.

The copy is written as the exporter writes a file (the module saved with its extra files, then the
per-entry sha256 recorded for the bytes actually written), so it passes the checksum check and only the
edited keys differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch

from pydriver import model_file
from pydriver.m3gnet.compiled import THREADS_RUN_TIME
from pydriver.model_file import compiled_file


def edited_copy(src: Path, dst: Path, change: Callable[[dict[str, Any]], None],
                add: dict[str, bytes] | None = None) -> Path:
    """Copy ``src`` to ``dst`` with ``change(metadata)`` applied and the extra files ``add`` stored beside the
    ones ``src`` has; the checksums are those of ``dst``'s entries."""
    meta = model_file.read_metadata(src)
    names = [model_file.METADATA_FILE]
    for entry in meta.get("compiled", {}).values():
        names.append(entry["file"])
        if "halo" in entry:
            names += [entry["halo"]["block"], entry["halo"]["block_grad"]]
    extra: dict[str, Any] = {name: b"" for name in names}
    module = torch.jit.load(str(src), _extra_files=extra)
    extra.update(add or {})
    change(meta)
    meta.pop(model_file.CHECKSUM_KEY, None)
    # as the exporter: save, record the checksums of what was written, save again with them
    extra[model_file.METADATA_FILE] = json.dumps(meta, indent=1)
    module.save(str(dst), _extra_files=extra)
    meta[model_file.CHECKSUM_KEY] = model_file.entry_checksums(dst)
    extra[model_file.METADATA_FILE] = json.dumps(meta, indent=1)
    module.save(str(dst), _extra_files=extra)
    model_file.read_metadata(dst, verify=True)
    return dst


def foreign_package(src: Path, dst: Path, **entry: Any) -> Path:
    """``src`` (a TorchScript-only file) with a compiled cpu entry ``entry`` over this machine's, naming a
    package that is not one (it must never be loaded: the metadata alone refuses it)."""
    fits = {"file": compiled_file("cpu"), "torch": torch.__version__, "threads": THREADS_RUN_TIME,
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    return edited_copy(src, dst, lambda meta: meta.update(compiled={"cpu": dict(fits, **entry)}),
                       add={compiled_file("cpu"): b"not an AOTInductor package"})
