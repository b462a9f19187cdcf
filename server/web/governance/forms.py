"""Form pieces the governance pages share: follow-up rows, and service error names mapped to the fields' ids."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from server.services import follow_ups
from server.services.errors import InvalidInput
from server.web.forms import DateParts, FormErrors, parse_date

FOLLOW_UP_ROWS = 3


def follow_up_rows(form: Mapping[str, str]) -> list[tuple[str, date | None, str | None]]:
    """The follow-up rows as typed: (action, due date, the date's problem); an untouched date is (None, None)."""
    rows = []
    for index in range(FOLLOW_UP_ROWS):
        parts = DateParts.from_form(form, f"follow_up-{index}-due")
        due_on, problem = (None, None) if not (parts.day or parts.month or parts.year) else parse_date(parts, "the due date")
        rows.append((form.get(f"follow_up-{index}-action", ""), due_on, problem))
    return rows


def follow_up_drafts(form: Mapping[str, str], today: date, errors: FormErrors) -> list[follow_ups.FollowUpDraft]:
    try:
        return follow_ups.check_drafts(follow_up_rows(form), today)
    except InvalidInput as exc:
        add_service_errors(errors, exc.errors)
        return []


def field_id(name: str) -> str:
    """A service's error name -> the id of the field on the page ("follow_ups.0.due" -> "follow_up-0-due")."""
    if name.startswith("answers."):
        return "answer-" + name.split(".", 1)[1]
    if name.startswith("follow_ups."):
        return "follow_up-" + name.split(".", 1)[1].replace(".", "-")
    if name == "follow_ups":
        return "follow_up-0-action"
    if name == "device":
        return "phone"  # the incident form names its phone in the "phone" field
    return name.replace("_", "-")


def add_service_errors(errors: FormErrors, service_errors: Mapping[str, list[str]] | None) -> None:
    for name, texts in (service_errors or {}).items():
        for text in texts:
            errors.add(field_id(name), text)


def follow_up_items(form: Mapping[str, str], index: int, errors: FormErrors) -> list[dict[str, str]]:
    return DateParts.from_form(form, f"follow_up-{index}-due").items(
        errored=errors.message(f"follow_up-{index}-due") is not None)
