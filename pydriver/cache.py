"""The package's one cache folder (runtime estimates, compiled model files): optional by design.

:func:`cache_dir` is ``$PYDRIVER_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/pydriver``, else
``~/.cache/pydriver`` (the XDG base-directory default). A cache only saves time, so nothing a user
asked for may fail because of it: when the folder cannot be created or written (a read-only home on
a compute node, a full disk, a path through a file) :func:`cache_dir` logs one note, once per
folder, and returns ``None``; callers then work without a cache. Writers use
:func:`write_cache_file`, which also turns a failed write into that note.

This module is the bottom layer of the package (it imports nothing from ``pydriver``), so every
part may use it; that is why the package's one atomic file writer (:func:`atomic_write_text`) is
here too.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

#: environment variable that overrides the cache folder
CACHE_ENV = "PYDRIVER_CACHE_DIR"

_noted: set[str] = set()


def cache_path() -> Path:
    """Where the cache folder is (``$PYDRIVER_CACHE_DIR``, ``$XDG_CACHE_HOME/pydriver``, ``~/.cache/pydriver``);
    nothing is created or checked."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "pydriver"


def _note(folder: Path, exc: OSError) -> None:
    if str(folder) not in _noted:
        _noted.add(str(folder))
        log.warning("no cache: %s is not writable (%s); working without it (set %s to a writable folder to "
                    "keep results between runs)", folder, exc.strerror or exc, CACHE_ENV)


def cache_dir() -> Path | None:
    """The cache folder, created if needed; ``None`` (one logged note) if it cannot be written.

    Writability is checked by creating and removing a temporary file in it, which is what a
    read-only mount, a full disk or missing permissions refuse.
    """
    folder = cache_path()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        _note(folder, exc)
        return None
    return folder


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in its folder, fsync and rename: readers never
    see half a file, and a failed write leaves no temporary file.

    Raises
    ------
    OSError
        If the folder cannot be written (read-only, full disk).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_cache_file(name: str, text: str, folder: Path | None = None) -> Path | None:
    """Write ``text`` to ``folder/name`` atomically (:func:`atomic_write_text`).

    ``folder`` is the cache folder a caller already has from :func:`cache_dir` (probed here when
    not given). Returns the path, or ``None`` when there is no writable cache (the failure is
    logged once, never raised).
    """
    folder = cache_dir() if folder is None else folder
    if folder is None:
        return None
    path = folder / name
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        _note(folder, exc)
        return None
    return path
