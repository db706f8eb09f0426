"""A sweep folder that moves whole: its inputs inside it, its paths relative to it, found from any of its names.

``sweep run`` copies what the runs are written from into the sweep folder (the structure files to
``OUT/inputs/<structure>/<file>``, an exported model file to ``OUT/model/``; a matgl checkpoint is
exported there) and records the config in ``OUT/sweep.json`` with every path inside the folder
relative to it. So ``sweep run OUT`` and ``sweep status OUT`` work after the folder has moved, to
another machine too, without the config file or the files it named (``docs/sweep.md``, "Prepare
here, run there").
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

from pydriver.deck import sha256_file
from pydriver.model_file import is_checkpoint_folder
from pydriver.rundir import INPUTS_FOLDER, MODEL_FOLDER, SWEEP_MANIFEST
from pydriver.sweep.config import CONFIG_SUFFIXES, SweepConfig, _read_mapping, config_from_dict, load_config
from pydriver.sweep.run_state import read_json

log = logging.getLogger(__name__)


def _inside(path: Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def model_copy_name(model: Path) -> str:
    """Name of an exported model file's copy in ``OUT/model/``: ``<stem>-<sha256[:12]>.pt`` (by content,
    so a changed file never overwrites the one earlier runs used)."""
    return f"{model.stem}-{sha256_file(model)[:12]}{model.suffix or '.pt'}"


def model_file_for(config: SweepConfig) -> Path:
    """The exported model file all runs use, inside the sweep folder.

    A model already inside ``config.output`` is used as it is; a matgl checkpoint folder is exported
    to ``OUT/model/<folder>-<dtype>[-compiled].pt``; an exported file elsewhere is copied to
    ``OUT/model/`` (:func:`model_copy_name`).
    """
    path, out = config.model.path, config.output
    if _inside(path, out):
        return path
    if is_checkpoint_folder(path):
        suffix = "-compiled" if config.model.compile else ""
        return out / MODEL_FOLDER / f"{path.name}-{config.model.dtype}{suffix}.pt"
    return out / MODEL_FOLDER / model_copy_name(path)


def _copy_if_changed(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically unless ``target`` already holds the same bytes."""
    if target.is_file() and sha256_file(target) == sha256_file(source):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)


def copy_model_file(config: SweepConfig) -> Path | None:
    """Copy an exported model file from outside the sweep folder into ``OUT/model/``; returns the copy
    (``None`` for a checkpoint folder, which :func:`pydriver.sweep.runner.export_model_once` exports)."""
    target = model_file_for(config)
    if target == config.model.path or is_checkpoint_folder(config.model.path):
        return None
    _copy_if_changed(config.model.path, target)
    return target


def stage_inputs(config: SweepConfig) -> SweepConfig:
    """Copy the structure files (``file`` and ``replicate_files``) into ``OUT/inputs/<structure>/<file>``
    and return the config naming the copies.

    The copies keep the file names (the report names structures by them); a file already inside the
    sweep folder is used where it is. Runs are written from the copies, so their ``run.json`` names
    them relative to the run directory.
    """
    def staged(label: str, file: Path) -> Path:
        if _inside(file, config.output):
            return file
        target = config.output / INPUTS_FOLDER / label / file.name
        _copy_if_changed(file, target)
        return target

    structures = [structure.model_copy(update={
        "file": staged(structure.label, structure.file),
        "replicate_files": [staged(structure.label, f) for f in structure.replicate_files]
        if structure.replicate_files else None}) for structure in config.structures]
    return config.model_copy(update={"structures": structures})


def portable_path(path: str | Path | None, folder: Path) -> str | None:
    """``path`` relative to ``folder`` when inside it, else absolute (a file you keep elsewhere)."""
    if path is None:
        return None
    return os.path.relpath(Path(path).resolve(), folder.resolve()) if _inside(path, folder) else str(path)


def manifest_config(config: SweepConfig, model_file: Path) -> dict:
    """The ``config`` and ``model_file`` entries of ``sweep.json``: paths inside the sweep folder relative to it.

    An exported model file is recorded as its copy in the folder; only a matgl checkpoint folder
    (kept where it is, to export again when the folder has lost its export, e.g. a sweep folder kept
    in git without it) is recorded where it lies, relative to the folder even when outside it: a
    checkout and the models folder beside it stay a pair wherever they are cloned.
    """
    out = config.output
    data = config.model_dump(mode="json")
    data["output"] = "."
    for entry, structure in zip(data["structures"], config.structures):
        entry["file"] = portable_path(structure.file, out)
        if structure.replicate_files:
            entry["replicate_files"] = [portable_path(f, out) for f in structure.replicate_files]
    if is_checkpoint_folder(config.model.path):
        data["model"]["path"] = os.path.relpath(Path(config.model.path).resolve(), out.resolve())
    else:
        data["model"]["path"] = portable_path(model_file, out)
    return {"config": data, "model_file": portable_path(model_file, out)}


def sweep_folder_of(path: str | Path) -> Path:
    """The sweep folder named by a config file, the folder itself or its ``sweep.json``.

    Only what locating it needs is read: a config's ``name`` and ``output`` (no structure or model file).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For a file that is neither a config (``.yaml``/``.yml``/``.toml``) nor a ``sweep.json``.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (give the sweep's config file or its output folder)")
    if path.name == SWEEP_MANIFEST:
        return path.parent
    if path.suffix not in CONFIG_SUFFIXES:
        raise ValueError(f"{path}: give a sweep config ({', '.join(CONFIG_SUFFIXES)}), a sweep folder or its "
                         f"{SWEEP_MANIFEST}")
    data = _read_mapping(path)  # not validated: status needs only where the folder is
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem)
    output = Path(str(data.get("output") or f"sweep-{data.get('name') or stem}")).expanduser()
    return output if output.is_absolute() else (path.resolve().parent / output).resolve()


def load_sweep_folder(folder: str | Path) -> SweepConfig:
    """The config a sweep folder was run with, from its ``sweep.json``, resolved against the folder where it is now.

    Raises
    ------
    FileNotFoundError
        If ``sweep.json`` is missing, or an input it names is neither in the folder nor where recorded.
    ValueError
        If ``sweep.json`` holds no valid config.
    """
    folder = Path(folder)
    manifest = read_json(folder / SWEEP_MANIFEST)
    if manifest is None or not isinstance(manifest.get("config"), dict):
        raise FileNotFoundError(f"{folder / SWEEP_MANIFEST} not found or unreadable: not a sweep folder (give the "
                                "config file, or run `python -m pydriver sweep run CONFIG` first)")
    data = json.loads(json.dumps(manifest["config"]))
    data["output"] = "."
    if manifest.get("model_file"):
        data["model"]["path"] = manifest["model_file"]  # the exported file in the folder, no checkpoint needed
    return config_from_dict(data, str(folder / SWEEP_MANIFEST), folder, manifest.get("name") or folder.name)


def load_sweep(path: str | Path) -> SweepConfig:
    """A sweep's config from its config file (:func:`pydriver.sweep.config.load_config`), or from a sweep
    folder or its ``sweep.json`` (:func:`load_sweep_folder`)."""
    path = Path(path)
    if path.is_dir() or path.name == SWEEP_MANIFEST:
        return load_sweep_folder(path if path.is_dir() else path.parent)
    return load_config(path)
