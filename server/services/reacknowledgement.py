"""Which approved phones are "re-acknowledgement due": their holder has not acknowledged the current policy
version, or their training is no longer current (training.py); a Broadcast phone: its approval rests on an
earlier version.

Shown as "re-acknowledgement due"; the phone keeps working until the manager re-confirms (reconfirmation.py,
no new enrolment request), but no new install grant is issued for it meanwhile (see grants.issue_grant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import (
    HOLDS_APPROVAL,
    Acknowledgement,
    Device,
    DeviceRole,
    EnrolmentRequest,
    EnrolmentStatus,
    PolicyVersion,
    StaffMember,
    Team,
    utcnow,
)
from server.services import access, training
from server.services.acknowledgements import latest_acknowledgements
from server.services.policy import current_policy


@dataclass(frozen=True)
class ReacknowledgementDue:
    device: Device
    staff_member: StaffMember | None
    reason: str  # "policy" (a newer version is out) or "training" (training no longer current)
    acknowledged_policy_label: str | None


def needs_reacknowledgement(session: Session, team: Team | None = None, *, today: date | None = None) -> list[ReacknowledgementDue]:
    """Every approved phone that is due (with `team`: that team's phones, plus its service's Broadcast phone)."""
    today = today or utcnow().date()
    policy = current_policy(session)
    query = select(Device).where(Device.state.in_(HOLDS_APPROVAL)).order_by(Device.id)
    if team is not None:
        query = query.where(access.team_devices_clause(team))
    devices = list(session.scalars(query))
    approvals = _latest_approvals(session, [device.id for device in devices])
    acks = latest_acknowledgements(session, {d.staff_member_id for d in devices if d.staff_member_id is not None})
    valid_days = training.valid_days()
    due = []
    for device in devices:
        approved = approvals.get(device.id)
        ack = acks.get(device.staff_member_id) if device.staff_member_id is not None else None
        reason = _reason(device, approved, ack, policy, today, valid_days)
        if reason is not None:
            due.append(ReacknowledgementDue(device, device.staff_member, reason, _confirmed_label(approved, ack)))
    return due


def reacknowledgement_due(session: Session, device: Device, *, today: date | None = None) -> str | None:
    """"policy", "training" or None for one phone (what the provisioning API reports)."""
    if device.state not in HOLDS_APPROVAL:
        return None
    acks = latest_acknowledgements(session, {device.staff_member_id} if device.staff_member_id is not None else set())
    return _reason(device, latest_approved_request(session, device), acks.get(device.staff_member_id),
                   current_policy(session), today or utcnow().date(), training.valid_days())


def _reason(device: Device, approved: EnrolmentRequest | None, ack: Acknowledgement | None,
            policy: PolicyVersion | None, today: date, valid_days: int) -> str | None:
    """`ack` is the holder's newest acknowledgement: what they last confirmed, by approval or re-confirmation."""
    if device.role == DeviceRole.INDIVIDUAL.value and device.staff_member_id is not None:
        if policy is not None and (ack is None or ack.policy_version_id != policy.id):
            return "policy"
        ack = ack or (approved.acknowledgement if approved else None)
        if ack is not None and not training.is_current(ack.training_completed_on, today, valid_days):
            return "training"
        return None
    # A Broadcast phone has no holder to acknowledge: its approval is what confirmed the policy.
    if policy is not None and (approved is None or approved.policy_version_id != policy.id):
        return "policy"
    return None


def _confirmed_label(approved: EnrolmentRequest | None, ack: Acknowledgement | None) -> str | None:
    if ack is not None:
        return ack.policy_version.label
    return approved.policy_version.label if approved and approved.policy_version else None


def _latest_approvals(session: Session, device_ids: list[int]) -> dict[int, EnrolmentRequest]:
    """Each device's latest approved request, in one query per 500 phones (a team page lists many)."""
    latest: dict[int, EnrolmentRequest] = {}
    for chunk_start in range(0, len(device_ids), 500):
        chunk = device_ids[chunk_start:chunk_start + 500]
        for request in session.scalars(
            select(EnrolmentRequest)
            .where(EnrolmentRequest.device_id.in_(chunk), EnrolmentRequest.status == EnrolmentStatus.APPROVED.value)
            .order_by(EnrolmentRequest.decided_at, EnrolmentRequest.id)
        ):
            latest[request.device_id] = request  # ascending order: the last one seen is the latest
    return latest


def latest_approved_request(session: Session, device: Device) -> EnrolmentRequest | None:
    return session.scalar(
        select(EnrolmentRequest)
        .where(EnrolmentRequest.device_id == device.id, EnrolmentRequest.status == EnrolmentStatus.APPROVED.value)
        .order_by(EnrolmentRequest.decided_at.desc(), EnrolmentRequest.id.desc())
        .limit(1)
    )
