"""The fields every API input schema is built from (server.api.common.StrictSchema allows no others).

- `Identifier`: a serial, an address, a name, a hash: trimmed, and refused (400) when it holds a control, escape,
  bidi or separator character, or a lone surrogate. Names are looked up and shown again; one that reads
  differently from what it holds has no business in the database.
- `Text`: what a phone or an agent reports (facts, observations): trimmed, and stored with those characters
  escaped (phonegate.core.text.printable), so a hostile phone's bytes never reach a page or a terminal raw.
- `Document`: several lines a person typed (the compliance rules YAML): tabs and newlines kept, every other
  control character refused.
- `Int64`: a whole number inside the database's signed 64 bits (narrower when the field says so); `Id` is one
  from 1 to url_converters.MAX_ID (ids are 32-bit INTEGER columns on PostgreSQL). A larger one is a 400 with the
  field named, never an OverflowError or "integer out of range".
- `Facts`: a free-form JSON object (evidence, a facts summary) with every string in it escaped like `Text`.

An empty or blank optional string counts as not given (the key is dropped), so `{"serial": "E1", "model": ""}`
changes nothing about the model; an empty required one is refused with "Must not be empty.".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import marshmallow as ma

from phonegate.core.text import UNPRINTABLE_CLASS, printable, printable_data, unprintable_characters
from server.url_converters import MAX_ID

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class _TrimmedString(ma.fields.String):
    """A string with surrounding whitespace removed; blank counts as missing (or "Must not be empty.")."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            if self.required:
                raise ma.ValidationError("Must not be empty.")
            return ma.missing  # Schema._deserialize leaves a missing value out of the result
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return self.clean(super()._deserialize(value, attr, data, **kwargs).strip())

    def clean(self, text: str) -> str:
        return text


class Identifier(_TrimmedString):
    def __init__(self, **kwargs: Any) -> None:
        # Documented as it is checked: no unprintable character, and when required, something besides spaces. A
        # field with its own Regexp (a hash, a package name) is documented by that stricter pattern instead.
        validate = kwargs.get("validate")
        validators = [validate] if callable(validate) else list(validate or [])
        metadata = dict(kwargs.pop("metadata", {}))
        if not any(isinstance(v, ma.validate.Regexp) for v in validators):
            safe = f"[^{UNPRINTABLE_CLASS}]*"
            metadata.setdefault("pattern", f"^{safe}[^\\s{UNPRINTABLE_CLASS}]{safe}$" if kwargs.get("required")
                                else f"^{safe}$")
        super().__init__(metadata=metadata, **kwargs)

    def clean(self, text: str) -> str:
        found = unprintable_characters(text)
        if found:
            raise ma.ValidationError(f"Must not contain control or formatting characters (found {', '.join(found)}).")
        return text


class Text(_TrimmedString):
    def clean(self, text: str) -> str:
        return printable(text)


class Document(ma.fields.String):
    """Multi-line text a person typed: CRLF becomes LF; tabs and newlines stay; other controls are refused."""

    def __init__(self, **kwargs: Any) -> None:
        # The unprintable characters less tab and newline (\x09, \x0a).
        refused = UNPRINTABLE_CLASS.replace("\\x00-\\x1f", "\\x00-\\x08\\x0b-\\x1f", 1)
        super().__init__(metadata={"pattern": f"^[^{refused}]*$", **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).replace("\r\n", "\n")
        found = unprintable_characters(text, allow="\n\t")
        if found:
            raise ma.ValidationError(f"Must not contain control characters (found {', '.join(found)}).")
        return text


class Int64(ma.fields.Integer):
    """A whole number from `minimum` to `maximum`, both inside the signed 64-bit range. In a JSON body it must be
    a JSON integer (strict: never "12" or 12.0); a query parameter is text, so query schemas pass strict=False."""

    def __init__(self, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX, strict: bool = True, **kwargs: Any) -> None:
        if minimum < INT64_MIN or maximum > INT64_MAX:
            raise ValueError("Int64 bounds must stay inside the signed 64-bit range.")
        validators = kwargs.pop("validate", None)
        extra = [validators] if callable(validators) else list(validators or [])
        super().__init__(strict=strict, validate=[ma.validate.Range(min=minimum, max=maximum), *extra], **kwargs)


class Id(Int64):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(minimum=1, maximum=MAX_ID, **kwargs)


class Facts(ma.fields.Dict):
    """A JSON object with string keys whose strings (keys and values, at any depth) are stored escaped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=ma.fields.String(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        return printable_data(super()._deserialize(value, attr, data, **kwargs))  # type: ignore[return-value]


# Agents' clocks drift a little; a time further ahead than this is a wrong clock or a forged report.
CLOCK_SKEW = timedelta(minutes=5)


class ReportedTime(ma.fields.AwareDateTime):
    """A time an agent reports (checked_at, seen_at): with a time zone, and not more than CLOCK_SKEW ahead of the
    server's clock, so a report dated 9999 cannot pin "last seen" in the future."""

    def __init__(self, **kwargs: Any) -> None:
        description = f"With a time zone; not more than {CLOCK_SKEW.seconds // 60} minutes ahead of the server's clock."
        super().__init__(metadata={"description": description, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise ma.ValidationError(f"Must not be in the future (more than {CLOCK_SKEW.seconds // 60} minutes "
                                     "ahead of the server's clock): check the agent's clock.")
        return moment
