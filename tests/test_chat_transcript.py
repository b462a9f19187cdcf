"""Transcripts for the case record: one entry per message with time and sender, WhatsApp's own lines marked,
in plain text and in a PDF whose text reads back the same (checked with pypdf)."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pypdf
import pytest

from fixtures_chat import ENCRYPTION_NOTICE, Line, write_export
from phonegate.core.chat.messages import parse_chat
from phonegate.core.chat.transcript import render_text
from phonegate.core.chat.transcript_pdf import Fonts, FontMissing, render_pdf

MADE_AT = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
LINES = [
    Line(datetime(2024, 3, 12, 14, 5), None, ENCRYPTION_NOTICE),
    Line(datetime(2024, 3, 12, 14, 6), "Zoë Ålander", "first line\nsecond line"),
    Line(datetime(2024, 3, 12, 14, 7), "Sam Jones", "", media=True),
    Line(datetime(2024, 3, 12, 14, 8), "Sam Jones", "\x1b[2Jcleared? \u202eevil"),
    Line(datetime(2024, 3, 12, 14, 9), "Приви Ω", "🦄 你好 👍🏽 😀"),
]


def test_text_transcript() -> None:
    text = render_text(parse_chat(write_export(LINES, "android24")), "WhatsApp Chat with Family support.txt", MADE_AT)
    assert text.splitlines()[4:] == [
        f"2024-03-12 14:05  [system] {ENCRYPTION_NOTICE}",
        "2024-03-12 14:06  Zoë Ålander: first line",
        "                  second line",
        "2024-03-12 14:07  Sam Jones: [media] <Media omitted>",
        "2024-03-12 14:08  Sam Jones: \\x1b[2Jcleared? \\u202eevil",
        "2024-03-12 14:09  Приви Ω: 🦄 你好 👍🏽 😀",
    ]
    assert text.splitlines()[0] == "Transcript of a WhatsApp chat export: WhatsApp Chat with Family support.txt"
    assert "5 messages, 2024-03-12 14:05 to 2024-03-12 14:09" in text.splitlines()[1]


def test_text_transcript_keeps_ios_seconds() -> None:
    lines = [Line(datetime(2024, 3, 12, 14, 5, 33), "Sam", "hi")]
    assert "2024-03-12 14:05:33  Sam: hi" in render_text(parse_chat(write_export(lines, "ios")), "_chat.txt", MADE_AT)


def _pdf_text(data: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_transcript_reads_back() -> None:
    pages, text = _pdf_text(render_pdf(parse_chat(write_export(LINES, "ios")), "_chat.txt", MADE_AT))
    assert pages == 1
    assert "Transcript of a WhatsApp chat export: _chat.txt" in text
    assert "2024-03-12 14:06 Zoë Ålander first line\nsecond line" in text
    assert "[system] Messages and calls are end-to-end encrypted." in text
    assert "\\x1b[2Jcleared? \\u202eevil" in text
    assert "Приви Ω" in text


def test_pdf_names_characters_its_font_cannot_draw() -> None:  # DejaVu Sans has 😀, not 🦄, 你 or 👍
    _, text = _pdf_text(render_pdf(parse_chat(write_export(LINES, "android24")), "chat.txt", MADE_AT))
    assert "[unicorn face] [cjk unified ideograph-4f60][cjk unified ideograph-597d] [thumbs up sign] 😀" in " ".join(text.split())


def test_long_chat_runs_over_pages_with_the_heading_row_on_each() -> None:
    lines = [Line(datetime(2024, 3, 12, 9, 0).replace(minute=index % 60, hour=9 + index // 60), "Sam", f"message {index}")
             for index in range(300)]
    pages, text = _pdf_text(render_pdf(parse_chat(write_export(lines, "android24")), "chat.txt", MADE_AT))
    assert pages > 3
    assert text.count("Time Sender Message") == pages
    assert "message 299" in text


def test_missing_font_is_one_sentence(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("phonegate.core.chat.transcript_pdf.FONT_FOLDERS", (tmp_path,))
    with pytest.raises(FontMissing, match="fonts-dejavu-core"):
        Fonts.find()
