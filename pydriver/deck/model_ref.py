"""The model a run uses: an exported TorchScript file, or a matgl checkpoint folder exported here."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from functools import lru_cache
from pathlib import Path

from ase.data import atomic_numbers

from pydriver.lammps.quoting import run_relative_path
from pydriver.m3gnet.precision import DEFAULT_DTYPE, DTYPE_NAMES
from pydriver.model_file import is_checkpoint_folder, model_source_kind, read_metadata
from pydriver.rundir import MODEL_FILE

log = logging.getLogger(__name__)

MODEL_FILE_NAME = MODEL_FILE


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file.

    Cached by resolved path, size and modification time, so a model shared by many run directories
    is read once and a rewritten file is hashed again.

    Raises
    ------
    OSError
        If the file cannot be read (``FileNotFoundError`` when it does not exist).
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _sha256_of(str(resolved), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _sha256_of(path: str, _size: int, _mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_info(model: str | Path) -> dict | None:
    """Name, elements and graph cutoff of a model, read once without torch; ``None`` if unreadable.

    Parameters
    ----------
    model : exported model file (:func:`pydriver.model_file.read_metadata`) or matgl checkpoint folder
        (``model.json``: ``element_types`` and ``cutoff`` of the model's init arguments).

    Returns
    -------
    dict or None
        ``name`` (str), ``elements`` (list of str, in the model's order), ``cutoff_A`` (float, or None
        when the file does not record it).
    """
    path = Path(model).expanduser()
    try:
        if is_checkpoint_folder(path):
            args = json.loads((path / "model.json").read_text())["kwargs"]["model"]["init_args"]
            name, elements, cutoff = path.name, args["element_types"], args.get("cutoff")
        else:
            meta = read_metadata(path)
            name, elements, cutoff = meta.get("model_name") or path.stem, meta["elements"], meta.get("cutoff_A")
        return {"name": name, "elements": list(elements), "cutoff_A": None if cutoff is None else float(cutoff)}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def model_elements(model: str | Path) -> tuple[str, list[str]] | None:
    """``(name, elements)`` of :func:`model_info`, or ``None`` if they cannot be read."""
    info = model_info(model)
    return None if info is None else (info["name"], info["elements"])


def check_elements(structure_elements: set[str] | list[str], model: str | Path) -> None:
    """Raise ``ValueError`` if the structure has elements the model was not trained on.

    The message names them and the model's elements, heaviest first, e.g.
    ``structure has Li; model M3GNet-r2SCAN-NaBH has Na, B, H``. A model whose elements cannot be
    read (not an exported file) is not checked here; LAMMPS's ``pair_coeff`` checks it at run time.
    """
    found = model_elements(model)
    if found is None:
        log.debug("cannot read the elements of %s; not checked", model)
        return
    name, elements = found
    missing = sorted(set(structure_elements) - set(elements), key=lambda e: -atomic_numbers.get(e, 0))
    if missing:
        listed = ", ".join(sorted(elements, key=lambda e: -atomic_numbers.get(e, 0)))
        raise ValueError(f"structure has {', '.join(missing)}; model {name} has {listed}")


def resolve_model(model: str | Path, run_dir: Path, copy: bool = False, dtype: str = DEFAULT_DTYPE) -> tuple[str, dict]:
    """Decide how the deck references the model, exporting or copying it if needed.

    Parameters
    ----------
    model : an exported model file (``python -m pydriver export``) or a matgl checkpoint folder.
    run_dir : the run directory (exports and copies go to ``run_dir/model.pt``).
    copy : copy an exported file into the run directory instead of referencing it.
    dtype : precision of an on-the-fly export, one of :data:`pydriver.m3gnet.precision.DTYPE_NAMES`.

    Returns
    -------
    (str, dict)
        The path written in ``pair_coeff`` and the ``model`` entry of ``run.json``, both as
        :func:`pydriver.lammps.quoting.run_relative_path` writes them: relative to the run directory
        for a file in the folder that holds it (``model.pt``, a sweep's ``../model/m.pt``), else absolute.

    Raises
    ------
    FileNotFoundError
        ``model file not found: PATH`` when nothing is there; a folder that is not a checkpoint is named as such.
    """
    source = Path(model).expanduser().resolve()
    if dtype not in DTYPE_NAMES:
        raise ValueError(f"model dtype must be one of {DTYPE_NAMES}, got {dtype!r}")
    if model_source_kind(Path(model).expanduser()) == "checkpoint":
        from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415  (imports torch)

        target = run_dir / MODEL_FILE_NAME
        log.info("exporting checkpoint %s to %s (%s)", source, target, dtype)
        export_checkpoint(source, target, dtype=dtype)
        return MODEL_FILE_NAME, {"path": MODEL_FILE_NAME, "source": run_relative_path(source, run_dir),
                                 "dtype": dtype, "sha256": sha256_file(target), "copied": True}
    if copy:
        target = run_dir / MODEL_FILE_NAME
        if target.resolve() != source:
            shutil.copy2(source, target)
        return MODEL_FILE_NAME, {"path": MODEL_FILE_NAME, "source": run_relative_path(source, run_dir),
                                 "sha256": sha256_file(target), "copied": True}
    reference = run_relative_path(source, run_dir)
    return reference, {"path": reference, "sha256": sha256_file(source), "copied": False}
