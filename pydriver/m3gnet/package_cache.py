"""Compiled packages kept between exports in the package's one cache folder (:func:`pydriver.cache.cache_dir`).

Compiling a model's AOTInductor packages takes minutes (:mod:`pydriver.m3gnet.compiled`); exporting the
same checkpoint again (another output file, a sweep's copy, a deck) reuses them. An entry is one JSON file
``compiled-<key>.json`` (packages base64-encoded, written atomically), keyed by everything the generated
code depends on: the model's weights and hyperparameters (hence the checkpoint), dtype, device, torch
version, the CPU instruction set the code is generated for (:func:`pydriver.m3gnet.compiled.cpu_capability`)
and the source of the model code and the compile rules. A missing or unwritable cache folder only means
compiling every time (:func:`pydriver.cache.cache_dir` logs why once); an unreadable entry is compiled
again and replaced.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path

import torch

from pydriver.cache import cache_dir, write_cache_file
from pydriver.m3gnet.model import M3GNetPES

log = logging.getLogger(__name__)

#: version of the entry layout (part of the key)
CACHE_VERSION = 1
#: model and compiler sources whose text enters the key (a code change never reuses stale packages)
SOURCES = ("basis.py", "compiled.py", "cpu_loops.py", "layers.py", "model.py", "threebody.py")
PACKAGE_NAMES = ("energy_gradient", "block", "block_grad")


def cache_key(model: M3GNetPES, device: str, halo: bool, cpu_capability: str) -> str:
    """sha256 hex of what the compiled code of ``model`` for ``device`` depends on (module docstring)."""
    digest = hashlib.sha256()
    settings = {"cache_version": CACHE_VERSION, "device": device, "halo": halo, "torch": torch.__version__,
                "cpu_capability": cpu_capability, "threebody": model.threebody_mode, "cutoff": model.cutoff,
                "threebody_cutoff": model.threebody_cutoff, "max_n": model.max_n, "max_l": model.max_l,
                "use_smooth": model.use_smooth, "nblocks": model.nblocks, "calc_repuls": model.calc_repuls}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):  # weights and buffers, in the model's dtype
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    here = Path(__file__).parent
    for source in SOURCES:
        digest.update((here / source).read_bytes())
    return digest.hexdigest()


def _entry_name(key: str) -> str:
    return f"compiled-{key}.json"


def _load(path: Path):  # noqa: ANN202 (Packages, imported with the compiler)
    from pydriver.m3gnet.compiled import Packages  # noqa: PLC0415 (inductor: heavy)

    data = json.loads(path.read_text())
    packages = {name: base64.b64decode(data["packages"][name]) if data["packages"].get(name) else None
                for name in PACKAGE_NAMES}
    return Packages(packages["energy_gradient"], packages["block"], packages["block_grad"], int(data["threads"]),
                    list(data["weights"]), str(data["cpu_capability"]))


def compiled_packages(model: M3GNetPES, device: str = "cpu", halo: bool = True):  # noqa: ANN201
    """:func:`pydriver.m3gnet.compiled.compile_packages` through the cache: a stored entry for the same key,
    else a fresh compile, stored when the cache folder is writable.

    Raises
    ------
    ValueError
        As :func:`pydriver.m3gnet.compiled.compile_packages` (triple form, CUDA without a device).
    """
    from pydriver.m3gnet.compiled import check_compilable, compile_packages, cpu_capability  # noqa: PLC0415

    check_compilable(model.threebody_mode, device)
    key = cache_key(model, device, halo, cpu_capability())
    folder = cache_dir()
    if folder is not None:
        path = folder / _entry_name(key)
        if path.is_file():
            try:
                packages = _load(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("compiled-package cache entry %s is unreadable (%s); compiling again", path, exc)
            else:
                log.info("compiled packages for %s from the cache (%s)", device, path)
                return packages
    packages = compile_packages(model, device, halo)
    if folder is not None:
        entry = {"cache_version": CACHE_VERSION, "threads": packages.threads, "weights": packages.weights,
                 "cpu_capability": packages.cpu_capability,
                 "packages": {name: base64.b64encode(data).decode() if data is not None else None
                              for name, data in zip(PACKAGE_NAMES, (packages.energy_gradient, packages.block,
                                                                    packages.block_grad))}}
        stored = write_cache_file(_entry_name(key), json.dumps(entry), folder)
        if stored is not None:
            log.info("compiled packages stored in the cache (%s)", stored)
    return packages
