"""A manager's decision on an enrolment request: the gate itself.

Approval is the only way a phone reaches "approved", and it records what the acceptable-use paper asks of a
team manager before the app goes on: the staff member has read the CURRENT policy version (the manager confirms
against the text's SHA-256, so a page left open across a new publication cannot approve against old text) and
their data-protection and information-security training is complete and current. Every refusal is audited on
its own transaction (see refusals.py) so attempts survive the rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from server.models import (
    Acknowledgement,
    Device,
    DeviceRole,
    DeviceState,
    EnrolmentRequest,
    EnrolmentStatus,
    PolicyVersion,
    Role,
    StaffMember,
    Team,
    utcnow,
)
from server.services import audit, lifecycle
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, InvalidTransition, PolicyRefused
from server.services.policy import current_policy
from server.services.refusals import refuse

REASON_MAX = 1000
DEFAULT_TRAINING_VALID_DAYS = 365


def training_valid_days() -> int:
    """From settings (PHONEGATE_TRAINING_VALID_DAYS); 365 outside an application context."""
    try:
        from server.settings import current_settings

        return int(getattr(current_settings(), "training_valid_days", DEFAULT_TRAINING_VALID_DAYS))
    except RuntimeError:  # no application context (plain scripts)
        return DEFAULT_TRAINING_VALID_DAYS


def can_decide(user, request: EnrolmentRequest) -> bool:
    """Whether `user` may decide `request` at all (the web page uses this to show or hide the buttons)."""
    return _decider_problem(user, request) is None


def _decider_problem(user, request: EnrolmentRequest) -> str | None:
    if user is None or not user.active:
        return "Only a signed-in manager can decide enrolment requests."
    if user.role != Role.MANAGER.value:
        return "Only a team manager can decide enrolment requests (IT, auditors and administrators cannot)."
    if user.id == request.requested_by_id:
        return "You made this request, so someone else must decide it."
    if request.role == DeviceRole.BROADCAST.value:
        team = user.team
        if team is None or team.service_id != request.service_id:
            return "Only a manager of a team in this service can decide its Broadcast phone."
    elif user.team_id is None or user.team_id != request.team_id:
        return "You can decide requests for your own team only."
    return None


def _check_decider(session: Session, request: EnrolmentRequest, actor: Actor, action: str) -> None:
    problem = _decider_problem(actor.user, request)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=request)
    if request.status != EnrolmentStatus.PENDING.value:
        raise refuse(
            session, actor, action,
            InvalidTransition(f"This request was already {request.status}; nothing was changed."),
            target=request,
        )


def approve_enrolment(
    session: Session,
    request: EnrolmentRequest,
    actor: Actor,
    *,
    policy_sha256: str,
    acknowledged: bool,
    training_completed_on: date | None = None,
    today: date | None = None,
    handover: bool = False,
    handover_reason: str | None = None,
) -> EnrolmentRequest:
    """Approve `request`; the device becomes "approved". Raises Forbidden/PolicyRefused/InvalidInput otherwise.

    For an individual phone `training_completed_on` is required; for a Broadcast phone (no holder) the manager
    confirms the current policy only, and the phone becomes the service's one Broadcast phone. If the service
    already has an active Broadcast phone, approval is refused unless `handover` is set with a reason: then the
    old designation ends and the old phone is suspended in this same transaction
    (broadcast.ensure_designated_for_approval).
    """
    action = "enrolment.approval_refused"
    _check_decider(session, request, actor, action)
    today = today or utcnow().date()
    if handover and request.role == DeviceRole.BROADCAST.value:
        from server.services import broadcast  # local: broadcast uses this module's decider rules

        try:
            handover_reason = broadcast.clean_reason(handover_reason or "")
        except InvalidInput as exc:
            raise InvalidInput("Give the reason for handing the Broadcast role over.",
                               errors={"handover_reason": exc.errors.get("reason", [exc.message])}) from None

    if not acknowledged:
        raise refuse(session, actor, action, InvalidInput(
            "Confirm that the acceptable-use policy was read and acknowledged.",
            errors={"acknowledged": ["Confirm that the staff member has read and acknowledged the current policy."]},
        ), target=request)

    policy = current_policy(session)
    if policy is None:
        raise refuse(session, actor, action, PolicyRefused("No acceptable-use policy has been published yet."), target=request)
    if (policy_sha256 or "").strip().lower() != policy.sha256:
        raise refuse(session, actor, action, PolicyRefused(
            f"The policy you confirmed is not the current version ({policy.label}); reload the page and read it again."
        ), target=request, details={"current_policy_id": policy.id})

    staff: StaffMember | None = None
    if request.role == DeviceRole.INDIVIDUAL.value:
        staff = request.staff_member
        if staff is None or not staff.active:
            raise refuse(session, actor, action, PolicyRefused("The staff member is no longer active."), target=request)
        problem = training_problem(training_completed_on, today)
        if problem is not None:
            raise refuse(session, actor, action, InvalidInput(problem, errors={"training_completed_on": [problem]}), target=request)

    device = request.device
    if device.state != DeviceState.PENDING_APPROVAL.value:
        raise refuse(session, actor, action, InvalidTransition(
            f"The phone is {device.state.replace('_', ' ')}, not waiting for approval."
        ), target=request)

    if request.role == DeviceRole.BROADCAST.value:
        from server.services import broadcast  # local: broadcast uses this module's decider rules

        broadcast.ensure_designated_for_approval(session, request, actor, handover=handover, reason=handover_reason)

    acknowledgement = None
    if staff is not None:
        acknowledgement = _acknowledge(session, staff, policy, actor, training_completed_on)

    request.status = EnrolmentStatus.APPROVED.value
    request.decided_by_id = actor.user.id
    request.decided_at = utcnow()
    request.policy_version_id = policy.id
    request.acknowledgement_id = acknowledgement.id if acknowledgement else None
    _bind_device(device, request)
    lifecycle.transition(session, device, DeviceState.APPROVED, actor, reason=f"enrolment request {request.id} approved")
    audit.record(session, actor, "enrolment.approved", target=request, details={
        "device_id": device.id,
        "policy_version_id": policy.id,
        "acknowledgement_id": acknowledgement.id if acknowledgement else None,
        "training_completed_on": training_completed_on.isoformat() if training_completed_on else None,
        "role": request.role,
        "handover": bool(handover and request.role == DeviceRole.BROADCAST.value),
    })
    return request


def reject_enrolment(session: Session, request: EnrolmentRequest, actor: Actor, *, reason: str) -> EnrolmentRequest:
    action = "enrolment.rejection_refused"
    _check_decider(session, request, actor, action)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason for the rejection.", errors={"reason": ["Say why, so IT and the staff member know what to do."]})
    if len(reason) > REASON_MAX:
        raise InvalidInput("The reason is too long.", errors={"reason": [f"Keep it under {REASON_MAX} characters."]})
    request.status = EnrolmentStatus.REJECTED.value
    request.decided_by_id = actor.user.id
    request.decided_at = utcnow()
    request.decision_reason = reason
    device = request.device
    if device.state == DeviceState.PENDING_APPROVAL.value:
        lifecycle.transition(session, device, DeviceState.REJECTED, actor, reason=f"enrolment request {request.id} rejected")
    # The reason is free text a manager typed: it may name people, so it stays on the request, not in the audit log.
    audit.record(session, actor, "enrolment.rejected", target=request, details={"device_id": device.id})
    return request


def can_reacknowledge(user, staff: StaffMember) -> bool:
    """Whether `user` may re-confirm `staff`'s acknowledgement (the web pages show or hide the form with it)."""
    return _reacknowledger_problem(user, staff) is None


def _reacknowledger_problem(user, staff: StaffMember) -> str | None:
    if user is None or not user.active:
        return "Only a signed-in manager can re-confirm an acknowledgement."
    if user.role != Role.MANAGER.value:
        return "Only a team manager can re-confirm an acknowledgement (IT, auditors and administrators cannot)."
    if user.team_id is None or user.team_id != staff.team_id:
        return "You can re-confirm acknowledgements for your own team only."
    return None


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
    """Record that `staff` has read the CURRENT policy version and has current training; no phone changes state.

    The same checks as approval (manager of the staff member's team, the current text's SHA-256, the box, a
    valid training date), but it only adds the acknowledgement for the current version (or renews its training
    date): the holder's approved and provisioned phones keep working and stop being "re-acknowledgement due".
    """
    action = "acknowledgement.reconfirmation_refused"
    problem = _reacknowledger_problem(actor.user, staff)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=staff)
    if not staff.active:
        raise refuse(session, actor, action, PolicyRefused("The staff member is no longer active."), target=staff)
    if not acknowledged:
        raise refuse(session, actor, action, InvalidInput(
            "Confirm that the acceptable-use policy was read and acknowledged.",
            errors={"acknowledged": ["Confirm that the staff member has read and acknowledged the current policy."]},
        ), target=staff)
    policy = current_policy(session)
    if policy is None:
        raise refuse(session, actor, action, PolicyRefused("No acceptable-use policy has been published yet."), target=staff)
    if (policy_sha256 or "").strip().lower() != policy.sha256:
        raise refuse(session, actor, action, PolicyRefused(
            f"The policy you confirmed is not the current version ({policy.label}); reload the page and read it again."
        ), target=staff, details={"current_policy_id": policy.id})
    problem = training_problem(training_completed_on, today or utcnow().date())
    if problem is not None:
        raise refuse(session, actor, action, InvalidInput(problem, errors={"training_completed_on": [problem]}), target=staff)

    ack = _acknowledge(session, staff, policy, actor, training_completed_on)
    phones = list(session.scalars(select(Device.id).where(
        Device.staff_member_id == staff.id, Device.state.in_((DeviceState.APPROVED.value, DeviceState.PROVISIONED.value)))))
    audit.record(session, actor, "acknowledgement.reconfirmed", target=ack, details={
        "staff_member_id": staff.id, "policy_version_id": policy.id, "device_ids": phones,
        "training_completed_on": training_completed_on.isoformat(),
    })
    return ack


def training_problem(completed_on: date | None, today: date) -> str | None:
    if completed_on is None:
        return "Enter the date the data-protection and information-security training was completed."
    if completed_on > today:
        return "The training date is in the future."
    valid_days = training_valid_days()
    if completed_on < today - timedelta(days=valid_days):
        return f"The training was completed more than {valid_days} days ago; it must be renewed first."
    return None


def _acknowledge(session: Session, staff: StaffMember, policy: PolicyVersion, actor: Actor, training: date) -> Acknowledgement:
    """Create the acknowledgement, or reuse the one for this person and version (one per pair, by constraint)."""
    ack = session.scalar(
        select(Acknowledgement).where(Acknowledgement.staff_member_id == staff.id, Acknowledgement.policy_version_id == policy.id)
    )
    if ack is None:
        ack = Acknowledgement(staff_member_id=staff.id, policy_version_id=policy.id, confirmed_by_id=actor.user.id,
                              training_completed_on=training)
        session.add(ack)
        session.flush()
        audit.record(session, actor, "acknowledgement.recorded", target=ack,
                     details={"staff_member_id": staff.id, "policy_version_id": policy.id})
    elif training > ack.training_completed_on:
        ack.training_completed_on = training
        ack.confirmed_by_id = actor.user.id
        ack.confirmed_at = utcnow()
        audit.record(session, actor, "acknowledgement.renewed", target=ack,
                     details={"staff_member_id": staff.id, "policy_version_id": policy.id})
    if staff.training_completed_on is None or training > staff.training_completed_on:
        staff.training_completed_on = training
    return ack


def _bind_device(device: Device, request: EnrolmentRequest) -> None:
    """The approved request says who holds the phone; the device row follows it."""
    device.role = request.role
    device.staff_member_id = request.staff_member_id
    device.team_id = request.team_id
    device.service_id = request.service_id


@dataclass(frozen=True)
class ReacknowledgementDue:
    device: Device
    staff_member: StaffMember | None
    reason: str  # "policy" (a newer version is out) or "training" (training older than the validity period)
    acknowledged_policy_label: str | None


def needs_reacknowledgement(session: Session, team: Team | None = None, *, today: date | None = None) -> list[ReacknowledgementDue]:
    """Phones with the app approved whose holder has not acknowledged the current policy version, or whose training
    has expired (a Broadcast phone: whose approval rests on an earlier version).

    Shown as "re-acknowledgement due"; the phone keeps working until the manager re-confirms (`reacknowledge`,
    no new enrolment request), but no new install grant is issued for it meanwhile (see grants.issue_grant).
    With `team`: that team's phones, plus the Broadcast phone of the team's service (its managers decide for it).
    """
    today = today or utcnow().date()
    policy = current_policy(session)
    active_states = (DeviceState.APPROVED.value, DeviceState.PROVISIONED.value)
    query = select(Device).where(Device.state.in_(active_states)).order_by(Device.id)
    if team is not None:
        query = query.where(or_(Device.team_id == team.id,
                                and_(Device.role == DeviceRole.BROADCAST.value, Device.service_id == team.service_id)))
    devices = list(session.scalars(query))
    approvals = _latest_approvals(session, [device.id for device in devices])
    acks = _latest_acknowledgements(session, {d.staff_member_id for d in devices if d.staff_member_id is not None})
    due = []
    for device in devices:
        approved = approvals.get(device.id)
        ack = acks.get(device.staff_member_id) if device.staff_member_id is not None else None
        reason = _reacknowledgement_reason(device, approved, ack, policy, today)
        if reason is not None:
            due.append(ReacknowledgementDue(device, device.staff_member, reason, _confirmed_label(device, approved, ack)))
    return due


def reacknowledgement_due(session: Session, device: Device, *, today: date | None = None) -> str | None:
    """"policy", "training" or None for one phone (what the provisioning API reports)."""
    if device.state not in (DeviceState.APPROVED.value, DeviceState.PROVISIONED.value):
        return None
    acks = _latest_acknowledgements(session, {device.staff_member_id} if device.staff_member_id is not None else set())
    return _reacknowledgement_reason(device, latest_approved_request(session, device), acks.get(device.staff_member_id),
                                     current_policy(session), today or utcnow().date())


def _reacknowledgement_reason(device: Device, approved: EnrolmentRequest | None, ack: Acknowledgement | None,
                              policy: PolicyVersion | None, today: date) -> str | None:
    """`ack` is the holder's newest acknowledgement: what they last confirmed, by approval or re-confirmation."""
    if device.role == DeviceRole.INDIVIDUAL.value and device.staff_member_id is not None:
        if policy is not None and (ack is None or ack.policy_version_id != policy.id):
            return "policy"
        ack = ack or (approved.acknowledgement if approved else None)
        if ack is not None and ack.training_completed_on < today - timedelta(days=training_valid_days()):
            return "training"
        return None
    # A Broadcast phone has no holder to acknowledge: its approval is what confirmed the policy.
    if policy is not None and (approved is None or approved.policy_version_id != policy.id):
        return "policy"
    return None


def _confirmed_label(device: Device, approved: EnrolmentRequest | None, ack: Acknowledgement | None) -> str | None:
    if ack is not None:
        return ack.policy_version.label
    return approved.policy_version.label if approved and approved.policy_version else None


def _latest_acknowledgements(session: Session, staff_ids: set[int]) -> dict[int, Acknowledgement]:
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


def _latest_approvals(session: Session, device_ids: list[int]) -> dict[int, EnrolmentRequest]:
    """Each device's latest approved request, in one query (a team page lists many phones)."""
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
