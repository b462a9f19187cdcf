"""`settings list NAMESPACE` (key=value lines; values may be empty or JSON) and `settings get NS KEY`."""

from __future__ import annotations

import re

from device_agent.parsers.text import note

_KEY = re.compile(r"^[^\s=][^=\n]{0,255}$")


def parse_settings_list(text: str, problems: list[str] | None = None, namespace: str = "settings") -> dict[str, str]:
    values: dict[str, str] = {}
    if not isinstance(text, str):
        note(problems, f"settings {namespace}: output was not text")
        return values
    bad = 0
    last_key: str | None = None
    for line in text.split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if sep and _KEY.match(key) and " " not in key.strip():
            values[key] = value
            last_key = key
        elif last_key is not None and not sep:
            values[last_key] += "\n" + line  # a value with a newline in it continues on the next line
        else:
            bad += 1
    if bad:
        note(problems, f"settings {namespace}: {bad} unreadable lines skipped")
    return values


def parse_settings_get(text: str) -> str | None:
    """The value, or None when the setting is unset (`null`) or the output is not one value."""
    if not isinstance(text, str):
        return None
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) != 1 or lines[0].strip() == "null" or lines[0].startswith(("usage:", "Error", "/system/bin/sh:")):
        return None
    return lines[0].rstrip("\r")
