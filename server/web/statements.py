"""What a manager states before a phone gets the app (or keeps it under a new policy version): the one set of
first-person statements on the decision page and on the re-confirmation page, and the one way they are checked.

The statements are the acceptable-use paper's: the manager has made sure the staff member knows the current
policy, and that their data-protection training is current. The training date on record is shown pre-filled, but
the manager still confirms it: a date typed in by someone else months ago is not a manager's check.
"""

from __future__ import annotations

from datetime import date

from server.models import StaffMember, utcnow
from server.services import training
from server.web.forms import DateParts, FormErrors, parse_date


def training_on_record(staff: StaffMember | None, form) -> DateParts:
    """What the date field shows: what the manager typed, else the date on record (still to be confirmed)."""
    typed = DateParts.from_form(form, "training")
    recorded = staff.training_completed_on if staff is not None else None
    if typed.day or typed.month or typed.year or recorded is None or form:
        return typed
    return DateParts(day=str(recorded.day), month=str(recorded.month), year=str(recorded.year))


def check_statements(form, errors: FormErrors, staff: StaffMember | None) -> date | None:
    """Add an error for each statement not made; the training date when a staff member's training was confirmed."""
    if form.get("acknowledged") != "yes":
        errors.add("acknowledged", "Confirm that the staff member has read and acknowledged the current policy"
                   if staff is not None else "Confirm that the current policy has been read and acknowledged")
    if staff is None:
        return None
    if form.get("training_confirmed") != "yes":
        errors.add("training_confirmed", "Confirm that the staff member completed their training on the date given")
    training_on, problem = parse_date(DateParts.from_form(form, "training"), "the training completion date")
    if problem is None:
        problem = training.training_problem(training_on, utcnow().date(), training.valid_days())
    if problem is not None:
        errors.add("training", problem)
        return None
    return training_on
