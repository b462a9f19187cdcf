"""E-mail addresses: a local part, @, and a domain with a dot and a top-level name of letters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from phonegate.core.chat.detectors.hit import Hit

KIND = "email"
_ADDRESS = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


def find(text: str, sent_at: datetime, day_first: bool) -> Iterator[Hit]:
    if "@" not in text:
        return
    for match in _ADDRESS.finditer(text):
        yield Hit(KIND, *match.span())
