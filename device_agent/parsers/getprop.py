"""`getprop` with no argument: lines `[key]: [value]`; a value may span lines until its closing `]`."""

from __future__ import annotations

import re

from device_agent.parsers.text import note

_LINE = re.compile(r"^\[([^\[\]\n]{1,256})\]: \[(.*)$")


def parse_getprop(text: str, problems: list[str] | None = None) -> dict[str, str]:
    """Every property; prompt lines and blank lines are skipped. Empty dict when nothing could be read."""
    properties: dict[str, str] = {}
    if not isinstance(text, str):
        note(problems, "getprop: output was not text")
        return properties
    key: str | None = None
    parts: list[str] = []
    skipped = 0
    for line in text.split("\n"):
        if key is not None:  # inside a multi-line value
            match = _LINE.match(line)
            if match and len(parts) > 16:  # a value never closed: give up on it rather than swallow the rest
                key = None
            elif not match:
                if line.endswith("]"):
                    parts.append(line[:-1])
                    properties[key] = "\n".join(parts)
                    key = None
                else:
                    parts.append(line)
                continue
            else:
                key = None
        match = _LINE.match(line)
        if match is None:
            if line.strip():
                skipped += 1
            continue
        name, rest = match.group(1), match.group(2)
        if rest.endswith("]"):
            properties[name] = rest[:-1]
        else:
            key, parts = name, [rest]
    if key is not None:
        note(problems, f"getprop: value of {key[:80]} was cut off")
    if not properties:
        note(problems, "getprop: no properties could be read")
    elif skipped > 1:  # one prompt line is normal for captured output
        note(problems, f"getprop: {skipped} unreadable lines skipped")
    return properties
