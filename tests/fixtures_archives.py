"""Archives built byte by byte for the extraction tests: RAR 4 (stored), plus hostile zips/tars.

RAR 4 layout (RAR 2.9-4.x, "RAR3" in rarfile): the 7-byte marker ``Rar!\\x1a\\x07\\x00``, a
main header (type 0x73), one file header (type 0x74) per member followed by its bytes, and
an end-of-archive header (type 0x7b). Every header starts with the low 16 bits of the CRC-32
of the header bytes after the CRC field, then type (1 byte), flags (2), header size (2).
A file header adds packed size (4), unpacked size (4), host OS (1), CRC-32 of the data (4),
DOS time (4), version needed (1), method (1; 0x30 = stored), name size (2), attributes (4)
and the name. Stored members can be read by ``rarfile`` without any external tool.
"""
from __future__ import annotations

import dataclasses
import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

RAR_MARKER = b"Rar!\x1a\x07\x00"
_LONG_BLOCK = 0x8000
_DIRECTORY = 0x00E0
_UNIX = 3
_STORED = 0x30
_DOS_TIME = (2020 - 1980) << 25 | 1 << 21 | 1 << 16  # 2020-01-01 00:00:00


@dataclasses.dataclass(frozen=True)
class RarMember:
    """One member: a file (``data``), a folder (``is_dir``) or a symlink (``link`` target)."""

    name: str
    data: bytes = b""
    is_dir: bool = False
    link: str | None = None
    method: int = _STORED  # anything else marks the data as compressed (needs an unrar tool)


def _block(kind: int, flags: int, body: bytes) -> bytes:
    header = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header


def _file_header(member: RarMember) -> bytes:
    if member.is_dir:
        data, mode, flags = b"", 0o040755, _LONG_BLOCK | _DIRECTORY
    elif member.link is not None:
        data, mode, flags = member.link.encode(), 0o120777, _LONG_BLOCK
    else:
        data, mode, flags = member.data, 0o100644, _LONG_BLOCK
    name = member.name.encode()
    body = struct.pack("<IIBIIBBHI", len(data), len(data), _UNIX, zlib.crc32(data), _DOS_TIME, 29,
                       member.method, len(name), mode) + name
    return _block(0x74, flags, body) + data


def rar_bytes(members: list[RarMember]) -> bytes:
    """A valid RAR 4 archive of ``members`` (no compression, no solid mode, no encryption)."""
    main = _block(0x73, 0, b"\0" * 6)
    return RAR_MARKER + main + b"".join(_file_header(m) for m in members) + _block(0x7B, 0, b"")


def write_rar(path: Path, members: list[RarMember]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rar_bytes(members))
    return path


def write_zip(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    """A zip whose member names are written verbatim (``../x`` and ``/x`` included)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return path


def write_tar(path: Path, files: dict[str, bytes], symlinks: dict[str, str] | None = None,
              hardlinks: dict[str, str] | None = None, files_after: dict[str, bytes] | None = None) -> Path:
    """A tar.gz with verbatim member names: ``files``, then the links, then ``files_after``."""

    def add_files(tf: tarfile.TarFile, entries: dict[str, bytes]) -> None:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w:gz") as tf:
        add_files(tf, files)
        for kind, links in ((tarfile.SYMTYPE, symlinks or {}), (tarfile.LNKTYPE, hardlinks or {})):
            for name, target in links.items():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = kind, target
                tf.addfile(info)
        add_files(tf, files_after or {})
    return path
