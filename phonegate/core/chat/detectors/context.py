"""The words around a candidate that make it personal data ("NHS", "born") or say it is something else
("booking ref", "order no", "room"): shared by the detectors so each phrase list lives here once."""

from __future__ import annotations

import re

# A label right before the value says what it is: "booking ref: AB123456C", "order no. 943 476 5919", "room 2B".
_OTHER_LABEL = re.compile(
    r"\b(?:booking|order|ref|reference|invoice|ticket|room|flight|seat|confirmation|tracking|version|parcel|receipt"
    r"|serial|transaction|voucher|membership|policy|claim|job)\b"
    r"[\s.:#-]*(?:(?:no|num|number|ref|reference|code|id|is|was)\b[\s.:#-]*){0,3}$",
    re.IGNORECASE,
)


def labelled_as_something_else(text: str, start: int) -> bool:
    """True when a label such as "booking ref:" or "order no." stands right before `start`."""
    return _OTHER_LABEL.search(text, max(0, start - 40), start) is not None


def near(text: str, start: int, end: int, words: re.Pattern[str], before: int = 40, after: int = 30) -> bool:
    """True when `words` occur within `before` characters before the span or `after` characters after it."""
    return words.search(text, max(0, start - before), min(len(text), end + after)) is not None
