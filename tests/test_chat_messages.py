"""Parsing exports in each shape WhatsApp writes (all written here) into messages with their line numbers."""

from __future__ import annotations

from datetime import datetime

import pytest

from fixtures_chat import ENCRYPTION_NOTICE, STYLES, Line, write_export
from phonegate.core.chat.export_file import NotAnExport
from phonegate.core.chat.messages import parse_chat

LINES = [
    Line(datetime(2024, 3, 12, 14, 5, 33), None, ENCRYPTION_NOTICE),
    Line(datetime(2024, 3, 12, 14, 6, 1), "Sam Jones", "Hello: are you free?"),
    Line(datetime(2024, 3, 13, 21, 7, 2), "Zoë Ålander", "first line\nsecond line\n\nfourth line"),
    Line(datetime(2024, 3, 14, 0, 30, 0), "Sam Jones", "", media=True),
    Line(datetime(2024, 3, 14, 12, 0, 59), "\u202a+44 7911 123456\u202c", "noon"),
]


@pytest.mark.parametrize("style", STYLES)
def test_every_style_parses_to_the_same_messages(style: str) -> None:
    chat = parse_chat(write_export(LINES, style))
    with_seconds = style.startswith("ios")
    assert [m.sent_at for m in chat.messages] == [
        line.when if with_seconds else line.when.replace(second=0) for line in LINES]
    assert [m.sender for m in chat.messages] == [None, "Sam Jones", "Zoë Ålander", "Sam Jones", "+44 7911 123456"]
    assert [m.kind for m in chat.messages] == ["system", "text", "text", "media", "text"]
    assert [m.line for m in chat.messages] == [1, 2, 3, 7, 8]
    assert chat.messages[1].text == "Hello: are you free?"
    assert chat.messages[2].text == "first line\nsecond line\n\nfourth line"
    assert chat.messages[0].text == ENCRYPTION_NOTICE


@pytest.mark.parametrize(("style", "day_first"), [("android24", True), ("android12", True), ("ios", True),
                                                  ("android12us", False), ("ios12us", False)])
def test_date_order_is_decided_from_the_file(style: str, day_first: bool) -> None:
    assert parse_chat(write_export(LINES, style)).day_first is day_first


def test_no_evidence_means_day_first() -> None:
    chat = parse_chat("03/04/2024, 10:00 - Sam: hi\n05/04/2024, 10:01 - Alex: hello\n")
    assert chat.day_first is True
    assert chat.messages[0].sent_at == datetime(2024, 4, 3, 10, 0)


def test_month_first_evidence_later_in_the_file_reorders_the_first_lines() -> None:
    chat = parse_chat("3/4/24, 10:00 AM - Sam: hi\n3/25/24, 10:01 PM - Alex: hello\n")
    assert [m.sent_at for m in chat.messages] == [datetime(2024, 3, 4, 10, 0), datetime(2024, 3, 25, 22, 1)]


@pytest.mark.parametrize(("header", "expected"), [
    ("12/03/2024, 12:05\u202fam - Sam: x", datetime(2024, 3, 12, 0, 5)),
    ("12/03/2024, 12:05\u202fpm - Sam: x", datetime(2024, 3, 12, 12, 5)),
    ("12/03/2024, 1:05 p.m. - Sam: x", datetime(2024, 3, 12, 13, 5)),
    ("12/03/2024, 1:05\u00a0PM - Sam: x", datetime(2024, 3, 12, 13, 5)),
    ("12.03.24, 14:05 - Sam: x", datetime(2024, 3, 12, 14, 5)),
    ("12/03/2024 14:05 - Sam: x", datetime(2024, 3, 12, 14, 5)),
    ("\u200e[12/03/2024, 2:05:09\u202fPM] Sam: x", datetime(2024, 3, 12, 14, 5, 9)),
])
def test_clock_variants(header: str, expected: datetime) -> None:
    assert parse_chat(header + "\n").messages[0].sent_at == expected


@pytest.mark.parametrize("text", [
    "Sam added Alex", "You created group \"Team: Support\"", "Sam changed the subject from \"A: b\" to \"C\"",
    "Your security code with Alex changed. Tap to learn more.",
])
def test_android_system_lines_have_no_sender(text: str) -> None:
    message = parse_chat(f"12/03/2024, 14:05 - {text}\n").messages[0]
    assert message.sender is None
    assert message.kind == "system"
    assert message.text == text


def test_ios_system_line_drops_the_chat_name() -> None:
    message = parse_chat("[12/03/2024, 14:05:33] Family support: \u200eSam added Alex\n").messages[0]
    assert (message.sender, message.kind, message.text) == (None, "system", "Sam added Alex")


@pytest.mark.parametrize("placeholder", ["<Media omitted>", "\u200eimage omitted", "\u200e<attached: 00000012-PHOTO-2024-03-12-14-05-33.jpg>",
                                         "IMG-20240312-WA0001.jpg (file attached)", "\u200evideo omitted", "\u200esticker omitted"])
def test_media_placeholders_keep_their_sender(placeholder: str) -> None:
    message = parse_chat(f"[12/03/2024, 14:05:33] Sam: {placeholder}\n").messages[0]
    assert (message.sender, message.kind) == ("Sam", "media")


def test_media_with_a_caption_is_a_text_message() -> None:
    message = parse_chat("12/03/2024, 14:05 - Sam: IMG-20240312-WA0001.jpg (file attached)\nhis letter\n").messages[0]
    assert message.kind == "text"


def test_impossible_date_is_a_continuation_line() -> None:
    chat = parse_chat("12/03/2024, 14:05 - Sam: totals\n31/02/2024, 14:05 - not a header\n")
    assert len(chat.messages) == 1
    assert chat.messages[0].text == "totals\n31/02/2024, 14:05 - not a header"


def test_crlf_line_ends() -> None:
    chat = parse_chat("12/03/2024, 14:05 - Sam: one\r\ntwo\r\n12/03/2024, 14:06 - Alex: three\r\n")
    assert [(m.line, m.text) for m in chat.messages] == [(1, "one\ntwo"), (3, "three")]


def test_unicode_line_separator_inside_a_message_does_not_shift_line_numbers() -> None:
    chat = parse_chat("12/03/2024, 14:05 - Sam: one\u2028still one\n12/03/2024, 14:06 - Alex: two\n")
    assert [m.line for m in chat.messages] == [1, 2]


@pytest.mark.parametrize("text", ["", "\n\n", "Dear Sam,\n12/03/2024, 14:05 - Sam: hi\n", "%PDF-1.7\n\x00\x01binary",
                                  "just some notes\nand more\n"])
def test_text_that_does_not_start_like_an_export_is_refused(text: str) -> None:
    with pytest.raises(NotAnExport, match="not a WhatsApp chat export"):
        parse_chat(text)
