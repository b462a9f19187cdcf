"""`phonegate chat scan` and `phonegate chat transcript` as people run them: the installed console script."""

from __future__ import annotations

import json
import stat
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from fixtures_chat import Line, write_export, zip_bomb, zip_export

PHONEGATE = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "phonegate"
WHEN = datetime(2024, 3, 12, 14, 5)
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\x7f")  # ESC, BEL, CSI, right-to-left override, DEL


def phonegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PHONEGATE), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def chat_with_data(tmp_path: Path) -> Path:
    path = tmp_path / "WhatsApp Chat with Family support.txt"
    path.write_text(write_export([
        Line(WHEN, "Sam Jones", "Hi, her NHS number is 943 476 5919"),
        Line(WHEN.replace(minute=6), "Alex Smith", "and the postcode is EH12 9DN\nthanks"),
        Line(WHEN.replace(minute=7), "Alex Smith", "see you at 14:05, it was £12.50"),
    ], "android24"))
    return path


def test_scan_finds_and_exits_5(chat_with_data: Path) -> None:
    result = phonegate("chat", "scan", str(chat_with_data))
    assert result.returncode == 5
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["line", "kind", "time", "sender", "excerpt"]
    assert rows[1].split()[:3] == ["1", "nhs_number", "2024-03-12T14:05:00"]
    assert rows[2].split()[:3] == ["2", "postcode", "2024-03-12T14:06:00"]
    assert "943 476 5919" not in result.stdout
    assert result.stderr.strip().endswith("2 findings in 3 messages (nhs_number 1, postcode 1).")
    assert result.stderr.count("\n") == 1


def test_scan_json_shape(chat_with_data: Path) -> None:
    result = phonegate("chat", "scan", str(chat_with_data), "--json")
    assert result.returncode == 5
    report = json.loads(result.stdout)
    assert set(report) == {"findings", "messages", "counts"}
    assert report["messages"] == 3
    assert [set(finding) for finding in report["findings"]] == [{"kind", "line", "sender", "time", "excerpt"}] * 2
    assert report["findings"][1] == {"kind": "postcode", "line": 2, "sender": "Alex Smith", "time": "2024-03-12T14:06:00",
                                     "excerpt": "and the postcode is E\u2022\u2022\u2022 \u2022\u2022N"}
    assert report["counts"]["postcode"] == 1
    assert report["counts"]["email"] == 0


def test_clean_chat_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text(write_export([Line(WHEN, "Sam", "room B12 at 14:05, version 1.2.3")], "ios"))
    result = phonegate("chat", "scan", str(path))
    assert result.returncode == 0
    assert result.stdout == "No personal data found in 1 message.\n"
    json_result = phonegate("chat", "scan", str(path), "--json")
    assert json_result.returncode == 0
    assert json.loads(json_result.stdout)["findings"] == []


def test_zip_export_with_media(tmp_path: Path) -> None:
    path = zip_export(tmp_path / "WhatsApp Chat with Sam.zip",
                      write_export([Line(WHEN, "Sam", "email me at sam@example.org")], "android12"), "android12", media=3)
    result = phonegate("chat", "scan", str(path), "--json")
    assert result.returncode == 5
    assert json.loads(result.stdout)["counts"]["email"] == 1


@pytest.mark.parametrize(("make", "words"), [
    (lambda folder: folder / "missing.txt", "does not exist"),
    (lambda folder: folder, "is a folder"),
    (lambda folder: _write(folder / "empty.txt", b""), "is empty"),
    (lambda folder: _write(folder / "notes.txt", b"shopping list\nmilk\n"), "not a WhatsApp chat export"),
    (lambda folder: _write(folder / "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "not a WhatsApp chat export"),
    (lambda folder: zip_bomb(folder / "bomb.zip", size_mib=64), "compressed more than 100:1"),
])
def test_not_an_export_exits_2_with_one_sentence(tmp_path: Path, make, words: str) -> None:
    result = phonegate("chat", "scan", str(make(tmp_path)))
    assert result.returncode == 2
    assert words in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("as_json", [False, True])
def test_escape_sequences_in_the_file_never_reach_the_terminal_raw(tmp_path: Path, as_json: bool) -> None:
    path = tmp_path / "evil\x1b]0;owned\x07.txt"
    path.write_text(write_export([
        Line(WHEN, "Sam\x1b[2J\u202e", "\x1b[31mNHS 943 476 5919\x9b1m \x7f\u202eevil"),
    ], "android24"))
    result = phonegate("chat", "scan", str(path), *(["--json"] if as_json else []))
    assert result.returncode == 5
    for char in UNSAFE:
        assert char not in result.stdout
        assert char not in result.stderr
    shown = json.loads(result.stdout)["findings"][0] if as_json else None
    if shown is not None:
        assert "\x1b[31mNHS" in shown["excerpt"]  # the JSON still says what the file held, escaped as JSON
    else:
        assert "\\x1b[31mNHS" in result.stdout


def test_transcript_text_and_pdf_are_private_files(chat_with_data: Path, tmp_path: Path) -> None:
    text_out, pdf_out = tmp_path / "out.txt", tmp_path / "out.pdf"
    result = phonegate("chat", "transcript", str(chat_with_data), "--format", "text", "--output", str(text_out))
    assert result.returncode == 0, result.stderr
    assert "2024-03-12 14:06  Alex Smith: and the postcode is EH12 9DN" in text_out.read_text()
    assert stat.S_IMODE(text_out.stat().st_mode) == 0o600
    result = phonegate("chat", "transcript", str(chat_with_data), "--format", "pdf", "--output", str(pdf_out))
    assert result.returncode == 0, result.stderr
    assert pdf_out.read_bytes().startswith(b"%PDF-")
    assert stat.S_IMODE(pdf_out.stat().st_mode) == 0o600
    assert result.stdout == f"Wrote a transcript of 3 messages to {pdf_out}.\n"


def test_transcript_into_a_missing_folder_exits_2(chat_with_data: Path, tmp_path: Path) -> None:
    result = phonegate("chat", "transcript", str(chat_with_data), "--output", str(tmp_path / "no" / "t.txt"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == [chat_with_data]


def test_transcript_of_a_non_export_exits_2(tmp_path: Path) -> None:
    source = _write(tmp_path / "notes.txt", b"hello\n")
    result = phonegate("chat", "transcript", str(source), "--output", str(tmp_path / "t.txt"))
    assert result.returncode == 2
    assert not (tmp_path / "t.txt").exists()


def test_chat_is_listed_in_help() -> None:
    result = phonegate("--help")
    assert "chat" in result.stdout.split()
