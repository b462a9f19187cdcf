"""Reading an APK's entries with bounded work: a zip bomb is refused in milliseconds and a few MB of memory.

An APK is untrusted until verified, and verifying means decompressing (the manifest, and every entry for the v1
digests). So the archive is checked in three steps, each before the next costs anything: the end-of-central-
directory record (entry count and directory size, from the last 64 KiB, before zipfile builds one object per
entry), each entry's declared sizes, and then while it is streamed (bytes out in total and per entry, and bytes
out per byte in), because declared sizes may lie. A real WhatsApp APK has about 3,000 entries, a manifest under
1 MiB and nothing compressed much beyond 10:1.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator

MAX_ENTRIES = 50_000
MAX_CENTRAL_DIRECTORY_BYTES = 16 * 1024 * 1024
MAX_MANIFEST_BYTES = 8 * 1024 * 1024  # AndroidManifest.xml, uncompressed
MAX_ENTRY_BYTES = 1024 * 1024 * 1024  # any other entry, uncompressed
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024  # everything decompressed while one APK is verified
MAX_COMPRESSION_RATIO = 100  # code and resources deflate 2-10x; a bomb deflates 1,000x and more
RATIO_CHECKED_FROM = 1024 * 1024  # a small entry may compress well (a repetitive XML file) without harm
CHUNK = 64 * 1024
_END_MAGIC = b"PK\x05\x06"
_END_RECORD = struct.Struct("<4s4H2LH")  # signature, disk, cd disk, entries here, entries total, cd size, cd offset, comment length


class ZipLimitExceeded(ValueError):
    """The archive is beyond what an APK can be; the message says which limit."""


def check_end_record(data: bytes) -> None:
    """Refuse absurd archives from their last 64 KiB, before zipfile reads the central directory."""
    tail = data[-(_END_RECORD.size + 0xFFFF):]
    at = tail.rfind(_END_MAGIC)
    if at == -1 or len(tail) - at < _END_RECORD.size:
        return  # not a zip at all: zipfile says so in its own words
    fields = _END_RECORD.unpack_from(tail, at)
    entries_total, directory_size = fields[4], fields[5]
    if entries_total != 0xFFFF and entries_total > MAX_ENTRIES:
        raise ZipLimitExceeded(f"it has {entries_total} entries, more than an APK ({MAX_ENTRIES})")
    if directory_size != 0xFFFFFFFF and directory_size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise ZipLimitExceeded(f"its central directory is {directory_size} bytes, far larger than an APK's")


class BoundedArchive:
    """zipfile.ZipFile over an APK's bytes, with every read bounded. Offers what the APK readers use:
    namelist(), infolist() and read(name)."""

    def __init__(self, data: bytes) -> None:
        check_end_record(data)
        self._size = len(data)
        self._zip = zipfile.ZipFile(io.BytesIO(data))
        if len(self._zip.infolist()) > MAX_ENTRIES:  # a ZIP64 directory can claim any count in its own record
            raise ZipLimitExceeded(f"it has {len(self._zip.infolist())} entries, more than an APK ({MAX_ENTRIES})")
        self._total = 0

    def namelist(self) -> list[str]:
        return self._zip.namelist()

    def infolist(self) -> list[zipfile.ZipInfo]:
        return self._zip.infolist()

    def read(self, name: str, limit: int = MAX_ENTRY_BYTES) -> bytes:
        return b"".join(self.stream(name, limit))

    def stream(self, name: str, limit: int = MAX_ENTRY_BYTES) -> Iterator[bytes]:
        """The entry's bytes in chunks, stopping at the first chunk that breaks a limit."""
        info = self._zip.getinfo(name)
        # The declared compressed size may lie too; more than the whole file it cannot be.
        ratio_limit = max(min(info.compress_size, self._size), 1) * MAX_COMPRESSION_RATIO
        if info.file_size > RATIO_CHECKED_FROM and info.file_size > ratio_limit:
            raise ZipLimitExceeded(f"{name} is compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb)")
        if info.file_size > limit:
            raise ZipLimitExceeded(f"{name} is {_mib(info.file_size)} uncompressed, more than an APK's ({_mib(limit)})")
        produced = 0
        with self._zip.open(info) as member:
            while chunk := member.read(CHUNK):
                produced += len(chunk)
                self._total += len(chunk)
                if produced > RATIO_CHECKED_FROM and produced > ratio_limit:
                    raise ZipLimitExceeded(f"{name} is compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb)")
                if produced > limit:
                    raise ZipLimitExceeded(f"{name} is more than {_mib(limit)} uncompressed, more than an APK's")
                if self._total > MAX_TOTAL_BYTES:
                    raise ZipLimitExceeded(f"it holds more than {_mib(MAX_TOTAL_BYTES)} uncompressed, more than an APK")
                yield chunk


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MiB"


ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError, struct.error)
