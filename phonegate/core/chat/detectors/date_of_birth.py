"""Dates of birth: a full date (with a year) that the words around it call a birth date ("born", "DOB",
"date of birth", "birthday", or an age: "aged 7", "34 years old"), and that is a possible one: not after the
message was sent, not before 1900. "See you on 12/03/2025" is a meeting date; so is a "birthday party" on a day
still to come, or one that was this past year (with "birthday" or an age only, a birth date is a year old at least).
Numeric dates follow the export's own day/month order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from phonegate.core.chat.detectors.hit import Hit

KIND = "date_of_birth"
_BEFORE, _AFTER = 40, 30  # how far a context word reaches before and after a date
_MONTH_NAMES = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
    "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
_MONTH = "|".join(sorted(_MONTH_NAMES, key=len, reverse=True))  # longest first: "march" before "mar"
_DATES = re.compile(
    r"\b(?:"
    r"(?P<n1>\d{1,2})(?P<sep>[/.-])(?P<n2>\d{1,2})(?P=sep)(?P<ny>\d{4}|\d{2})"  # 12/03/1990, 12.3.90
    r"|(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"  # 1990-03-12
    rf"|(?P<wd>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<wm>{_MONTH})\.?,?\s+(?P<wy>\d{{4}})"  # 12th March 1990
    rf"|(?P<mm>{_MONTH})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<my>\d{{4}})"  # March 12, 1990
    r")(?!\d|[/.-]\d)",  # not the start of a longer number or a version (1.2.3.4)
    re.IGNORECASE,
)
_BIRTH = re.compile(r"\bborn\b|\bd\.?o\.?b\b|\bdate of birth\b|\bbirth\s?date\b", re.IGNORECASE)
_BIRTHDAY_OR_AGE = re.compile(
    r"\bbirthday\b|\bb-?day\b|\baged?\s*:?\s*\d{1,3}\b|\b\d{1,3}\s*(?:years?|yrs?)(?:\s*old)?\b|\b\d{1,3}\s*y/?o\b",
    re.IGNORECASE,
)


def find(text: str, sent_at: datetime, day_first: bool) -> Iterator[Hit]:
    possible = []  # (span, date) of the dates that could be birth dates
    for match in _DATES.finditer(text):
        when = _date(match, day_first, sent_at.year)
        if when is not None and 1900 <= when.year and when <= sent_at.date():
            possible.append((match.span(), when))
    if not possible:
        return
    born = _nearest_dates(text, [span for span, _ in possible], _BIRTH)
    birthday_or_age = _nearest_dates(text, [span for span, _ in possible], _BIRTHDAY_OR_AGE)
    for index, ((start, end), when) in enumerate(possible):
        if index in born or (index in birthday_or_age and when.year < sent_at.year):
            yield Hit(KIND, start, end)


def _nearest_dates(text: str, spans: list[tuple[int, int]], words: re.Pattern[str]) -> set[int]:
    """The dates that `words` speak of: for each occurrence, the nearest date within reach (40 characters before
    the date, 30 after it), so "born 12/03/1990, seen on 02/03/2024" makes only the first a birth date."""
    chosen = set()
    for word in words.finditer(text):
        reach = []
        for index, (start, end) in enumerate(spans):
            if word.end() <= start and start - word.end() <= _BEFORE:
                reach.append((start - word.end(), index))
            elif end <= word.start() and word.start() - end <= _AFTER:
                reach.append((word.start() - end, index))
        if reach:
            chosen.add(min(reach)[1])
    return chosen


def _date(match: re.Match[str], day_first: bool, this_year: int) -> date | None:
    groups = match.groupdict()
    try:
        if groups["n1"]:
            first, second = int(groups["n1"]), int(groups["n2"])
            day, month = (first, second) if day_first else (second, first)
            year = int(groups["ny"])
            if len(groups["ny"]) == 2:
                year += 2000 if 2000 + year <= this_year else 1900  # "12/03/90" is 1990
            return date(year, month, day)
        if groups["iy"]:
            return date(int(groups["iy"]), int(groups["im"]), int(groups["id"]))
        if groups["wd"]:
            return date(int(groups["wy"]), _MONTH_NAMES[groups["wm"].lower()], int(groups["wd"]))
        return date(int(groups["my"]), _MONTH_NAMES[groups["mm"].lower()], int(groups["md"]))
    except ValueError:
        return None
