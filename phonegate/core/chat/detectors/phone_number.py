"""UK phone numbers, as Google's libphonenumber (the `phonenumbers` package) judges them valid: written the UK way
(0..., +44..., 0044...), country code 44 (so the Channel Islands and the Isle of Man too). Numbers without a
leading 0 or + are not taken as phone numbers: those are NHS, order and account numbers' shapes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import phonenumbers

from phonegate.core.chat.detectors.context import labelled_as_something_else
from phonegate.core.chat.detectors.hit import Hit

KIND = "phone_number"
_CANDIDATE = re.compile(r"(?:\+|\b0)[\d ()-]{9,}")  # cheap test before the library's matcher (about 0.1 ms a call)
_UK_WRITTEN = re.compile(r"\(?(?:0|\+\s?44|0044)")


def find(text: str, sent_at: datetime, day_first: bool) -> Iterator[Hit]:
    if not _CANDIDATE.search(text):
        return
    for match in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.VALID):
        if match.number.country_code != 44 or not _UK_WRITTEN.match(match.raw_string):
            continue
        if labelled_as_something_else(text, match.start):
            continue
        yield Hit(KIND, match.start, match.end)
