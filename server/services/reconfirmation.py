"""Re-confirming an acknowledgement after a new policy version (or to renew training), without a new request.

The same checks as an approval (access.reconfirmation_problem, acknowledgements.confirmed_policy and
confirmed_training), but it only records the acknowledgement of the current version (or renews its training
date): the holder's approved and provisioned phones keep working and stop being "re-acknowledgement due".

Two re-confirmations of one person at once: the staff member's row is locked first (database.lock_row), so the
second waits, then finds the first one's acknowledgement and is refused, and audited, unless it brings a later
training date (which renews it).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import HOLDS_APPROVAL, Acknowledgement, Device, StaffMember, utcnow
from server.services import access, acknowledgements, audit
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden, PolicyRefused
from server.services.refusals import refuse


def reacknowledge(
    session: Session,
    staff: StaffMember,
    actor: Actor,
    *,
    policy_sha256: str,
    acknowledged: bool,
    training_completed_on: date | None,
    today: date | None = None,
) -> Acknowledgement:
    """Record that `staff` has read the CURRENT policy version and has current training; no phone changes state."""
    action = "acknowledgement.reconfirmation_refused"
    problem = access.reconfirmation_problem(actor.user, staff)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=staff)
    staff = lock_row(session, staff)
    if not staff.active:
        raise refuse(session, actor, action, PolicyRefused("The staff member is no longer active."), target=staff)
    policy = acknowledgements.confirmed_policy(session, actor, action, staff, policy_sha256=policy_sha256,
                                               acknowledged=acknowledged)
    training_completed_on = acknowledgements.confirmed_training(session, actor, action, staff, training_completed_on,
                                                                today or utcnow().date())
    existing = acknowledgements.acknowledgement_of(session, staff, policy)
    if existing is not None and training_completed_on <= existing.training_completed_on:
        by = "you" if existing.confirmed_by_id == actor.user_id else "another manager"
        raise refuse(session, actor, action, Conflict(
            f"This acknowledgement of version {policy.label} was already confirmed by {by} at "
            f"{existing.confirmed_at:%H:%M} UTC on {existing.confirmed_at:%-d %B %Y}, with training completed "
            f"{existing.training_completed_on:%-d %B %Y}; nothing was changed."
        ), target=staff, details={"acknowledgement_id": existing.id})

    ack = acknowledgements.record_acknowledgement(session, staff, policy, actor, training_completed_on)
    phones = list(session.scalars(select(Device.id).where(
        Device.staff_member_id == staff.id, Device.state.in_(HOLDS_APPROVAL))))
    audit.record(session, actor, "acknowledgement.reconfirmed", target=ack, details={
        "staff_member_id": staff.id, "policy_version_id": policy.id, "device_ids": phones,
        "training_completed_on": training_completed_on.isoformat(),
    })
    return ack
