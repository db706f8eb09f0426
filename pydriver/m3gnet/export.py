"""Export a matgl M3GNet checkpoint to one self-contained TorchScript file for ``pair_style m3gnet``.

The file is a TorchScript archive of :class:`pydriver.m3gnet.model.M3GNetPES` with an extra file
``metadata.json`` (and, when compiled, AOTInductor packages); its contract (names, versions, checksums) lives in
:mod:`pydriver.model_file` and every metadata key is described in ``docs/model_file.md``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from pydriver import __version__
from pydriver.m3gnet.checkpoint import M3GNetCheckpoint, load_checkpoint
from pydriver.m3gnet.model import M3GNetPES
from pydriver.m3gnet.precision import DEVICES, DTYPE_NAMES
from pydriver.m3gnet.threebody import THREEBODY_MODES
from pydriver.model_file import (CHECKSUM_KEY, FORMAT_NAME, FORMAT_VERSION, METADATA_FILE, block_files,
                                 compiled_file, entry_checksums, read_metadata)

log = logging.getLogger(__name__)

__all__ = ["DTYPES", "FORMAT_NAME", "FORMAT_VERSION", "METADATA_FILE", "build_model", "export_checkpoint"]

DTYPES = {name: getattr(torch, name) for name in DTYPE_NAMES}


def build_model(model_dir: str | Path | M3GNetCheckpoint, dtype: str = "float64", threebody: str = "density"
                ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a checkpoint (folder or loaded) as an eager :class:`M3GNetPES` in ``dtype`` plus its metadata.

    ``threebody`` selects the three-body formulation ("density", O(bonds), or "triples", the literal
    matgl sum over bond pairs); both give the same numbers.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} not in {sorted(DTYPES)}")
    if threebody not in THREEBODY_MODES:
        raise ValueError(f"threebody {threebody!r} not in {list(THREEBODY_MODES)}")
    ckpt = model_dir if isinstance(model_dir, M3GNetCheckpoint) else load_checkpoint(model_dir)
    model = M3GNetPES(ckpt, threebody).to(DTYPES[dtype]).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model_name": ckpt.name,
        "elements": list(ckpt.model_args["element_types"]),
        "cutoff_A": model.cutoff,
        "threebody_cutoff_A": model.threebody_cutoff,
        "nblocks": model.nblocks,
        "node_feature_dim": int(model.node_embedding.weight.shape[1]),
        "dtype": dtype,
        "device": "cpu",
        "data_mean_eV": float(ckpt.state.get("data_mean", torch.tensor(ckpt.data_mean))),
        "use_smooth": model.use_smooth,
        "calc_repuls": model.calc_repuls,
        "source_sha256": ckpt.source_sha256,
        "exporter": f"pydriver {__version__}",
        "threebody": threebody,
    }
    return model, meta


def export_checkpoint(model_dir: str | Path | M3GNetCheckpoint, out_path: str | Path, dtype: str = "float64",
                      device: str = "cpu", threebody: str = "density", compiled: bool = False) -> Path:
    """Write ``out_path`` (TorchScript + metadata, and with ``compiled`` the compiled packages) from the
    matgl checkpoint in ``model_dir``, atomically (a hidden temporary file beside it, renamed when checked).

    Parameters
    ----------
    model_dir : matgl checkpoint folder (model.json, model.pt, state.pt), or an already loaded
        :class:`M3GNetCheckpoint` (e.g. modified for tests).
    out_path : output file, conventionally ``*.pt``.
    dtype : "float64" (exact parity) or "float32" (faster).
    device : default device recorded for the plugin ("cpu" or "cuda"); the file loads on either.
    threebody : "density" (default, O(bonds) memory) or "triples" (matgl's literal sum over bond
        pairs, kept as the reference and benchmark baseline).
    compiled : also store AOTInductor packages for ``device`` (:mod:`pydriver.m3gnet.compiled`): the
        energy + gradient (one rank, ``comm shell``) and one interaction block forward and backward (MPI
        ``comm halo``), any thread count. Compiling takes a few minutes on 2 cores; the packages are kept
        in the cache folder (:mod:`pydriver.m3gnet.package_cache`), so exporting the same checkpoint again
        takes seconds. Needs the density form, a C++ compiler, and for cuda a CUDA device.
        ``python -m pydriver export`` compiles unless given ``--no-compile``; this function only when asked.

    Returns
    -------
    Path of the written file.
    """
    if device not in DEVICES:
        raise ValueError(f"device {device!r} not in {list(DEVICES)}")
    if compiled:  # before the checkpoint is loaded
        from pydriver.m3gnet.compiled import check_compilable  # noqa: PLC0415 (compiled: only for --compile)

        check_compilable(threebody, device)
    model, meta = build_model(model_dir, dtype, threebody)
    meta["device"] = device
    extra: dict[str, bytes | str] = {}
    if compiled:
        from pydriver.m3gnet.package_cache import compiled_packages  # noqa: PLC0415 (heavy)

        packages = compiled_packages(model, device)
        extra[compiled_file(device)] = packages.energy_gradient
        entry = {"file": compiled_file(device), "torch": torch.__version__, "threads": packages.threads,
                 "cpu_capability": packages.cpu_capability}
        if packages.block is not None and packages.block_grad is not None:
            block, block_grad = block_files(device)
            extra[block], extra[block_grad] = packages.block, packages.block_grad
            entry["halo"] = {"block": block, "block_grad": block_grad, "weights": packages.weights}
        meta["compiled"] = {device: entry}
        model = model.to("cpu")
    scripted = torch.jit.script(model)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # one per process: concurrent exports do not collide
    # the entries' checksums go into the metadata: save, hash, save again with them (torch.jit.save writes
    # the same bytes for the same module), then check the final file as a reader will
    extra[METADATA_FILE] = json.dumps(meta, indent=1)
    torch.jit.save(scripted, str(tmp), _extra_files=extra)
    meta[CHECKSUM_KEY] = entry_checksums(tmp)
    extra[METADATA_FILE] = json.dumps(meta, indent=1)
    torch.jit.save(scripted, str(tmp), _extra_files=extra)
    try:
        read_metadata(tmp, verify=True)
    except ValueError as exc:
        tmp.unlink()
        raise ValueError(f"export of {meta['model_name']} wrote different bytes on a second save ({exc})") from exc
    tmp.replace(out)
    log.info("exported %s (%s, %d elements, cutoff %.2f A) to %s", meta["model_name"], dtype,
             len(meta["elements"]), meta["cutoff_A"], out)
    return out
