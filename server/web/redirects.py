"""Where a person may be sent after logging in: only a path on this site, or the dashboard.

Browsers are generous with what they call a URL: they drop tabs and newlines, read a backslash as a slash, and
treat `//host` as another site. So the `next` value is checked after it has been decoded the way a browser or
a proxy might decode it, and anything that could leave the site, or that no PhoneGate link ever contains
(control characters, whitespace, backslashes, encoded slashes), falls back to the default.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2048  # longer than any PhoneGate link; a bound on the work and on the Location header
_DECODE_ROUNDS = 3  # enough to undo double and triple encoding; a longer chain is refused


def local_path(target: object) -> str | None:
    """`target` if it is a path on this site (starting with one "/"), else None."""
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return None
    lowered = target.lower()
    if "%2f" in lowered or "%5c" in lowered:  # an encoded slash or backslash: "/%2F/evil" is "//evil" to some
        return None
    decoded = _fully_decoded(target)
    if decoded is None:
        return None
    if any(_unsafe(character) or character.isspace() for character in target):
        return None
    # Decoded, an encoded space (a search term in the query) is fine; what a browser would drop is not.
    if any(_unsafe(character) for character in decoded):
        return None
    for text in (target, decoded):
        if not text.startswith("/") or text.startswith("//"):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def next_or(target: object, default: str) -> str:
    return local_path(target) or default


def _fully_decoded(text: str) -> str | None:
    """`text` percent-decoded until nothing changes; None if it never settles or is not UTF-8 underneath."""
    for _ in range(_DECODE_ROUNDS):
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            return None
        if decoded == text:
            return text
        text = decoded
    return None


def _unsafe(character: str) -> bool:
    # Control characters (C0, DEL, C1), whitespace other than the plain space (browsers strip or fold it),
    # line and paragraph separators, the backslash, and lone surrogates (not text at all).
    code = ord(character)
    if code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code <= 0xDFFF or character == "\\":
        return True
    return character.isspace() and character != " "

