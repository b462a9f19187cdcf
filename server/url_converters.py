"""What a URL may carry: ids that fit the database, path text without control characters.

Both replace Flask's own converters under their usual names (`<int:...>`, `<string:...>` and the default
`<name>`), so every route of the web pages and the API gets them without asking. Anything else in a path is a
page that does not exist: 404, never a 500 from a number the database cannot hold or a NUL byte PostgreSQL
refuses. `parse_id` is the same rule for ids that come in a form field or a query parameter.

Ids are INTEGER columns: 32 bits on PostgreSQL (SQLite's would hold 64), so the smaller bound is the rule.
"""

from __future__ import annotations

import builtins

from flask import Flask
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

# The largest id both databases can store (PostgreSQL's INTEGER; SQLite's INTEGER goes to 2^63-1).
MAX_ID = 2**31 - 1
# Controls (C0, DEL, C1) are never part of a name in a path; neither is "/" (it separates the segments).
PATH_TEXT_REGEX = "[^/\\x00-\\x1f\\x7f-\\x9f]{1,}"


class IdConverter(IntegerConverter):
    """`<int:id>`: a whole number from 0 to MAX_ID written in ASCII digits; anything else is no page (404)."""

    regex = "[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else builtins.min(max, MAX_ID),
                         signed=signed)
        self.regex = "-?[0-9]+" if signed else "[0-9]+"

    def to_python(self, value: str) -> int:
        # A number longer than MAX_ID's digits cannot be an id; refusing it here also keeps int() cheap.
        if len(value.lstrip("-0")) > len(str(MAX_ID)):
            raise ValidationError()
        return super().to_python(value)


class PathTextConverter(UnicodeConverter):
    """`<string:serial>` and `<serial>`: one path segment without control characters."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00-\\x1f\\x7f-\\x9f]", 1)


def parse_id(text: str | None) -> int | None:
    """An id typed into a form or a query string ("12"), or None when it is not one (empty, letters, too large)."""
    value = (text or "").strip()
    if not value or len(value) > len(str(MAX_ID)) or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def path_text_schema(converter: PathTextConverter) -> dict:
    """How the OpenAPI document describes a path segment of text (what PathTextConverter matches)."""
    return {"type": "string", "minLength": 1, "pattern": "^[^/\\x00-\\x1f\\x7f-\\x9f]+$"}


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: the rules are compiled with the converters they name at that moment."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["string"] = PathTextConverter
    app.url_map.converters["default"] = PathTextConverter
