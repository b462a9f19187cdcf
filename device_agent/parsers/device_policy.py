"""Active device admins from `dumpsys device_policy` (component names under `Enabled Device Admins`)."""

from __future__ import annotations

import re

from device_agent.parsers.text import note

_COMPONENT = re.compile(r"^\s{4}([A-Za-z0-9_.]+/[A-Za-z0-9_.$]+):\s*$")


def parse_device_admins(text: str, problems: list[str] | None = None) -> list[str] | None:
    if not isinstance(text, str) or "Enabled Device Admins" not in text:
        note(problems, "device policy: no device admin section")
        return None
    admins: list[str] = []
    inside = False
    for line in text.split("\n"):
        if "Enabled Device Admins" in line:
            inside = True
            continue
        if inside:
            if line.strip() and not line.startswith("    "):
                inside = False
                continue
            match = _COMPONENT.match(line)
            if match:
                admins.append(match.group(1))
    return admins
