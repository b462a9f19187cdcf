"""Reading a WhatsApp "Export chat" file: the .txt, or the .zip WhatsApp writes ("WhatsApp Chat with X.txt" on
Android, "_chat.txt" on iOS, beside the media files), decoded to text.

A .zip is untrusted and may be a bomb, so it is read through phonegate.core.bounded_zip with a chat export's
limits (EXPORT_LIMITS). Only the text entry is ever decompressed; media is not read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

from phonegate.core.bounded_zip import MIB, ZIP_ERRORS, BoundedArchive, ZipLimitExceeded, ZipLimits
from phonegate.core.errors import BadInput
from phonegate.core.text import printable

MAX_TEXT_BYTES = 64 * MIB  # WhatsApp exports at most 40,000 messages (about 5 MB): 64 MiB is far beyond
# An export with media holds at most about 10,000 media files; only the chat text is ever decompressed.
EXPORT_LIMITS = ZipLimits(kind="a chat export", max_entries=20_000, max_directory_bytes=8 * MIB,
                          max_entry_bytes=MAX_TEXT_BYTES, max_total_bytes=MAX_TEXT_BYTES, allow_zip64=False)
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


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
    try:
        archive = BoundedArchive(stream, EXPORT_LIMITS)
    except ZipLimitExceeded as exc:
        raise NotAnExport(f"{name} is refused as a chat export: {exc}.") from exc
    except ZIP_ERRORS as exc:
        raise NotAnExport(f"{name} is not a readable .zip ({exc}).") from exc
    try:
        entry = _chat_entry(archive.infolist(), name)
        if entry.flag_bits & 0x1:
            raise NotAnExport(f"{name} is password-protected.")
        return archive.read(entry)
    except ZipLimitExceeded as exc:
        raise NotAnExport(f"{name}: the chat text is refused: {exc}.") from exc
    except ZIP_ERRORS as exc:
        raise NotAnExport(f"{name}: the chat text cannot be read from the .zip ({exc}).") from exc
    finally:
        archive.close()


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
