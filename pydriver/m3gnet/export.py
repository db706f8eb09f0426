"""Export a matgl M3GNet checkpoint to one self-contained TorchScript file for ``pair_style m3gnet``.

File format (contract between exporter, plugin and later tools): a TorchScript archive of
:class:`pydriver.m3gnet.model.M3GNetPES` with an extra file ``metadata.json``:

``format`` ("pydriver-m3gnet"), ``format_version`` (int, :data:`FORMAT_VERSION`), ``model_name``,
``elements`` (list, index = species id), ``cutoff_A``, ``threebody_cutoff_A``, ``nblocks``,
``node_feature_dim``, ``dtype`` ("float32"|"float64"), ``device`` (default device), ``data_mean_eV``
(structure-level energy shift, divided evenly over atoms), ``use_smooth``, ``calc_repuls``,
``source_sha256`` (of model.json+model.pt+state.pt), ``exporter`` (pydriver version),
``threebody`` ("density"|"triples": formulation of the three-body sum, see
:mod:`pydriver.m3gnet.threebody`), and, when compiled, ``compiled``: {device: {"file": extra-file name,
"torch": torch version that built it}} for AOTInductor packages of the energy + gradient stored as extra
files of the archive ("threads": OpenMP threads of the CPU loops, 0 for the run's count and for cuda;
:mod:`pydriver.m3gnet.compiled`; optional, older readers ignore them).

format_version 2: the per-step three-body geometry comes from the method ``threebody`` as a list of
tensors passed to ``block_messages`` (version 1 had ``triples``/``triple_basis`` and three tensors).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from pydriver import __version__
from pydriver.m3gnet.checkpoint import M3GNetCheckpoint, load_checkpoint
from pydriver.m3gnet.model import M3GNetPES
from pydriver.m3gnet.precision import DEVICES, DTYPE_NAMES
from pydriver.m3gnet.threebody import THREEBODY_MODES

log = logging.getLogger(__name__)

FORMAT_NAME = "pydriver-m3gnet"
FORMAT_VERSION = 2
METADATA_FILE = "metadata.json"
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
    """Write ``out_path`` (TorchScript + metadata) from the matgl checkpoint in ``model_dir``.

    Parameters
    ----------
    model_dir : matgl checkpoint folder (model.json, model.pt, state.pt), or an already loaded
        :class:`M3GNetCheckpoint` (e.g. modified for tests).
    out_path : output file, conventionally ``*.pt``.
    dtype : "float64" (exact parity) or "float32" (faster).
    device : default device recorded for the plugin ("cpu" or "cuda"); the file loads on either.
    threebody : "density" (default, O(bonds) memory) or "triples" (matgl's literal sum over bond
        pairs, kept as the reference and benchmark baseline).
    compiled : also compile the energy + gradient for ``device`` with AOTInductor and store the package
        in the file (1-2 min; the plugin then uses it on single ranks and ``comm shell``, any thread count, see
        :mod:`pydriver.m3gnet.compiled`).
        Needs the density form, a C++ compiler, and for cuda a CUDA device.

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
        from pydriver.m3gnet.compiled import COMPILED_FILE, compile_bytes  # noqa: PLC0415 (heavy)

        name = COMPILED_FILE.format(device=device)
        extra[name], threads = compile_bytes(model, device)
        meta["compiled"] = {device: {"file": name, "torch": torch.__version__, "threads": threads}}
        model = model.to("cpu")
    scripted = torch.jit.script(model)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    extra[METADATA_FILE] = json.dumps(meta, indent=1)
    torch.jit.save(scripted, str(tmp), _extra_files=extra)
    tmp.replace(out)
    log.info("exported %s (%s, %d elements, cutoff %.2f A) to %s", meta["model_name"], dtype,
             len(meta["elements"]), meta["cutoff_A"], out)
    return out


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata dict of an exported model file.

    Raises
    ------
    ValueError
        If the file was not written by this exporter or has another ``format_version``.
    """
    extra = {METADATA_FILE: ""}
    try:
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:
        raise ValueError(f"{path} is not a TorchScript file: {exc}") from exc
    if not extra[METADATA_FILE]:
        raise ValueError(f"{path} has no {METADATA_FILE}: not written by `python -m pydriver export`")
    meta = json.loads(extra[METADATA_FILE])
    if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format {meta.get('format')!r} version {meta.get('format_version')!r}, "
                         f"expected {FORMAT_NAME!r} version {FORMAT_VERSION}")
    return meta
