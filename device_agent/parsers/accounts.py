"""Account types from `dumpsys account` (or from the collection script's already-filtered `type=` lines).

Only types leave this module; account names (people's e-mail addresses) are dropped even if the phone sent them.
"""

from __future__ import annotations

import re

from device_agent.parsers.text import note

_TYPE = re.compile(r"type=([A-Za-z0-9_.\-]{1,200})")


def parse_account_types(text: str, problems: list[str] | None = None) -> list[str] | None:
    if not isinstance(text, str):
        note(problems, "accounts: output was not text")
        return None
    types: set[str] = set()
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("Account {") or stripped.startswith("type="):
            # `Account {name=..., type=...}`: read only the type, which comes last
            match = _TYPE.search(stripped[stripped.rfind("type="):]) if "type=" in stripped else None
            if match:
                types.add(match.group(1))
    if not types and text.strip() and "Accounts: 0" not in text and "type=" in text:
        note(problems, "accounts: account lines could not be read")
        return None
    return sorted(types)
