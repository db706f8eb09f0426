"""Damaged copies of an exported model file: bytes flipped inside one archive entry (tests only)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path


def entry_names(path: Path) -> dict[str, zipfile.ZipInfo]:
    """Entries of a model file by name below the archive's root folder."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename.split("/", 1)[1]: info for info in archive.infolist()}


def largest_tensors(path: Path, count: int = 2) -> list[str]:
    """Names of the ``count`` largest stored tensors (``data/<n>``) of a model file, largest first."""
    infos = [(info.file_size, name) for name, info in entry_names(path).items() if name.startswith("data/")]
    return [name for _, name in sorted(infos, key=lambda item: (-item[0], item[1]))[:count]]


def damage_entry(src: Path, dst: Path, entry: str, n_bytes: int = 400) -> Path:
    """Copy ``src`` to ``dst`` with ``n_bytes`` bytes inverted in the middle of the stored ``entry``.

    The zip directory and CRC fields stay as they were (a disk or transfer fault, not a rewrite).
    """
    info = entry_names(src)[entry]
    data = bytearray(src.read_bytes())
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    n = min(n_bytes, info.compress_size)
    first = start + (info.compress_size - n) // 2
    data[first:first + n] = bytes(b ^ 0xFF for b in data[first:first + n])
    dst.write_bytes(bytes(data))
    return dst
