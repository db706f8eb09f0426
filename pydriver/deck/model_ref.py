"""The model a run uses: an exported TorchScript file, or a matgl checkpoint folder exported here."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_FILE_NAME = "model.pt"
DTYPES = ("float32", "float64")


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_checkpoint_dir(path: Path) -> bool:
    """True for a matgl checkpoint folder (``model.json`` + ``model.pt`` + ``state.pt``)."""
    return path.is_dir() and (path / "model.json").is_file() and (path / "state.pt").is_file()


def resolve_model(model: str | Path, run_dir: Path, copy: bool = False, dtype: str = "float64") -> tuple[str, dict]:
    """Decide how the deck references the model, exporting or copying it if needed.

    Parameters
    ----------
    model : an exported model file (``python -m pydriver export``) or a matgl checkpoint folder.
    run_dir : the run directory (exports and copies go to ``run_dir/model.pt``).
    copy : copy an exported file into the run directory instead of referencing it.
    dtype : precision of an on-the-fly export, one of :data:`DTYPES`.

    Returns
    -------
    (str, dict)
        The path written in ``pair_coeff`` (absolute, or ``model.pt`` relative to the run
        directory) and the ``model`` entry of ``run.json``.

    Raises
    ------
    FileNotFoundError
        If ``model`` is neither a file nor a checkpoint folder.
    """
    source = Path(model).expanduser().resolve()
    if dtype not in DTYPES:
        raise ValueError(f"model dtype must be one of {DTYPES}, got {dtype!r}")
    if is_checkpoint_dir(source):
        from pydriver.m3gnet.export import export_checkpoint  # noqa: PLC0415  (imports torch)

        target = run_dir / MODEL_FILE_NAME
        log.info("exporting checkpoint %s to %s (%s)", source, target, dtype)
        export_checkpoint(source, target, dtype=dtype)
        return MODEL_FILE_NAME, {"path": str(target.resolve()), "source": str(source), "dtype": dtype,
                                 "sha256": sha256_file(target), "copied": True}
    if not source.is_file():
        raise FileNotFoundError(f"model {model} is neither an exported model file nor a matgl checkpoint "
                                "folder (model.json, model.pt, state.pt)")
    if copy:
        target = run_dir / MODEL_FILE_NAME
        if target.resolve() != source:
            shutil.copy2(source, target)
        return MODEL_FILE_NAME, {"path": str(target.resolve()), "source": str(source),
                                 "sha256": sha256_file(target), "copied": True}
    return str(source), {"path": str(source), "sha256": sha256_file(source), "copied": False}
