"""Tolerant loading of matgl (1.x format) M3GNet potential checkpoints: model.json, model.pt, state.pt.

The checkpoints in ``shared/models`` were written by several matgl versions: some carry kwargs that
matgl 1.3.0 does not know (``calc_site_wise``, ``calc_magmom``, ``debug_mode``) and some were saved
on CUDA. We read them on the CPU, with ``weights_only=True``, drop those kwargs (a debug log line for the
known ones, which do not change energies or forces; a warning for any other), and never import matgl or dgl.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

#: kwargs of matgl 1.3.0's ``Potential`` that we understand.
POTENTIAL_KWARGS = {"model", "data_mean", "data_std", "element_refs", "calc_forces", "calc_stresses",
                    "calc_hessian", "calc_repuls", "zbl_trainable"}
#: kwargs of newer matgl that do not change the energy; dropped with a warning.
IGNORED_KWARGS = {"calc_site_wise", "calc_magmom", "debug_mode"}
#: M3GNet init args that change the math and that we implement (others must keep their defaults).
SUPPORTED_MODEL_ARGS = {
    "element_types", "dim_node_embedding", "dim_edge_embedding", "max_n", "max_l", "nblocks", "rbf_type",
    "is_intensive", "readout_type", "task_type", "cutoff", "threebody_cutoff", "units", "ntargets",
    "use_smooth", "use_phi", "activation_type", "include_state", "dim_state_embedding", "ntypes_state",
    "dim_state_feats", "niters_set2set", "nlayers_set2set", "field", "dropout",
}
REQUIRED_FILES = ("model.json", "model.pt", "state.pt")


class CheckpointError(ValueError):
    """The folder is not a matgl M3GNet potential checkpoint we can export."""


@dataclass
class M3GNetCheckpoint:
    """Everything needed to rebuild an M3GNet potential, as plain Python/torch objects.

    Attributes
    ----------
    name : folder name of the checkpoint (e.g. ``M3GNet-r2SCAN-NaBH``).
    model_args : M3GNet ``init_args`` (element_types, cutoff_A as ``cutoff``, ...).
    data_mean, data_std : energy scaling (eV).
    element_refs_eV : per-element reference energies or ``None``.
    calc_repuls : whether a ZBL repulsion is added.
    state : the state dict (CPU tensors).
    source_sha256 : sha256 over model.json, model.pt and state.pt (in that order).
    dropped_kwargs : kwargs ignored while loading.
    """

    name: str
    model_args: dict[str, Any]
    data_mean: float
    data_std: float
    element_refs_eV: torch.Tensor | None
    calc_repuls: bool
    state: dict[str, torch.Tensor]
    source_sha256: str
    dropped_kwargs: list[str] = field(default_factory=list)


def _as_float(value: Any, key: str) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.reshape(-1)[0])
    if isinstance(value, (int, float)):
        return float(value)
    if value is None and key == "data_mean":
        return 0.0
    raise CheckpointError(f"{key} has unexpected value {value!r}")


def _sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _check_model_args(args: dict[str, Any]) -> None:
    unsupported = {
        "is_intensive": False, "readout_type": "weighted_atom", "include_state": False,
        "use_phi": False, "rbf_type": "SphericalBessel", "activation_type": "swish", "ntargets": 1,
    }
    for key, expected in unsupported.items():
        if key in args and args[key] != expected:
            raise CheckpointError(f"M3GNet option {key}={args[key]!r} is not supported (only {expected!r})")
    unknown = sorted(set(args) - SUPPORTED_MODEL_ARGS)
    if unknown:
        log.warning("ignoring M3GNet init args unknown to this exporter: %s", unknown)


def load_checkpoint(model_dir: str | Path) -> M3GNetCheckpoint:
    """Read a matgl M3GNet ``Potential`` checkpoint folder.

    Parameters
    ----------
    model_dir : folder holding ``model.json``, ``model.pt`` and ``state.pt``.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the three files is missing.
    CheckpointError
        If the files do not describe an M3GNet potential, or are malformed.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint folder {folder} does not exist")
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a matgl checkpoint: missing {missing} (need {list(REQUIRED_FILES)})")
    try:
        meta = json.loads((folder / "model.json").read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{folder / 'model.json'} is not valid JSON: {exc}") from exc
    if meta.get("@class") != "Potential":
        raise CheckpointError(f"{folder} holds a {meta.get('@class')!r}, expected a matgl 'Potential'")
    try:
        kwargs = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"cannot read the torch files in {folder}: {exc}") from exc
    if not isinstance(kwargs, dict) or not isinstance(state, dict):
        raise CheckpointError(f"{folder}: model.pt/state.pt are not dictionaries")
    model = kwargs.get("model")
    if not isinstance(model, dict) or model.get("@class") != "M3GNet":
        got = model.get("@class") if isinstance(model, dict) else type(model).__name__
        raise CheckpointError(f"{folder} holds a {got!r} model; only M3GNet is supported")
    dropped = sorted(k for k in kwargs if k not in POTENTIAL_KWARGS and not k.startswith("@"))
    harmless = [k for k in dropped if k in IGNORED_KWARGS]
    if harmless:
        log.debug("%s: ignoring %s (written by newer matgl; they do not change energies or forces)", folder.name,
                  ", ".join(harmless))
    unknown = [k for k in dropped if k not in IGNORED_KWARGS]
    if unknown:
        log.warning("%s: ignoring kwargs unknown to matgl 1.3.0's Potential: %s (check that they do not change "
                    "the energy)", folder.name, unknown)
    args = dict(model["init_args"])
    _check_model_args(args)
    refs = kwargs.get("element_refs")
    if refs is not None:
        refs = torch.as_tensor(refs, dtype=torch.float64).reshape(-1)
    return M3GNetCheckpoint(
        name=folder.resolve().name,
        model_args=args,
        data_mean=_as_float(kwargs.get("data_mean", 0.0), "data_mean"),
        data_std=_as_float(kwargs.get("data_std", 1.0), "data_std"),
        element_refs_eV=refs,
        calc_repuls=bool(kwargs.get("calc_repuls", False)),
        state={k: v.detach().to("cpu") for k, v in state.items()},
        source_sha256=_sha256([folder / f for f in REQUIRED_FILES]),
        dropped_kwargs=dropped,
    )
