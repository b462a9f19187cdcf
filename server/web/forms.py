"""Small helpers for GOV.UK-pattern forms: collected errors (summary + per field) and the day/month/year date.

Forms are plain HTML posted to views; CSRF is checked app-wide by Flask-WTF's CSRFProtect before any view runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass
class FormErrors:
    """Errors keyed by the id of the field to link to, in the order they were found (GOV.UK error summary)."""

    messages: dict[str, str] = field(default_factory=dict)

    def add(self, field_id: str, message: str) -> None:
        self.messages.setdefault(field_id, message)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def summary(self) -> list[dict[str, str]]:
        return [{"text": text, "href": f"#{field_id}"} for field_id, text in self.messages.items()]

    def message(self, field_id: str) -> dict[str, str] | None:
        text = self.messages.get(field_id)
        return {"text": text} if text else None

    def extend_from_service(self, errors: Mapping[str, list[str]] | None, field_ids: Mapping[str, str]) -> None:
        """Take a service's InvalidInput errors ({field: [messages]}) and link them to this form's fields."""
        for name, texts in (errors or {}).items():
            for text in texts:
                self.add(field_ids.get(name, name), text)


@dataclass(frozen=True)
class DateParts:
    day: str
    month: str
    year: str

    @classmethod
    def from_form(cls, form: Mapping[str, str], prefix: str) -> DateParts:
        return cls(
            day=form.get(f"{prefix}-day", "").strip(),
            month=form.get(f"{prefix}-month", "").strip(),
            year=form.get(f"{prefix}-year", "").strip(),
        )

    def items(self, errored: bool = False) -> list[dict[str, str]]:
        """Items for govukDateInput, keeping what the user typed."""
        error_class = " govuk-input--error" if errored else ""
        return [
            {"name": "day", "classes": "govuk-input--width-2" + error_class, "value": self.day},
            {"name": "month", "classes": "govuk-input--width-2" + error_class, "value": self.month},
            {"name": "year", "classes": "govuk-input--width-4" + error_class, "value": self.year},
        ]


def parse_date(parts: DateParts, what: str) -> tuple[date | None, str | None]:
    """The date the parts describe, or a GOV.UK-style error message naming `what` (e.g. 'the training date')."""
    if not (parts.day or parts.month or parts.year):
        return None, f"Enter {what}"
    missing = [name for name in ("day", "month", "year") if not getattr(parts, name)]
    if missing:
        return None, f"{what[0].upper()}{what[1:]} must include a {' and '.join(missing)}"
    if not (parts.day.isdigit() and parts.month.isdigit() and parts.year.isdigit()) or len(parts.year) != 4:
        return None, f"{what[0].upper()}{what[1:]} must be a real date, for example 27 3 2026"
    try:
        return date(int(parts.year), int(parts.month), int(parts.day)), None
    except ValueError:
        return None, f"{what[0].upper()}{what[1:]} must be a real date, for example 27 3 2026"

