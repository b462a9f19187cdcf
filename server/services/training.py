"""Data-protection training validity: one setting, one comparison, used by the gate, the sweep and the pages.

Training completed on day D is current from D through D + PHONEGATE_TRAINING_VALID_DAYS (default 365), both
days included: completed exactly 365 days ago is still current today, 366 days ago is not. A date in the future
is never current (the gate refuses it as a typo rather than trusting it).
"""

from __future__ import annotations

from datetime import date, timedelta

from server.settings import current_settings


def valid_days() -> int:
    return current_settings().training_valid_days


def is_current(completed_on: date | None, today: date, days: int) -> bool:
    return completed_on is not None and completed_on <= today <= completed_on + timedelta(days=days)


def training_problem(completed_on: date | None, today: date, days: int) -> str | None:
    """Why this training date cannot be accepted for an approval or re-confirmation; None when it can."""
    if completed_on is None:
        return "Enter the date the data-protection and information-security training was completed."
    if completed_on > today:
        return "The training date is in the future."
    if not is_current(completed_on, today, days):
        return f"The training was completed more than {days} days ago; it must be renewed first."
    return None
