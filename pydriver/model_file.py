"""The exported model file's contract (``python -m pydriver export`` -> ``pair_style m3gnet``), read without torch.

One exported model is one TorchScript zip archive. Its entries sit under one root folder (named after the
file when it was written), as ``torch.jit.save`` lays them out; the exporter adds ``extra/metadata.json``
and, unless exported with ``--no-compile``, the compiled packages ``extra/compiled_<device>*.pt2``. The
metadata records a sha256 of the other entries (:data:`CHECKSUM_KEY`), checked by the plugin and the ASE
calculator when they load the file. The format and every metadata key: ``docs/model_file.md``. The
plugin's copies of the constants (``plugin/m3gnet_model.h``) are tied to these by ``tests/m3gnet/test_model_file.py``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORMAT_NAME = "pydriver-m3gnet"
#: 3: sha256 of every archive entry in the metadata; 2: three-body geometry from the method ``threebody``
FORMAT_VERSION = 3
METADATA_FILE = "metadata.json"
#: folder of the extra files (metadata, compiled packages) inside the archive's root folder
EXTRA_FOLDER = "extra/"
#: AOTInductor package of the energy + gradient for one device type ("cpu", "cuda"), an extra file
COMPILED_FILE = "compiled_{device}.pt2"
#: AOTInductor packages of one interaction block (forward; backward) for MPI ``comm halo``, extra files
BLOCK_FILE = "compiled_{device}_block.pt2"
BLOCK_GRAD_FILE = "compiled_{device}_block_grad.pt2"
#: x86-64 instruction sets as torch names them (``torch.backends.cpu.get_cpu_capability``), each a superset
#: of the ones before it; on other CPUs a package runs only where torch reports the recorded one (or DEFAULT)
CPU_CAPABILITY_ORDER = ("DEFAULT", "AVX2", "AVX512")
#: metadata key: {entry name below the root folder: sha256 hex digest of its uncompressed bytes}
CHECKSUM_KEY = "entry_sha256"
#: entries without a checksum: the metadata that holds them, and torch's id of the archive (derived from
#: the other entries' CRC-32s, so it changes with the metadata)
UNCHECKED_ENTRIES = (EXTRA_FOLDER + METADATA_FILE, ".data/serialization_id")
#: files that make a folder a matgl checkpoint (with ``model.pt``)
CHECKPOINT_MARKERS = ("model.json", "state.pt")
EXPORT_HINT = "python -m pydriver export <checkpoint folder> <file>"


def compiled_file(device: str) -> str:
    """Name of the extra file holding the compiled package for a device type ("cpu" or "cuda")."""
    return COMPILED_FILE.format(device=device)


def block_files(device: str) -> tuple[str, str]:
    """Names of the extra files holding the per-block packages (forward, backward) for a device type."""
    return BLOCK_FILE.format(device=device), BLOCK_GRAD_FILE.format(device=device)


def capability_fits(recorded: str, here: str) -> bool:
    """Whether a package compiled for the CPU instruction set ``recorded`` runs on a CPU where torch reports
    ``here`` (names of ``torch.backends.cpu.get_cpu_capability``; see :data:`CPU_CAPABILITY_ORDER`)."""
    order = CPU_CAPABILITY_ORDER
    if recorded in order and here in order:
        return order.index(recorded) <= order.index(here)
    return recorded in (here, "DEFAULT")


def compiled_mismatch(entry: dict[str, Any], device: str, torch_version: str, cpu_capability: str) -> str | None:
    """Why the compiled package ``entry`` (metadata ``compiled[device]``) cannot run here, in words, or None.

    A package runs only under the torch version that built it and on a CPU with the instruction set it
    was compiled for (``cpu_capability``; files without the key predate it and are not checked).
    """
    if entry.get("torch") != torch_version:
        return f"its {device} package was built by torch {entry.get('torch')}, this is torch {torch_version}"
    recorded = entry.get("cpu_capability")
    if recorded is not None and not capability_fits(recorded, cpu_capability):
        return f"its {device} package was compiled for {recorded} CPUs, this CPU has {cpu_capability}"
    return None


def is_checkpoint_folder(path: str | Path) -> bool:
    """True for a matgl checkpoint folder (``model.json`` and ``state.pt`` beside ``model.pt``)."""
    folder = Path(path)
    return folder.is_dir() and all((folder / name).is_file() for name in CHECKPOINT_MARKERS)


def model_source_kind(path: str | Path) -> str:
    """What a model argument names: ``"checkpoint"`` (a matgl checkpoint folder) or ``"file"`` (an
    exported model file, not opened here). The one place the commands that accept either classify it.

    Raises
    ------
    FileNotFoundError
        ``model file not found: PATH`` when nothing is there; a folder that is not a checkpoint is named as such.
    """
    if is_checkpoint_folder(path):
        return "checkpoint"
    if not Path(path).exists():
        raise FileNotFoundError(f"model file not found: {path} (give an exported .pt file or a matgl checkpoint folder)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"model {path} is neither an exported model file nor a matgl checkpoint folder "
                                f"({', '.join(CHECKPOINT_MARKERS)}, model.pt)")
    return "file"


def _open_archive(path: Path) -> zipfile.ZipFile:
    """The zip archive of a model file; one-line errors for folders, missing and foreign files."""
    if is_checkpoint_folder(path):
        raise ValueError(f"{path} is a matgl checkpoint folder; export it first with "
                         f"`python -m pydriver export {path} model.pt`")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a model file written by `{EXPORT_HINT}`")
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} not found")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path} is not a TorchScript zip archive ({exc}): not written by `{EXPORT_HINT}`") from exc


def _root(archive: zipfile.ZipFile) -> str:
    """The archive's root folder with its slash ("model/"), as torch's reader takes it from the first entry."""
    names = archive.namelist()
    return names[0].split("/", 1)[0] + "/" if names and "/" in names[0] else ""


def read_metadata(path: str | Path, verify: bool = False) -> dict[str, Any]:
    """The metadata dict of an exported model file (``extra/metadata.json`` of its archive).

    Parameters
    ----------
    path : file written by ``python -m pydriver export``.
    verify : also check every entry against the sha256 recorded at export (reads
        the whole file, a few MB to a few tens of MB).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For a matgl checkpoint folder (export it first), a file not written by the exporter, another
        ``format_version`` (re-export it), or, with ``verify``, a damaged entry.
    """
    path = Path(path)
    with _open_archive(path) as archive:
        root = _root(archive)
        try:
            text = archive.read(root + EXTRA_FOLDER + METADATA_FILE)
        except KeyError:
            raise ValueError(f"{path} has no {METADATA_FILE}: not written by `python -m pydriver export`") from None
        except zipfile.BadZipFile as exc:
            raise ValueError(f"model file {path}: archive entry {EXTRA_FOLDER}{METADATA_FILE} is damaged ({exc}); "
                             f"re-export it with `{EXPORT_HINT}`") from exc
        try:
            meta = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{path}: {METADATA_FILE} is not valid JSON ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise ValueError(f"{path} is not written by `python -m pydriver export` (format {found!r})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: model file format_version {meta.get('format_version')} but this pydriver reads "
                             f"version {FORMAT_VERSION}: re-export it with `{EXPORT_HINT}`")
        if verify:
            _verify(path, archive, root, meta)
    return meta


def source_checkpoint_sha256(path: str | Path) -> str:
    """sha256 of the matgl checkpoint an exported model file was made from (metadata ``source_sha256``).

    This, with the file's ``dtype``, is what defines the model's numbers; the file's own bytes are not:
    the compiled packages inside it differ from one export to the next (torch's code generator output
    depends on the machine and build), so a sweep that compared file hashes would call an unchanged model
    changed after every re-export. Raises as :func:`read_metadata`, and ``ValueError`` where the
    metadata lacks the key.
    """
    meta = read_metadata(path)
    source = meta.get("source_sha256")
    if not isinstance(source, str) or not source:
        raise ValueError(f"{path}: metadata has no source_sha256; re-export it with `{EXPORT_HINT}`")
    return source


def entry_checksums(path: str | Path) -> dict[str, str]:
    """sha256 hex digest of every entry of a model file (but :data:`UNCHECKED_ENTRIES`), by name below the root.

    Raises ``ValueError`` naming the entry when its bytes cannot be read (zip CRC or compression damage).
    """
    path = Path(path)
    with _open_archive(path) as archive:
        root = _root(archive)
        return dict(_digests(path, archive, root))


def _digests(path: Path, archive: zipfile.ZipFile, root: str) -> Iterator[tuple[str, str]]:
    """(entry name below ``root``, sha256 hex) for every entry but :data:`UNCHECKED_ENTRIES`, in archive order."""
    for info in archive.infolist():
        name = info.filename[len(root):] if info.filename.startswith(root) else info.filename
        if name in UNCHECKED_ENTRIES or info.is_dir():
            continue
        try:
            data = archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # zipfile checks each entry's CRC-32
            raise ValueError(_damaged(path, name, str(exc))) from exc
        yield name, hashlib.sha256(data).hexdigest()


def _damaged(path: Path, entry: str, why: str) -> str:
    """The one-line refusal of a damaged entry (the plugin's has the same words)."""
    return (f"model file {path}: archive entry {entry} is damaged ({why}); re-export it with `{EXPORT_HINT}` "
            "or copy it again")


def _verify(path: Path, archive: zipfile.ZipFile, root: str, meta: dict[str, Any]) -> None:
    """Every entry against ``meta[CHECKSUM_KEY]``: none damaged, unrecorded or missing."""
    recorded = meta.get(CHECKSUM_KEY)
    if not isinstance(recorded, dict) or not recorded:
        raise ValueError(f"{path}: metadata has no {CHECKSUM_KEY}: re-export it with `{EXPORT_HINT}`")
    seen = set()
    for name, digest in _digests(path, archive, root):
        if name not in recorded:
            raise ValueError(f"model file {path}: archive entry {name} was not written by the exporter (no "
                             f"recorded sha256); re-export it with `{EXPORT_HINT}`")
        if recorded[name] != digest:
            raise ValueError(_damaged(path, name, "its sha256 differs from the one recorded at export"))
        seen.add(name)
    missing = sorted(set(recorded) - seen)
    if missing:
        raise ValueError(_damaged(path, missing[0], "missing from the archive"))
