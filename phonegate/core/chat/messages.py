"""Parsing an export's text into messages.

The shapes WhatsApp writes (one header per message; later lines without a header continue the message before):

    Android, 24-hour:   12/03/2024, 14:05 - Sam Jones: text
    Android, 12-hour:   3/12/24, 2:05\u202fpm - Sam Jones: text      (U+202F, a regular space or none before am/pm)
    Android, system:    12/03/2024, 14:05 - Messages and calls are end-to-end encrypted. ...   (no "Name: ")
    iOS:                [12/03/2024, 14:05:33] Sam Jones: text      (a U+200E mark may start the line)
    iOS, system/media:  [12/03/2024, 14:05:33] Team chat: \u200eSam added Alex    (the text starts with U+200E)

Dates are day-first or month-first by the phone's locale, and the file does not say which, so the whole file
decides: a first field above 12 anywhere means day-first, a second field above 12 means month-first, and with no
evidence day-first (the council's phones are set up for the UK).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from phonegate.core.chat.export_file import NotAnExport

MessageKind = Literal["text", "media", "system"]

_TIME = r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?(?:\s?([aApP])\.?\s?[mM]\.?)?"
_DATE = r"(\d{1,2})[/.](\d{1,2})[/.](\d{2}|\d{4})"
_ANDROID = re.compile(rf"{_DATE},? {_TIME} [-\u2013] (.*)")
_IOS = re.compile(rf"\u200e?\[{_DATE},? {_TIME}\] (.*)")
_NAME_AND_TEXT = re.compile(r"([^:\"\u201c\u201d]{1,80}?): (.*)", re.DOTALL)
_MEDIA = re.compile(
    r"<Media omitted>|<attached: [^>]*>|(?:image|video|audio|sticker|GIF|document|media|Contact card) omitted"
    r"|[^\n]* \(file attached\)",
    re.IGNORECASE,
)
_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # WhatsApp wraps names and numbers in these


@dataclass(frozen=True)
class Message:
    line: int  # the header's line number in the file (1-based); continuation lines follow it
    sent_at: datetime  # as the phone showed it: exports carry no time zone
    sender: str | None  # None for system lines
    text: str  # continuation lines joined with "\n", so text.count("\n") lines follow `line`
    kind: MessageKind


@dataclass(frozen=True)
class Chat:
    messages: list[Message]
    day_first: bool


def parse_chat(text: str, name: str = "The file") -> Chat:
    """The messages of an export's text; NotAnExport when it does not start like one."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the file's final newline ends the last line; it does not start an empty one
    headers = [_header(line.rstrip("\r")) for line in lines]
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None or headers[first] is None:
        raise NotAnExport(f"{name} is not a WhatsApp chat export: it does not start with a dated message line.")
    day_first = _day_first(header for header in headers if header is not None)
    messages: list[Message] = []
    pending: list[str] = []  # the current message's lines
    start: tuple[int, datetime, re.Match[str]] | None = None
    for index, (line, header) in enumerate(zip(lines, headers)):
        sent_at = _timestamp(header, day_first) if header is not None else None
        if sent_at is None:
            if start is not None:
                pending.append(line.rstrip("\r"))
            continue
        if start is not None:
            messages.append(_message(*start, pending))
        start, pending = (index + 1, sent_at, header), []
    if start is not None:
        messages.append(_message(*start, pending))
    if not messages:
        raise NotAnExport(f"{name} is not a WhatsApp chat export: it holds no dated message line.")
    return Chat(messages=messages, day_first=day_first)


def _header(line: str) -> re.Match[str] | None:
    """The header's match: groups day-or-month, month-or-day, year, hour, minute, second, am/pm, then the rest."""
    if not line:
        return None
    lead = line[0]
    if lead.isdigit():
        return _ANDROID.fullmatch(line)
    if lead in "[\u200e":
        return _IOS.fullmatch(line)
    return None


def _day_first(headers: Iterable[re.Match[str]]) -> bool:
    month_first_seen = False
    for header in headers:
        if int(header.group(1)) > 12:
            return True
        if int(header.group(2)) > 12:
            month_first_seen = True
    return not month_first_seen


def _timestamp(header: re.Match[str], day_first: bool) -> datetime | None:
    first, second, year, hour, minute, seconds, half, _ = header.groups()
    day, month = (first, second) if day_first else (second, first)
    full_year = int(year) + 2000 if len(year) == 2 else int(year)
    hours = int(hour)
    if half is not None:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half in "pP" else 0)
    try:
        return datetime(full_year, int(month), int(day), hours, int(minute), int(seconds or 0))
    except ValueError:
        return None  # 31/02, 25:00: not a header after all, so a continuation line


def _message(line: int, sent_at: datetime, header: re.Match[str], continuation: list[str]) -> Message:
    rest = header.group(8)
    named = _NAME_AND_TEXT.fullmatch(rest)
    if named is None:  # Android system line: no "Name: "
        return Message(line, sent_at, None, "\n".join([rest, *continuation]), "system")
    sender = named.group(1).strip(_MARKS + " ")
    first_text = named.group(2)
    marked = first_text.startswith("\u200e")
    first_text = first_text.lstrip(_MARKS)
    text = "\n".join([first_text, *continuation])
    if ("omitted" in first_text or "attached" in first_text) and _MEDIA.fullmatch(first_text) \
            and not any(part.strip() for part in continuation):
        return Message(line, sent_at, sender, text, "media")
    if marked and header.re is _IOS:  # iOS marks its own lines ("Sam added Alex", "Messages ... encrypted") with U+200E
        return Message(line, sent_at, None, text, "system")
    return Message(line, sent_at, sender, text, "text")
