"""A clean, timestamped transcript of a chat for the case record: one entry per message (time, sender, text),
WhatsApp's own lines marked [system] and file placeholders [media], every line made printable.

The transcript holds the conversation itself (it is for the case record): it is written to a file the caller
names, never logged or kept by PhoneGate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from phonegate.core.chat.messages import Chat, Message
from phonegate.core.text import printable

SYSTEM_MARK = "[system]"
MEDIA_MARK = "[media]"


@dataclass(frozen=True)
class Entry:
    time: str
    sender: str  # the sender, or SYSTEM_MARK
    lines: list[str]  # the message's lines, printable; a media line starts with MEDIA_MARK


def entries(chat: Chat) -> Iterator[Entry]:
    with_seconds = any(message.sent_at.second for message in chat.messages)  # iOS writes seconds, Android does not
    stamp = "%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M"
    for message in chat.messages:
        yield Entry(message.sent_at.strftime(stamp), _who(message), _lines(message))


def heading(chat: Chat, source_name: str, made_at: datetime) -> list[str]:
    first, last = chat.messages[0].sent_at, chat.messages[-1].sent_at
    return [
        printable(f"Transcript of a WhatsApp chat export: {source_name}"),
        f"{len(chat.messages)} messages, {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}, times as the phone showed "
        "them (the export holds no time zone).",
        f"Made by PhoneGate on {made_at:%Y-%m-%d %H:%M} UTC from the exported file. {SYSTEM_MARK} marks WhatsApp's "
        f"own lines, {MEDIA_MARK} a file that is not part of the transcript.",
    ]


def render_text(chat: Chat, source_name: str, made_at: datetime) -> str:
    """The transcript as plain text: a heading, then one line per message (continuation lines indented)."""
    out = [*heading(chat, source_name, made_at), ""]
    for entry in entries(chat):
        lead = f"{entry.time}  "
        out.append(f"{lead}{entry.sender}: {entry.lines[0]}" if entry.sender != SYSTEM_MARK
                   else f"{lead}{SYSTEM_MARK} {entry.lines[0]}")
        out.extend(" " * len(lead) + line for line in entry.lines[1:])
    return "\n".join(out) + "\n"


def _who(message: Message) -> str:
    return SYSTEM_MARK if message.sender is None else printable(message.sender)


def _lines(message: Message) -> list[str]:
    lines = [printable(line) for line in message.text.split("\n")]
    if message.kind == "media":
        lines[0] = f"{MEDIA_MARK} {lines[0]}"
    return lines
