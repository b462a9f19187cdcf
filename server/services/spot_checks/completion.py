"""Completing a spot check: the manager's checklist answers, the outcome, notes and follow-up actions, at once.

An answer "no" is a concern, so the outcome cannot then be "no concerns"; "follow-up" needs at least one follow-up.
Two managers (or two tabs) completing the same spot check at once: the row is locked before its status is read
for the last time, so one completion is recorded and the other is refused, audited, and told by whom and when.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import ANSWERS, SpotCheck, SpotCheckAnswer, SpotCheckOutcome, SpotCheckStatus, utcnow
from server.services import access, audit, follow_ups
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, InvalidTransition
from server.services.refusals import refuse
from server.services.spot_checks.checklist import ITEMS, items_for

NOTES_MAX = 2000


def complete_spot_check(session: Session, spot_check: SpotCheck, actor: Actor, *, answers: Mapping[str, str],
                        outcome: str, notes: str | None, drafts: Sequence[follow_ups.FollowUpDraft],
                        today: date | None = None) -> SpotCheck:
    action = "spot_check.completion_refused"
    problem = access.spot_check_decision_problem(actor.user, spot_check)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=spot_check)
    spot_check = lock_row(session, spot_check)
    if spot_check.status == SpotCheckStatus.COMPLETED.value:
        raise refuse(session, actor, action, InvalidTransition(already_completed(spot_check, actor)), target=spot_check,
                     details={"completed_by_id": spot_check.completed_by_id})
    recorded = _checked_answers(spot_check.role, answers)
    notes = _checked_notes(notes)
    _check_outcome(outcome, recorded, drafts)

    spot_check.answers = [SpotCheckAnswer(item=key, answer=value) for key, value in sorted(recorded.items())]
    spot_check.outcome = outcome
    spot_check.notes = notes
    spot_check.completed_by_id = actor.user_id
    spot_check.completed_at = utcnow()
    spot_check.status = SpotCheckStatus.COMPLETED.value
    session.flush()
    added = follow_ups.add_follow_ups(session, actor, drafts, team_id=spot_check.team_id, service_id=spot_check.service_id,
                                      spot_check_id=spot_check.id)
    audit.record(session, actor, "spot_check.completed", target=spot_check, details={
        "device_id": spot_check.device_id, "outcome": outcome, "answers": recorded,
        "evidence_recorded": spot_check.evidence is not None, "follow_up_ids": [row.id for row in added]})
    return spot_check


def already_completed(spot_check: SpotCheck, actor: Actor) -> str:
    """What the loser of a race is told (no names: the page shows who completed it)."""
    who = " by you (in another tab or window)" if spot_check.completed_by_id == actor.user_id else " by another manager"
    when = spot_check.completed_at
    return (f"This spot check was already completed{who} at {when:%H:%M} UTC on {when:%-d %B %Y}; nothing was changed."
            if when else "This spot check was already completed; nothing was changed.")


def _checked_answers(role: str, answers: Mapping[str, str]) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    recorded: dict[str, str] = {}
    for item in items_for(role):
        value = (answers.get(item.key) or "").strip()
        if value not in ANSWERS:
            errors.setdefault(f"answers.{item.key}", []).append(f"Answer: {item.statement}")
        else:
            recorded[item.key] = value
    for key in answers:
        if key not in ITEMS:
            errors.setdefault(f"answers.{key}", []).append("Not an item of the checklist")
    for item in ITEMS.values():  # items for the other kind of phone are recorded as not applicable, not left out
        if role not in item.roles:
            recorded[item.key] = "not_applicable"
    if errors:
        raise InvalidInput("Answer every question of the checklist.", errors=errors)
    return recorded


def _checked_notes(notes: str | None) -> str | None:
    notes = (notes or "").strip()
    if len(notes) > NOTES_MAX:
        raise InvalidInput("The notes are too long.", errors={"notes": [f"Keep the notes under {NOTES_MAX} characters"]})
    return notes or None


def _check_outcome(outcome: str, recorded: Mapping[str, str], drafts: Sequence[follow_ups.FollowUpDraft]) -> None:
    if outcome not in {item.value for item in SpotCheckOutcome}:
        raise InvalidInput("Choose the outcome of the spot check.", errors={"outcome": ["Choose the outcome"]})
    concerns = [key for key, value in recorded.items() if value == "no"]
    if concerns and outcome == SpotCheckOutcome.NO_CONCERNS.value:
        raise InvalidInput("An answer 'No' is a concern.", errors={"outcome": [
            f"You answered 'No' to {len(concerns)} question(s): choose follow-up actions or an incident, not 'No concerns'"]})
    if outcome == SpotCheckOutcome.FOLLOW_UP.value and not drafts:
        raise InvalidInput("Agree at least one follow-up.", errors={"follow_ups": [
            "Enter at least one follow-up action with its due date"]})
