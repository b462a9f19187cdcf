"""Making untrusted text safe to print: the one place for it.

Text from phones, uploads and exported chats may hold terminal escape sequences (ESC [ ... that recolour, move the
cursor or retitle the window), other C0 and C1 controls, DEL, Unicode bidi overrides that make a line read
differently from what it holds ("Trojan Source"), line separators that start a new line where none is expected,
and lone surrogates that cannot even be encoded. `printable` shows each of those as an escape (`\\x1b`, `\\u202e`)
and leaves every other character alone, so names in any script still read as they are written.
"""

from __future__ import annotations

import json
import re

# C0 (with tab and newline: a printed field stays on its line), DEL and C1.
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f"
# Bidi embedding, override and isolate controls, and the directional marks: all change how a terminal lays out
# the rest of the line.
_BIDI = "\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069"
_SEPARATORS = "\\u2028\\u2029"  # line and paragraph separators
_SURROGATES = "\\ud800-\\udfff"  # lone surrogates (from surrogateescape decoding): unprintable and unencodable
_UNSAFE = re.compile(f"[{_CONTROLS}{_BIDI}{_SEPARATORS}{_SURROGATES}]")
# The same rule for an OpenAPI document (JSON Schema reads ECMA-262 patterns, where an unpaired surrogate cannot
# be written): the characters printable() escapes, as the inside of a [...] class, and text it leaves unchanged.
UNPRINTABLE_CLASS = f"{_CONTROLS}{_BIDI}{_SEPARATORS}"
PRINTABLE_PATTERN = f"^[^{UNPRINTABLE_CLASS}]*$"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control, escape, bidi and separator character shown as an escape; the rest unchanged."""
    return _UNSAFE.sub(_escape, text)


def unprintable_characters(text: str, *, allow: str = "") -> list[str]:
    """The characters `printable` would escape, each once and escaped itself (["\\x1b", "\\u202e"]), minus `allow`."""
    found = dict.fromkeys(match.group() for match in _UNSAFE.finditer(text) if match.group() not in allow)
    return [_escape(_UNSAFE.match(character)) for character in found]  # type: ignore[arg-type]


def printable_data(value: object) -> object:
    """A JSON-like value (dicts, lists, strings, numbers) with `printable` applied to every string, keys too."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(str(key)): printable_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(item) for item in value]
    return value


def printable_json(value: object, *, sort_keys: bool = False) -> str:
    """`value` as JSON made of printable ASCII only, so it can be written to a terminal as it is.

    json.dumps with ensure_ascii escapes everything but ASCII, and every C0 control; DEL is the one ASCII control
    it leaves raw, so it is escaped here too (`\\u007f` is valid JSON and decodes to the same string).
    """
    return json.dumps(value, ensure_ascii=True, indent=2, sort_keys=sort_keys).replace("\x7f", "\\u007f")
