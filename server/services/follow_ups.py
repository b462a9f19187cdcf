"""Follow-up actions agreed at a spot check or a conversation review: checked, added, marked done, and listed when
overdue (the dashboard).

A follow-up's text is the manager's own words: it stays on its row and never goes into the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select
from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import FollowUp, User, utcnow
from server.models.follow_ups import ACTION_MAX
from server.services import access, audit
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, InvalidTransition
from server.services.refusals import refuse

MAX_FOLLOW_UPS = 5
LATEST_DUE = 366  # days ahead: a follow-up is for the coming months, not "some day"


@dataclass(frozen=True)
class FollowUpDraft:
    action: str
    due_on: date


def check_drafts(drafts: Sequence[tuple[str, date | None, str | None]], today: date,
                 field: str = "follow_ups") -> list[FollowUpDraft]:
    """(action, due date or None, the date's own problem or None) rows from a form -> drafts, or InvalidInput
    naming the row ("follow_ups.0.action"). Rows with neither an action nor a date are skipped."""
    errors: dict[str, list[str]] = {}
    checked: list[FollowUpDraft] = []
    for index, (action, due_on, date_problem) in enumerate(drafts):
        action = (action or "").strip()
        if not action and due_on is None and date_problem is None:
            continue
        if not action:
            errors.setdefault(f"{field}.{index}.action", []).append("Enter what needs to be done")
        elif len(action) > ACTION_MAX:
            errors.setdefault(f"{field}.{index}.action", []).append(f"Keep the action under {ACTION_MAX} characters")
        if date_problem is not None:
            errors.setdefault(f"{field}.{index}.due", []).append(date_problem)
        elif due_on is None:
            errors.setdefault(f"{field}.{index}.due", []).append("Enter the date it is due by")
        elif due_on < today:
            errors.setdefault(f"{field}.{index}.due", []).append("The due date must be today or later")
        elif (due_on - today).days > LATEST_DUE:
            errors.setdefault(f"{field}.{index}.due", []).append("The due date must be within a year")
        if action and due_on is not None:
            checked.append(FollowUpDraft(action, due_on))
    if len(checked) > MAX_FOLLOW_UPS:
        errors.setdefault(field, []).append(f"Agree at most {MAX_FOLLOW_UPS} follow-ups at once")
    if errors:
        raise InvalidInput("Check the follow-up actions.", errors=errors)
    return checked


def add_follow_ups(session: Session, actor: Actor, drafts: Sequence[FollowUpDraft], *, team_id: int | None,
                   service_id: int | None, spot_check_id: int | None = None, review_id: int | None = None) -> list[FollowUp]:
    rows = [FollowUp(spot_check_id=spot_check_id, review_id=review_id, team_id=team_id, service_id=service_id,
                     action=draft.action, due_on=draft.due_on, created_by_id=actor.user_id) for draft in drafts]
    session.add_all(rows)
    session.flush()
    for row in rows:
        audit.record(session, actor, "follow_up.agreed", target=row, details={
            "spot_check_id": spot_check_id, "review_id": review_id, "due_on": row.due_on})
    return rows


def mark_done(session: Session, follow_up: FollowUp, actor: Actor) -> FollowUp:
    """Mark `follow_up` done. Two clicks at once (two tabs, two managers): one records it, the other is told."""
    action = "follow_up.done_refused"
    problem = access.follow_up_problem(actor.user, follow_up)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=follow_up)
    follow_up = lock_row(session, follow_up)
    if follow_up.done_at is not None:
        raise refuse(session, actor, action, InvalidTransition(
            f"This follow-up was already marked done at {follow_up.done_at:%H:%M} UTC on {follow_up.done_at:%-d %B %Y}; "
            "nothing was changed."), target=follow_up)
    follow_up.done_at = utcnow()
    follow_up.done_by_id = actor.user_id
    audit.record(session, actor, "follow_up.done", target=follow_up,
                 details={"spot_check_id": follow_up.spot_check_id, "review_id": follow_up.review_id})
    return follow_up


def overdue_query(user: User, today: date) -> Select:
    """Open follow-ups past their date that `user` sees, the longest overdue first."""
    return (access.follow_ups_query(user)
            .where(FollowUp.done_at.is_(None), FollowUp.due_on < today)
            .order_by(FollowUp.due_on, FollowUp.id))
