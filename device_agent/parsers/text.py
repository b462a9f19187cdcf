"""Turning a phone's bytes into text: UTF-8 normally, UTF-16 when a capture went through PowerShell."""

from __future__ import annotations


def decode_output(data: bytes | str) -> str:
    """Text with `\\n` line ends; UTF-16 (BOM, or NUL every other byte) is recognised; bad bytes become U+FFFD."""
    if isinstance(data, str):
        text = data
    else:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16", "replace")
        elif len(data) >= 4 and data[1:8:2].count(0) >= 3 and data[0:8:2].count(0) == 0:
            text = data.decode("utf-16-le", "replace")
        else:
            text = data.decode("utf-8", "replace")
    text = text.lstrip("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def note(problems: list[str] | None, message: str) -> None:
    if problems is not None and message not in problems:
        problems.append(message)

