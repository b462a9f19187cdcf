"""Finding personal data in one message's text: one module per kind, each with `KIND` and `find(...)`.

Each `find(text, sent_at, day_first)` yields the spans it is sure of (a check digit, a valid format, the words
around it); look-alikes (times, prices, booking references, room and version numbers, meeting dates, order
numbers) are each detector's own business. Where two kinds claim overlapping characters, the longer span wins
(`+44 113 496 0000` is a phone number, not the NHS-number-shaped tail of one), and on a tie the kind listed first.
"""

from __future__ import annotations

import re
from datetime import datetime

from phonegate.core.chat.detectors import (
    bank_account,
    date_of_birth,
    email,
    national_insurance_number,
    nhs_number,
    phone_number,
    postcode,
)
from phonegate.core.chat.detectors.hit import Hit

DETECTORS = (email, nhs_number, national_insurance_number, bank_account, date_of_birth, phone_number, postcode)
KINDS: tuple[str, ...] = tuple(detector.KIND for detector in DETECTORS)
_ANY_CANDIDATE = re.compile(r"[\d@]")  # every kind holds a digit or an @: most messages are skipped at once

__all__ = ["DETECTORS", "KINDS", "Hit", "find_personal_data"]


def find_personal_data(text: str, sent_at: datetime, day_first: bool) -> list[Hit]:
    """The personal data in `text`, in order, no two hits overlapping."""
    if not _ANY_CANDIDATE.search(text):
        return []
    hits = [hit for detector in DETECTORS for hit in detector.find(text, sent_at, day_first)]
    if len(hits) < 2:
        return hits
    priority = {kind: index for index, kind in enumerate(KINDS)}
    kept: list[Hit] = []
    for hit in sorted(hits, key=lambda hit: (hit.start - hit.end, priority[hit.kind])):
        if all(hit.end <= other.start or other.end <= hit.start for other in kept):
            kept.append(hit)
    return sorted(kept, key=lambda hit: hit.start)
