"""Bank details: a sort code (`12-34-56`, or six digits after "sort code") with an eight-digit account number
within a few words of it. A sort code that could also be a date (`12-03-24`) counts only with a banking word
near ("sort code", "account", "bank"), so a date next to an order number is not taken for bank details."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from phonegate.core.chat.detectors.context import near
from phonegate.core.chat.detectors.hit import Hit

KIND = "bank_account"
_SORT_CODE = re.compile(r"(?<![\d-])(\d{2})-(\d{2})-(\d{2})(?![\d-])|(?<=sort code)[\s:.-]*(\d{6})(?!\d)", re.IGNORECASE)
_ACCOUNT = re.compile(r"(?<![\d-])(?:\d{8}|\d{4} \d{4})(?![\d-])")
_BANKING = re.compile(r"\b(?:sort|account|acc|acct|a/c|bank|banking|bacs|transfer|pay)\b", re.IGNORECASE)
_NEAR_CHARS = 40


def find(text: str, sent_at: datetime, day_first: bool) -> Iterator[Hit]:
    for sort_code in _SORT_CODE.finditer(text):
        code_start = sort_code.start(4) if sort_code.group(4) else sort_code.start()
        code_end = sort_code.end()
        if sort_code.group(1) and _could_be_date(sort_code) and not near(text, code_start, code_end, _BANKING):
            continue
        account = _nearest_account(text, code_start, code_end)
        if account is None:
            continue
        parts = tuple(sorted([(code_start, code_end), account]))
        yield Hit(KIND, parts[0][0], parts[1][1], parts=parts)


def _could_be_date(sort_code: re.Match[str]) -> bool:
    first, second = int(sort_code.group(1)), int(sort_code.group(2))
    return (1 <= first <= 31 and 1 <= second <= 12) or (1 <= first <= 12 and 1 <= second <= 31)


def _nearest_account(text: str, code_start: int, code_end: int) -> tuple[int, int] | None:
    """The account number closest after the sort code within _NEAR_CHARS, else the closest before it."""
    after = _ACCOUNT.search(text, code_end)
    if after is not None and after.start() - code_end <= _NEAR_CHARS:
        return after.span()
    before = None
    for match in _ACCOUNT.finditer(text, max(0, code_start - _NEAR_CHARS - 9)):
        if match.end() > code_start:
            break
        if code_start - match.end() <= _NEAR_CHARS:
            before = match.span()
    return before
