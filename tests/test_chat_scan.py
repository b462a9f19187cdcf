"""Scanning whole exports: findings carry the file's line, the sender, the time, and an excerpt that never holds
the value; in every style, in a .zip with media, and never in WhatsApp's own lines."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from fixtures_chat import STYLES, Line, write_export, zip_export
from phonegate.core.chat.detectors import KINDS
from phonegate.core.chat.messages import parse_chat
from phonegate.core.chat.scan import Finding, scan_chat, scan_export

PLANTED = {  # kind -> (a message holding one, the value)
    "nhs_number": ("His NHS number is 943 476 5919, thanks", "943 476 5919"),
    "national_insurance_number": ("NI AB 12 34 56 C", "AB 12 34 56 C"),
    "postcode": ("she lives at EH12 9DN now", "EH12 9DN"),
    "phone_number": ("call 07911 123456 after 5", "07911 123456"),
    "email": ("send it to priya.patel@example.org", "priya.patel@example.org"),
    "date_of_birth": ("DOB 12/03/1990", "12/03/1990"),
    "bank_account": ("sort code 40-47-84 acc 71234567", None),
}


def chat_lines() -> list[Line]:
    start = datetime(2024, 3, 12, 9, 0, 7)
    lines = [Line(start, None, "Sam Jones added 07911 654321")]  # a system line: WhatsApp's words, not scanned
    for minute, (text, _) in enumerate(PLANTED.values(), start=1):
        lines.append(Line(start.replace(minute=minute), "Sam Jones", f"Update:\n{text}"))
    lines.append(Line(start.replace(hour=10), "Alex Smith", "ok, see you at 14:05 in room B12; it was £12.50"))
    return lines


@pytest.mark.parametrize("style", STYLES)
def test_every_kind_is_found_in_every_style(style: str) -> None:
    report = scan_chat(parse_chat(write_export(chat_lines(), style)))
    assert [finding.kind for finding in report.findings] == list(PLANTED)
    assert [finding.line for finding in report.findings] == [3, 5, 7, 9, 11, 13, 15]  # the value's line, not the header's
    assert {finding.sender for finding in report.findings} == {"Sam Jones"}
    assert report.messages == 9


def test_finding_time_is_iso_8601_as_the_phone_showed_it() -> None:
    report = scan_chat(parse_chat(write_export(chat_lines(), "ios")))
    assert report.findings[0].time == "2024-03-12T09:01:07"


@pytest.mark.parametrize("kind", [kind for kind, (_, value) in PLANTED.items() if value])
def test_excerpt_never_holds_the_value(kind: str) -> None:
    text, value = PLANTED[kind]
    (finding,) = scan_chat(parse_chat(write_export([Line(datetime(2024, 3, 12, 9, 0), "Sam", text)], "android24"))).findings
    assert value not in finding.excerpt
    assert len(re.findall(r"[A-Za-z0-9]", _value_in(finding, value))) <= 2  # a character or two of it at most


def _value_in(finding: Finding, value: str) -> str:
    """The part of the excerpt where the value stood (same length, masked)."""
    masked = re.escape(value[0]) + "".join("[^ ]" if char.isalnum() else re.escape(char) for char in value[1:])
    return re.search(masked, finding.excerpt).group()


def test_excerpt_masks_other_personal_data_in_its_context() -> None:
    text = "NHS 943 476 5919 and EH12 9DN"
    nhs, post = scan_chat(parse_chat(f"12/03/2024, 09:00 - Sam: {text}\n")).findings
    assert "EH12" not in nhs.excerpt
    assert "5919" not in post.excerpt


def test_bank_excerpt_masks_both_numbers_but_keeps_the_words() -> None:
    (finding,) = scan_chat(parse_chat("12/03/2024, 09:00 - Sam: sort code 40-47-84 acc 71234567\n")).findings
    assert finding.excerpt == "sort code 4\u2022-\u2022\u2022-\u2022\u2022 acc \u2022\u2022\u2022\u2022\u2022\u2022\u20227"


def test_counts_list_every_kind() -> None:
    report = scan_chat(parse_chat(write_export(chat_lines(), "android24")))
    assert report.counts == {kind: 1 for kind in KINDS}
    assert report.as_dict()["counts"] == report.counts


def test_clean_chat_has_no_findings() -> None:
    report = scan_chat(parse_chat(write_export(chat_lines()[-1:], "android24")))
    assert report.findings == []
    assert set(report.counts.values()) == {0}


def test_media_lines_and_system_lines_are_not_scanned() -> None:
    text = ("12/03/2024, 09:00 - Sam added 07911 654321\n"
            "12/03/2024, 09:01 - Sam: IMG-20240312-WA0001.jpg (file attached)\n")
    assert scan_chat(parse_chat(text)).findings == []


def test_a_zip_with_media_is_scanned(tmp_path: Path) -> None:
    path = zip_export(tmp_path / "WhatsApp Chat with Family support.zip", write_export(chat_lines(), "android12"), "android12")
    assert len(scan_export(path).findings) == len(PLANTED)


def test_bad_bytes_do_not_stop_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_bytes(write_export(chat_lines(), "android24").encode() + b"12/03/2024, 11:00 - Sam: \xff\xfe\x00 EH12 9DN\n")
    findings = scan_export(path).findings
    assert findings[-1].kind == "postcode"
    assert findings[-1].line == 17
