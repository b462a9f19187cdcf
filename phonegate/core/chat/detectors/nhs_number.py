"""NHS numbers: ten digits whose last is a modulus-11 check digit (python-stdnum's gb.nhs), written 3-3-4 with
spaces or dashes; written as ten bare digits only with "NHS" near, since a bare ten-digit number passes the check
one time in eleven by chance (an order number, a phone number's digits)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from stdnum.gb import nhs

from phonegate.core.chat.detectors.context import labelled_as_something_else, near
from phonegate.core.chat.detectors.hit import Hit

KIND = "nhs_number"
_CANDIDATE = re.compile(r"(?<![\d+])\d{3}([ -]?)\d{3}\1\d{4}(?!\d)")
_NHS = re.compile(r"\bNHS\b", re.IGNORECASE)
_DIGITS_BEFORE = re.compile(r"\d[ -]$")
_DIGITS_AFTER = re.compile(r"[ -]\d")


def find(text: str, sent_at: datetime, day_first: bool) -> Iterator[Hit]:
    for match in _CANDIDATE.finditer(text):
        start, end = match.span()
        if _DIGITS_BEFORE.search(text, max(0, start - 2), start) or _DIGITS_AFTER.match(text, end):
            continue  # "0113 496 0000"'s last ten digits, "943 476 5919 2": digits of something longer
        if not nhs.is_valid(match.group()):
            continue
        if not match.group(1) and not near(text, start, end, _NHS):
            continue
        if labelled_as_something_else(text, start):
            continue
        yield Hit(KIND, start, end)
