"""Acknowledgements of the acceptable-use policy: what a manager confirms, and the record it leaves.

Approving an enrolment (decisions.py) and re-confirming after a new policy version (reconfirmation.py) ask the
manager the same things: the box ticked, the CURRENT policy version (confirmed against its text's SHA-256, so a
page left open across a new publication cannot confirm old text) and a current training date. The checks and
the record live here, once.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Acknowledgement, PolicyVersion, StaffMember, utcnow
from server.services import audit, training
from server.services.actor import Actor
from server.services.errors import InvalidInput, PolicyRefused
from server.services.policy import current_policy
from server.services.refusals import refuse

ACKNOWLEDGED_MESSAGE = "Confirm that the staff member has read and acknowledged the current policy."


def confirmed_policy(session: Session, actor: Actor, action: str, target: Any, *, policy_sha256: str,
                     acknowledged: bool) -> PolicyVersion:
    """The current policy version, if the manager ticked the box and confirmed exactly its text; else refused."""
    if not acknowledged:
        raise refuse(session, actor, action, InvalidInput(
            "Confirm that the acceptable-use policy was read and acknowledged.",
            errors={"acknowledged": [ACKNOWLEDGED_MESSAGE]},
        ), target=target)
    policy = current_policy(session)
    if policy is None:
        raise refuse(session, actor, action, PolicyRefused("No acceptable-use policy has been published yet."), target=target)
    if (policy_sha256 or "").strip().lower() != policy.sha256:
        raise refuse(session, actor, action, PolicyRefused(
            f"The policy you confirmed is not the current version ({policy.label}); reload the page and read it again."
        ), target=target, details={"current_policy_id": policy.id})
    return policy


def confirmed_training(session: Session, actor: Actor, action: str, target: Any, completed_on: date | None,
                       today: date) -> date:
    """The training date, if it is current (training.py says what current means); else refused."""
    problem = training.training_problem(completed_on, today, training.valid_days())
    if problem is not None:
        raise refuse(session, actor, action, InvalidInput(problem, errors={"training_completed_on": [problem]}), target=target)
    assert completed_on is not None
    return completed_on


def record_acknowledgement(session: Session, staff: StaffMember, policy: PolicyVersion, actor: Actor,
                           training_completed_on: date) -> Acknowledgement:
    """Create the acknowledgement, or renew the one for this person and version (one per pair, by constraint)."""
    ack = acknowledgement_of(session, staff, policy)
    if ack is None:
        ack = Acknowledgement(staff_member_id=staff.id, policy_version_id=policy.id, confirmed_by_id=actor.user.id,
                              training_completed_on=training_completed_on)
        session.add(ack)
        session.flush()
        audit.record(session, actor, "acknowledgement.recorded", target=ack,
                     details={"staff_member_id": staff.id, "policy_version_id": policy.id})
    elif training_completed_on > ack.training_completed_on:
        ack.training_completed_on = training_completed_on
        ack.confirmed_by_id = actor.user.id
        ack.confirmed_at = utcnow()
        audit.record(session, actor, "acknowledgement.renewed", target=ack,
                     details={"staff_member_id": staff.id, "policy_version_id": policy.id})
    if staff.training_completed_on is None or training_completed_on > staff.training_completed_on:
        staff.training_completed_on = training_completed_on
    return ack


def acknowledgement_of(session: Session, staff: StaffMember, policy: PolicyVersion) -> Acknowledgement | None:
    return session.scalar(select(Acknowledgement).where(
        Acknowledgement.staff_member_id == staff.id, Acknowledgement.policy_version_id == policy.id))


def latest_acknowledgements(session: Session, staff_ids: set[int]) -> dict[int, Acknowledgement]:
    """Each staff member's acknowledgement of the newest version they acknowledged (one query per 500 people)."""
    latest: dict[int, Acknowledgement] = {}
    ids = sorted(staff_ids)
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        for ack in session.scalars(
            select(Acknowledgement).join(PolicyVersion, PolicyVersion.id == Acknowledgement.policy_version_id)
            .where(Acknowledgement.staff_member_id.in_(chunk))
            .order_by(PolicyVersion.published_at, PolicyVersion.id)
        ):
            latest[ack.staff_member_id] = ack  # ascending order: the last one seen is the newest version
    return latest
