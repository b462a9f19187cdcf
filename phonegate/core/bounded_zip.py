"""Reading an untrusted zip with bounded work: a zip bomb is refused in milliseconds and a few MB of memory.

APKs and WhatsApp chat exports are both zips from outside, and both must be decompressed to be read. So an
archive is checked in three steps, each before the next costs anything: the end-of-central-directory record
(entry count and directory size, from the last 64 KiB, before zipfile builds one object per entry), each entry's
declared sizes, and then while it is streamed (bytes out in total and per entry, and bytes out per byte in),
because declared sizes may lie. Each kind of file states its own limits (`ZipLimits`) where it is read.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MIB = 1024 * 1024
CHUNK = 64 * 1024
_END_MAGIC = b"PK\x05\x06"
_END_RECORD = struct.Struct("<4s4H2LH")  # signature, disk, cd disk, entries here, entries total, cd size, cd offset, comment length


@dataclass(frozen=True)
class ZipLimits:
    """What one kind of archive may be; `kind` names it in refusals ("an APK", "a chat export")."""

    kind: str
    max_entries: int
    max_directory_bytes: int
    max_entry_bytes: int  # any one entry, uncompressed
    max_total_bytes: int  # everything decompressed from one archive
    max_ratio: int = 100  # code, resources and text deflate 2-10x; a bomb deflates 1,000x and more
    ratio_checked_from: int = MIB  # a small entry may compress well (a repetitive file) without harm
    allow_zip64: bool = True  # ZIP64 records carry no counts to check before the directory is read


class ZipLimitExceeded(ValueError):
    """The archive is beyond what its kind can be; the message says which limit."""


ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError, struct.error)


def check_end_record(tail: bytes, limits: ZipLimits) -> None:
    """Refuse absurd archives from their last 64 KiB, before zipfile reads the central directory. No record at
    all is left to zipfile, which says so in its own words."""
    at = tail.rfind(_END_MAGIC)
    if at == -1 or len(tail) - at < _END_RECORD.size:
        return
    fields = _END_RECORD.unpack_from(tail, at)
    entries_total, directory_size = fields[4], fields[5]
    if not limits.allow_zip64 and (entries_total == 0xFFFF or directory_size == 0xFFFFFFFF):
        raise ZipLimitExceeded(f"it is a ZIP64 archive, far larger than {limits.kind}")
    if entries_total != 0xFFFF and entries_total > limits.max_entries:
        raise ZipLimitExceeded(f"it has {entries_total} entries, more than {limits.kind} ({limits.max_entries})")
    if directory_size != 0xFFFFFFFF and directory_size > limits.max_directory_bytes:
        raise ZipLimitExceeded(f"its central directory is {directory_size} bytes, far larger than {limits.kind}'s")


class BoundedArchive:
    """zipfile.ZipFile over bytes or a seekable stream, with every read bounded by `limits`. Offers what the
    readers use: namelist(), infolist(), read(name) and stream(name)."""

    def __init__(self, source: bytes | BinaryIO, limits: ZipLimits) -> None:
        stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        self._size = stream.seek(0, io.SEEK_END)
        stream.seek(max(0, self._size - (_END_RECORD.size + 0xFFFF)))
        check_end_record(stream.read(), limits)
        stream.seek(0)
        self.limits = limits
        self._zip = zipfile.ZipFile(stream)
        if len(self._zip.infolist()) > limits.max_entries:  # a ZIP64 directory can claim any count in its own record
            raise ZipLimitExceeded(f"it has {len(self._zip.infolist())} entries, more than {limits.kind} ({limits.max_entries})")
        self._total = 0

    def close(self) -> None:
        self._zip.close()

    def namelist(self) -> list[str]:
        return self._zip.namelist()

    def infolist(self) -> list[zipfile.ZipInfo]:
        return self._zip.infolist()

    def read(self, name: str | zipfile.ZipInfo, limit: int | None = None) -> bytes:
        return b"".join(self.stream(name, limit))

    def stream(self, name: str | zipfile.ZipInfo, limit: int | None = None) -> Iterator[bytes]:
        """The entry's bytes in chunks, stopping at the first chunk that breaks a limit (`limit` may be tighter
        than the kind's own for one entry, as an APK's manifest is)."""
        info = name if isinstance(name, zipfile.ZipInfo) else self._zip.getinfo(name)
        label = info.filename
        limits = self.limits
        limit = limits.max_entry_bytes if limit is None else min(limit, limits.max_entry_bytes)
        # The declared compressed size may lie too; more than the whole file it cannot be.
        ratio_limit = max(min(info.compress_size, self._size), 1) * limits.max_ratio
        if info.file_size > limits.ratio_checked_from and info.file_size > ratio_limit:
            raise ZipLimitExceeded(f"{label} is compressed more than {limits.max_ratio}:1 (a zip bomb)")
        if info.file_size > limit:
            raise ZipLimitExceeded(f"{label} is {_mib(info.file_size)} uncompressed, more than {limits.kind}'s ({_mib(limit)})")
        produced = 0
        with self._zip.open(info) as member:
            while chunk := member.read(CHUNK):
                produced += len(chunk)
                self._total += len(chunk)
                if produced > limits.ratio_checked_from and produced > ratio_limit:
                    raise ZipLimitExceeded(f"{label} is compressed more than {limits.max_ratio}:1 (a zip bomb)")
                if produced > limit:
                    raise ZipLimitExceeded(f"{label} is more than {_mib(limit)} uncompressed, more than {limits.kind}'s")
                if self._total > limits.max_total_bytes:
                    raise ZipLimitExceeded(f"it holds more than {_mib(limits.max_total_bytes)} uncompressed, more than {limits.kind}")
                yield chunk


def _mib(size: int) -> str:
    return f"{size / MIB:,.0f} MiB"
