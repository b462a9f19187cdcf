"""Excerpts that show where personal data is without showing it: the value masked but for its first and last
letter or digit (separators kept, so its shape still reads), a little context from the same line, and any other
personal data in that context masked whole."""

from __future__ import annotations

from phonegate.core.chat.detectors import Hit

MASK = "\u2022"  # •
CONTEXT_CHARS = 20
CUT = "\u2026"  # …


def excerpt(text: str, hit: Hit, hits: list[Hit]) -> str:
    """The excerpt for `hit` in `text`; `hits` are all the message's hits (`hit` among them)."""
    line_start = text.rfind("\n", 0, hit.start) + 1
    line_end = text.find("\n", hit.end)
    line_end = len(text) if line_end == -1 else line_end
    start = max(line_start, hit.start - CONTEXT_CHARS)
    end = min(line_end, hit.end + CONTEXT_CHARS)
    chars = list(text[start:end])
    for other in hits:
        for part_start, part_end in other.value_parts:
            for index in range(max(part_start, start), min(part_end, end)):
                if chars[index - start].isalnum():
                    chars[index - start] = MASK
    shown = [index for part in hit.value_parts for index in range(*part) if text[index].isalnum()]
    for index in (shown[0], shown[-1]) if len(shown) > 3 else shown[:1]:
        chars[index - start] = text[index]
    body = "".join(chars).replace("\n", " / ")  # a value split over lines (bank details) stays on one line
    return (CUT if start > line_start else "") + body.strip() + (CUT if end < line_end else "")
