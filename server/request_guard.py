"""Limits every request meets before a view reads it, checked once in a before_request hook.

- A JSON body is at most MAX_JSON_BYTES, nested at most MAX_JSON_DEPTH deep, and holds no number of more than
  MAX_NUMBER_DIGITS digits, no NaN or Infinity: all measured on the raw bytes before the parser runs, so a body
  nested 100,000 deep or a 5,000-digit number costs a few regular-expression passes, never a recursion or a
  quadratic int(). The body is then parsed once; the API's argument parser reads it from here (json_body).
- Query parameters and web form fields never carry a NUL byte (PostgreSQL cannot store one); `page` and
  `per_page` on web pages are whole numbers the database can page to.

On the API this runs after authentication (server/api/auth.py registers its hook first), so a caller without a
valid token never gets a body parsed.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import NotFound

from server.services.errors import InvalidInput

MAX_JSON_BYTES = 16 * 1024 * 1024  # a sweep batch of 200 results is ~100 KB; 20,000 with evidence fit
MAX_JSON_DEPTH = 32  # the deepest PhoneGate document (a result's evidence inside a batch) is under 10
MAX_NUMBER_DIGITS = 40  # ids and versions are at most 19 digits; nothing needs 40
MAX_PAGE = 1_000_000  # pages past this are empty for any PhoneGate list; OFFSET stays far inside 64 bits
WEB_PAGE_ARGS = ("page", "per_page")
_NOT_PARSED = object()

_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # inside a string, "\x" pairs (\" and \\ too) read left to right
_STRING = re.compile(rb'"[^"]*"')  # after the escapes are gone, a string is quote, non-quotes, quote
_LONG_NUMBER = re.compile(rb"[0-9]{%d,}" % (MAX_NUMBER_DIGITS + 1))
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_STEP = [0] * 256
for _opening in b"[{":
    _STEP[_opening] = 1
for _closing in b"]}":
    _STEP[_closing] = -1


def json_depth(skeleton: bytes) -> int:
    """How deep the brackets of `skeleton` (JSON without its strings) nest; in C loops, never recursing."""
    brackets = skeleton.translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"The JSON body holds {name}, which is not a number PhoneGate accepts.")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise InvalidInput("The JSON body holds a number too large to store.")
    return number


def parse_limited_json(body: bytes) -> Any:
    """`body` as JSON, or InvalidInput saying which limit it broke. Empty -> None."""
    if not body.strip():
        return None
    skeleton = _STRING.sub(b"", _ESCAPE.sub(b"", body))
    if _LONG_NUMBER.search(skeleton):
        raise InvalidInput(f"The JSON body holds a number of more than {MAX_NUMBER_DIGITS} digits.")
    if json_depth(skeleton) > MAX_JSON_DEPTH:
        raise InvalidInput(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The JSON body is not UTF-8 text.") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"The body is not valid JSON ({_where(exc)}).") from None


def _where(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "it could not be read"


def json_body() -> Any:
    """The request's JSON body, parsed once under the limits; None when the request has none."""
    parsed = g.get("_phonegate_json", _NOT_PARSED)
    if parsed is _NOT_PARSED:
        request.max_content_length = MAX_JSON_BYTES  # werkzeug answers 413 past this, before reading more
        parsed = parse_limited_json(request.get_data(cache=True))
        g._phonegate_json = parsed
    return parsed


def _check_no_nul(values, where: str) -> None:
    for name, value in values.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise InvalidInput(f"A {where} holds a NUL character; nothing was changed.",
                               errors={name.replace("\x00", "\\x00"): ["Remove the NUL character."]})


def _check_page_args() -> None:
    for name in WEB_PAGE_ARGS:
        for value in request.args.getlist(name):
            if not (value.isascii() and value.isdigit() and len(value) <= 7 and 1 <= int(value) <= MAX_PAGE):
                raise NotFound(f"There is no page {value[:20]!r} of this list; pages are numbered from 1.")


def check_request() -> None:
    _check_no_nul(request.args, "query parameter")
    if request.path.startswith("/api/"):
        if request.is_json:
            json_body()
        return
    _check_page_args()
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        _check_no_nul(request.form, "form field")


def init_app(app: Flask) -> None:
    app.before_request(check_request)
