"""Conversation reviews: the record that a manager reviewed a WhatsApp chat export, and its outcome.

The paper: managers "monitor content of conversations for Information Governance concerns, i.e. that no personal
data is sent by staff to service users" and "can request to review individual WhatsApp conversations at any
time". The export is scanned in memory by the caller (phonegate.core.chat); only this record is kept: the counts
of findings by kind, who reviewed, whose conversation, the outcome, the notes and follow-ups. Never the file, its
text or the findings. Making a transcript for the case record is audited too (who, how many messages), and the
transcript itself is not kept either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import ConversationReview, Device, ReviewOutcome, StaffMember, utcnow
from server.services import access, audit, follow_ups
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, InvalidTransition
from server.services.refusals import refuse

OUTCOME_LABELS = {
    ReviewOutcome.NO_CONCERNS.value: "No concerns",
    ReviewOutcome.DISCUSSED.value: "Concerns discussed with the staff member, follow-up agreed",
    ReviewOutcome.INCIDENT.value: "Serious concern: an information incident is reported",
}
NOTES_MAX = 2000


def record_review(session: Session, actor: Actor, *, messages: int, counts: Mapping[str, int],
                  staff: StaffMember | None = None, device: Device | None = None) -> ConversationReview:
    """Record that `actor` reviewed an export of `messages` messages with these counts of findings by kind."""
    action = "conversation.review_refused"
    problem = access.review_problem(actor.user) or _subject_problem(session, actor, staff, device)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem))
    review = ConversationReview(team_id=actor.user.team_id, reviewed_by_id=actor.user_id,
                                staff_member_id=staff.id if staff else None, device_id=device.id if device else None,
                                messages=messages, findings=sum(counts.values()), counts=json.dumps(dict(counts), sort_keys=True))
    session.add(review)
    session.flush()
    # Pairs, not a mapping: the audit log refuses keys such as "email" (it reads them as personal data).
    audit.record(session, actor, "conversation.reviewed", target=review, details={
        "messages": messages, "findings": sorted([kind, count] for kind, count in counts.items()),
        "staff_member_id": review.staff_member_id, "device_id": review.device_id})
    return review


def _subject_problem(session: Session, actor: Actor, staff: StaffMember | None, device: Device | None) -> str | None:
    if staff is not None and staff.team_id != actor.user.team_id:
        return "You can review conversations of your own team's staff only."
    if device is not None and not access.can_see_device(session, actor.user, device):
        return "You can review conversations from your own team's phones only."
    return None


def record_outcome(session: Session, review: ConversationReview, actor: Actor, *, outcome: str, notes: str | None,
                   drafts: Sequence[follow_ups.FollowUpDraft], today: date | None = None) -> ConversationReview:
    action = "conversation.outcome_refused"
    problem = access.review_outcome_problem(actor.user, review)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=review)
    review = lock_row(session, review)
    if review.outcome is not None:
        raise refuse(session, actor, action, InvalidTransition(
            f"This review's outcome was already recorded at {review.outcome_at:%H:%M} UTC on {review.outcome_at:%-d %B %Y}; "
            "nothing was changed."), target=review)
    if outcome not in OUTCOME_LABELS:
        raise InvalidInput("Choose the outcome of the review.", errors={"outcome": ["Choose the outcome"]})
    if outcome == ReviewOutcome.DISCUSSED.value and not drafts:
        raise InvalidInput("Agree at least one follow-up.", errors={"follow_ups": [
            "Enter at least one follow-up action with its due date"]})
    notes = (notes or "").strip() or None
    if notes is not None and len(notes) > NOTES_MAX:
        raise InvalidInput("The notes are too long.", errors={"notes": [f"Keep the notes under {NOTES_MAX} characters"]})
    review.outcome = outcome
    review.outcome_at = utcnow()
    review.notes = notes
    added = follow_ups.add_follow_ups(session, actor, drafts, team_id=review.team_id, service_id=None, review_id=review.id)
    audit.record(session, actor, "conversation.review_outcome", target=review,
                 details={"outcome": outcome, "follow_up_ids": [row.id for row in added]})
    return review


def record_transcript(session: Session, actor: Actor, *, messages: int, output_format: str) -> None:
    """Audit that `actor` made a transcript (for the case record); the transcript itself is not kept."""
    problem = access.review_problem(actor.user)
    if problem is not None:
        raise refuse(session, actor, "conversation.transcript_refused", Forbidden(problem))
    audit.record(session, actor, "conversation.transcript_made", target_type="team", target_id=actor.user.team_id,
                 details={"messages": messages, "format": output_format})


def counts_of(review: ConversationReview) -> dict[str, int]:
    try:
        value = json.loads(review.counts or "{}")
    except ValueError:
        return {}
    return {str(kind): int(count) for kind, count in value.items()} if isinstance(value, dict) else {}
