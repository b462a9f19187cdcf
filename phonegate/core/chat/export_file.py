"""Reading a WhatsApp "Export chat" file: the .txt, or the .zip WhatsApp writes ("WhatsApp Chat with X.txt" on
Android, "_chat.txt" on iOS, beside the media files), decoded to text.

A .zip is untrusted and may be a bomb, so it is checked in three steps, each before the next costs anything:
the end-of-central-directory record (entry count and directory size, read from the last 64 KiB), the text
entry's declared sizes, and then while it is streamed (bytes out, and bytes out per byte in). Only the text
entry is ever decompressed; media is not read.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from phonegate.core.text import printable
from phonegate.core.errors import BadInput

MAX_TEXT_BYTES = 64 * 1024 * 1024  # WhatsApp exports at most 40,000 messages (about 5 MB): 64 MiB is far beyond
MAX_ZIP_ENTRIES = 20_000  # an export with media holds at most about 10,000 media files
MAX_CENTRAL_DIRECTORY_BYTES = 8 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100  # chat text deflates 3-10x; a bomb deflates 1,000x and more
_RATIO_CHECKED_FROM = 1024 * 1024  # small entries may compress well (a short repetitive chat) without harm
_CHUNK = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_END_RECORD = struct.Struct("<4s4H2LH")  # signature, disk, cd disk, entries here, entries total, cd size, cd offset, comment length


class NotAnExport(BadInput):
    """The file is missing, unreadable, or not a WhatsApp chat export (exit 2).

    The sentence names the file and may quote the archive's own words, both untrusted: it is made printable here.
    """

    def __init__(self, sentence: str) -> None:
        super().__init__(printable(sentence))


def read_export(path: Path) -> str:
    """The chat text of the export at `path` (a .txt or a .zip), decoded."""
    try:
        with path.open("rb") as stream:
            return read_export_stream(stream, path.name)
    except FileNotFoundError as exc:
        raise NotAnExport(f"{path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise NotAnExport(f"{path} is a folder, not a WhatsApp chat export.") from exc
    except OSError as exc:
        raise NotAnExport(f"{path} cannot be read ({exc.strerror or exc}).") from exc


def read_export_stream(stream: BinaryIO, name: str) -> str:
    """The chat text of an export read from a seekable binary stream (a file, or an upload); `name` is for messages."""
    head = stream.read(4)
    stream.seek(0)
    if head in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        raw = _text_entry(stream, name)
    else:
        raw = stream.read(MAX_TEXT_BYTES + 1)
        if len(raw) > MAX_TEXT_BYTES:
            raise NotAnExport(f"{name} is larger than {MAX_TEXT_BYTES // (1024 * 1024)} MiB: not a WhatsApp chat export.")
    if not raw.strip():
        raise NotAnExport(f"{name} is empty: not a WhatsApp chat export.")
    return decode_export(raw)


def decode_export(raw: bytes) -> str:
    """Bytes to text: UTF-8 (WhatsApp writes it, with or without a BOM); UTF-16 with a BOM; else the text was
    re-saved by another program, so Windows-1252 when nothing in it is valid multi-byte UTF-8. Never fails."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    as_utf8 = raw.decode("utf-8", errors="replace")
    if any(ord(char) > 0x7F and char != "\ufffd" for char in as_utf8):
        return as_utf8  # mostly UTF-8 with a few damaged bytes: keep it, damage shown as U+FFFD
    return raw.decode("cp1252", errors="replace")


def _text_entry(stream: BinaryIO, name: str) -> bytes:
    _check_end_record(stream, name)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise NotAnExport(f"{name} is not a readable .zip ({exc}).") from exc
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise NotAnExport(f"{name} has {len(entries)} entries, more than a chat export ({MAX_ZIP_ENTRIES}).")
        entry = _chat_entry(entries, name)
        if entry.flag_bits & 0x1:
            raise NotAnExport(f"{name} is password-protected.")
        if entry.file_size > MAX_TEXT_BYTES:
            raise NotAnExport(f"{name}: the chat text is larger than {MAX_TEXT_BYTES // (1024 * 1024)} MiB.")
        if entry.file_size > _RATIO_CHECKED_FROM and entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1):
            raise NotAnExport(f"{name}: the chat text is compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?).")
        return _stream_entry(archive, entry, name)


def _check_end_record(stream: BinaryIO, name: str) -> None:
    """Refuse absurd archives from their last 64 KiB, before zipfile reads the whole central directory."""
    size = stream.seek(0, 2)
    tail_start = max(0, size - (_END_RECORD.size + 0xFFFF))
    stream.seek(tail_start)
    tail = stream.read()
    stream.seek(0)
    at = tail.rfind(_EMPTY_ZIP_MAGIC)
    if at == -1 or len(tail) - at < _END_RECORD.size:
        raise NotAnExport(f"{name} is not a readable .zip (no end-of-archive record).")
    fields = _END_RECORD.unpack_from(tail, at)
    entries_total, directory_size = fields[4], fields[5]
    if entries_total == 0xFFFF or directory_size == 0xFFFFFFFF:
        raise NotAnExport(f"{name} is a ZIP64 archive, far larger than a chat export.")
    if entries_total > MAX_ZIP_ENTRIES:
        raise NotAnExport(f"{name} has {entries_total} entries, more than a chat export ({MAX_ZIP_ENTRIES}).")
    if directory_size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise NotAnExport(f"{name} has a {directory_size}-byte directory, far larger than a chat export's.")


def _chat_entry(entries: list[zipfile.ZipInfo], name: str) -> zipfile.ZipInfo:
    texts = [entry for entry in entries if not entry.is_dir() and entry.filename.lower().endswith(".txt")]
    named = [entry for entry in texts if _is_chat_name(entry.filename)]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise NotAnExport(f"{name} holds {len(named)} chat texts; export one chat at a time.")
    if len(texts) == 1:
        return texts[0]
    raise NotAnExport(f"{name} holds no chat text (no \"WhatsApp Chat with ....txt\" or \"_chat.txt\").")


def _is_chat_name(filename: str) -> bool:
    base = filename.rsplit("/", 1)[-1]
    return base == "_chat.txt" or base.startswith("WhatsApp Chat")


def _stream_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, name: str) -> bytes:
    """Decompress the entry in chunks, stopping as soon as it outgrows either limit: the declared sizes may lie."""
    chunks: list[bytes] = []
    total = 0
    limit = max(entry.compress_size, 1) * MAX_COMPRESSION_RATIO
    try:
        with archive.open(entry) as member:
            while chunk := member.read(_CHUNK):
                total += len(chunk)
                if total > MAX_TEXT_BYTES:
                    raise NotAnExport(f"{name}: the chat text is larger than {MAX_TEXT_BYTES // (1024 * 1024)} MiB.")
                if total > _RATIO_CHECKED_FROM and total > limit:
                    raise NotAnExport(f"{name}: the chat text is compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb?).")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError, OSError) as exc:
        raise NotAnExport(f"{name}: the chat text cannot be read from the .zip ({exc}).") from exc
    return b"".join(chunks)
