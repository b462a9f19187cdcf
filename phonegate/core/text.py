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

# Bidi embedding, override and isolate controls, and the directional marks: all change how a terminal lays out
# the rest of the line.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0 (with tab and newline: a printed field stays on its line), DEL, C1
    f"{_BIDI}"
    "\u2028\u2029"  # line and paragraph separators
    "\ud800-\udfff]"  # lone surrogates (from surrogateescape decoding): unprintable and unencodable
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control, escape, bidi and separator character shown as an escape; the rest unchanged."""
    return _UNSAFE.sub(_escape, text)


def printable_json(value: object) -> str:
    """`value` as JSON made of printable ASCII only, so it can be written to a terminal as it is.

    json.dumps with ensure_ascii escapes everything but ASCII, and every C0 control; DEL is the one ASCII control
    it leaves raw, so it is escaped here too (`\\u007f` is valid JSON and decodes to the same string).
    """
    return json.dumps(value, ensure_ascii=True, indent=2).replace("\x7f", "\\u007f")
