"""National Insurance numbers: two prefix letters, six digits, a suffix A-D (`AB 12 34 56 C`), with HMRC's prefix
rules: the first letter is not D, F, I, Q, U or V; the second not D, F, I, O, Q, U or V; and BG, GB, KN, NK, NT,
TN and ZZ are never issued. python-stdnum has no module for them. Without the suffix letter the shape is a
common booking reference's, so the suffix is required."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from phonegate.core.chat.detectors.context import labelled_as_something_else
from phonegate.core.chat.detectors.hit import Hit

KIND = "national_insurance_number"
_CANDIDATE = re.compile(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE)
_NEVER_ISSUED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def find(text: str, sent_at: datetime, day_first: bool) -> Iterator[Hit]:
    for match in _CANDIDATE.finditer(text):
        if match.group(1).upper() in _NEVER_ISSUED:
            continue
        if labelled_as_something_else(text, match.start()):
            continue
        yield Hit(KIND, *match.span())
