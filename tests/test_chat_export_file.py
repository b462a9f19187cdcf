"""Reading exports: .txt in every encoding a phone or a PC leaves, and .zip as WhatsApp writes it, refusing
hostile archives early and with little memory."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from fixtures_chat import Line, write_export, zip_bomb, zip_export
from phonegate.core.chat.export_file import EXPORT_LIMITS, NotAnExport, decode_export, read_export

TEXT = write_export([Line(datetime(2024, 3, 12, 14, 5), "Zoë Ålander", "Hello ✓")], "android24")


def test_plain_utf8(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert read_export(path) == TEXT


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.encode())
    assert read_export(path) == TEXT


def test_utf16_with_bom() -> None:
    assert decode_export(TEXT.encode("utf-16")) == TEXT


def test_resaved_as_windows_1252() -> None:
    assert decode_export("12/03/2024, 14:05 - Zoë: café £5".encode("cp1252")) == "12/03/2024, 14:05 - Zoë: café £5"


def test_damaged_utf8_keeps_the_good_text() -> None:
    decoded = decode_export("12/03/2024, 14:05 - Zoë: ok ".encode() + b"\xff\xfe\xc3" + " Ålander".encode())
    assert decoded == "12/03/2024, 14:05 - Zoë: ok \ufffd\ufffd\ufffd Ålander"


def test_empty_file_is_not_an_export(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(NotAnExport, match="empty"):
        read_export(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotAnExport, match="does not exist"):
        read_export(tmp_path / "nope.txt")


def test_folder(tmp_path: Path) -> None:
    with pytest.raises(NotAnExport, match="folder"):
        read_export(tmp_path)


def test_android_zip_with_media(tmp_path: Path) -> None:
    assert read_export(zip_export(tmp_path / "chat.zip", TEXT, "android24", media=3)) == TEXT


def test_ios_zip_with_media(tmp_path: Path) -> None:
    assert read_export(zip_export(tmp_path / "chat.zip", TEXT, "ios", media=3)) == TEXT


def test_zip_without_chat_text(tmp_path: Path) -> None:
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("IMG-1.jpg", b"\xff\xd8")
    with pytest.raises(NotAnExport, match="no chat text"):
        read_export(path)


def test_zip_with_two_chats(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("WhatsApp Chat with A.txt", TEXT)
        archive.writestr("WhatsApp Chat with B.txt", TEXT)
    with pytest.raises(NotAnExport, match="2 chat texts"):
        read_export(path)


def test_password_protected_zip(tmp_path: Path) -> None:
    path = zip_export(tmp_path / "chat.zip", TEXT, media=0)
    data = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" bit in both headers
        at = data.find(signature)
        data[at + flag_at] |= 1
    path.write_bytes(bytes(data))
    with pytest.raises(NotAnExport, match="password"):
        read_export(path)


def test_truncated_zip(tmp_path: Path) -> None:
    path = zip_export(tmp_path / "chat.zip", TEXT, media=2)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(NotAnExport, match="not a readable .zip"):
        read_export(path)


def test_too_many_entries(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("WhatsApp Chat with A.txt", TEXT)
        for index in range(EXPORT_LIMITS.max_entries):
            archive.writestr(f"{index}", b"")
    with pytest.raises(NotAnExport, match="entries"):
        read_export(path)


def _refused_with_peak_memory(path: Path, match: str) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(NotAnExport, match=match):
            read_export(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_zip_bomb_refused_by_its_declared_size(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.zip", size_mib=1024)  # 1 GiB of zeros in 1 MB: refused before a byte is inflated
    peak = _refused_with_peak_memory(bomb, "zip bomb")
    assert peak < 8 * 1024 * 1024


def test_chat_text_larger_than_an_export_can_be_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # stored: no ratio to give it away
        archive.writestr("WhatsApp Chat with A.txt", b"x" * (65 * 1024 * 1024))
    peak = _refused_with_peak_memory(path, "more than a chat export's")
    assert peak < 8 * 1024 * 1024


def test_zip_bomb_refused_by_its_ratio(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.zip", size_mib=40)  # under the size limit, but 1,000:1
    peak = _refused_with_peak_memory(bomb, "compressed more than 100:1")
    assert peak < 8 * 1024 * 1024


def test_zip_bomb_that_understates_its_size_is_refused_without_inflating_it(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.zip", size_mib=1024, declared_size=900_000)  # claims 0.9 MB
    peak = _refused_with_peak_memory(bomb, "cannot be read")  # zipfile stops at the stated size: the CRC fails
    assert peak < 8 * 1024 * 1024


def test_stream_reading_leaves_an_upload_usable() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("WhatsApp Chat with A.txt", TEXT)
    from phonegate.core.chat.export_file import read_export_stream

    assert read_export_stream(io.BytesIO(buffer.getvalue()), "upload.zip") == TEXT


def test_error_sentence_is_printable(tmp_path: Path) -> None:
    with pytest.raises(NotAnExport) as raised:
        read_export(tmp_path / "evil\x1b[2J.txt")
    assert "\x1b" not in str(raised.value)
