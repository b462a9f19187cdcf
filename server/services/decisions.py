"""A manager's decision on an enrolment request: the gate itself.

Approval is the only way a phone reaches "approved", and it records what the acceptable-use paper asks of a
team manager before the app goes on: the staff member has read the CURRENT policy version and their
data-protection and information-security training is current (acknowledgements.py), and nothing the phone last
reported blocks it (precheck.py: rooted, test keys, unlocked bootloader, ...). Who may decide is
access.py's rule. Every refusal is audited on its own transaction (refusals.py) so attempts survive the rollback.

Two decisions on one request at once (two managers, or one manager in two tabs): the request's row is locked
before its status is read for the last time (database.lock_row), so exactly one decision wins and the other is
refused, and audited, with when it was decided and by whom.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import DeviceRole, DeviceState, EnrolmentRequest, EnrolmentStatus, StaffMember, utcnow
from server.services import access, acknowledgements, audit, lifecycle, precheck
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, InvalidTransition, PolicyRefused
from server.services.refusals import refuse

REASON_MAX = 1000


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
    from server.services import broadcast  # local: broadcast imports this module's neighbours

    action = "enrolment.approval_refused"
    _check_decider(session, request, actor, action)
    request = _lock_pending(session, request, actor, action)
    # First of the rules: whatever else the form says, a phone that fails a blocking rule is not approved.
    precheck.refuse_if_blocked(session, request, actor, action)
    today = today or utcnow().date()
    if handover and request.role == DeviceRole.BROADCAST.value:
        try:
            handover_reason = broadcast.clean_reason(handover_reason or "")
        except InvalidInput as exc:
            raise InvalidInput("Give the reason for handing the Broadcast role over.",
                               errors={"handover_reason": exc.errors.get("reason", [exc.message])}) from None

    policy = acknowledgements.confirmed_policy(session, actor, action, request, policy_sha256=policy_sha256,
                                               acknowledged=acknowledged)
    staff: StaffMember | None = None
    if request.role == DeviceRole.INDIVIDUAL.value:
        staff = request.staff_member
        if staff is None or not staff.active:
            raise refuse(session, actor, action, PolicyRefused("The staff member is no longer active."), target=request)
        training_completed_on = acknowledgements.confirmed_training(session, actor, action, request,
                                                                    training_completed_on, today)

    device = request.device
    if device.state != DeviceState.PENDING_APPROVAL.value:
        raise refuse(session, actor, action, InvalidTransition(
            f"The phone is {device.state.replace('_', ' ')}, not waiting for approval."
        ), target=request)

    if request.role == DeviceRole.BROADCAST.value:
        broadcast.ensure_designated_for_approval(session, request, actor, handover=handover, reason=handover_reason)

    acknowledgement = None
    if staff is not None:
        acknowledgement = acknowledgements.record_acknowledgement(session, staff, policy, actor, training_completed_on)

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
    request = _lock_pending(session, request, actor, action)
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


def _check_decider(session: Session, request: EnrolmentRequest, actor: Actor, action: str) -> None:
    problem = access.enrolment_decision_problem(actor.user, request)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=request)


def _lock_pending(session: Session, request: EnrolmentRequest, actor: Actor, action: str) -> EnrolmentRequest:
    """Lock the request and make sure it is still pending: the locked, freshly read request."""
    request = lock_row(session, request)
    if request.status != EnrolmentStatus.PENDING.value:
        raise refuse(session, actor, action, InvalidTransition(already_decided(request, actor)), target=request,
                     details={"status": request.status, "decided_by_id": request.decided_by_id})
    return request


def already_decided(request: EnrolmentRequest, actor: Actor) -> str:
    """What the loser of a race is told. No names (messages reach logs): the page shows who decided."""
    if request.decided_by_id is not None and request.decided_by_id == actor.user_id:
        who = " by you (in another tab or window)"
    elif request.decided_by_id is not None:
        who = " by another manager"
    else:
        who = ""
    when = f" at {request.decided_at:%H:%M} UTC on {request.decided_at:%-d %B %Y}" if request.decided_at else ""
    return f"This request was already {request.status}{who}{when}; nothing was changed."


def _bind_device(device, request: EnrolmentRequest) -> None:
    """The approved request says who holds the phone; the device row follows it."""
    device.role = request.role
    device.staff_member_id = request.staff_member_id
    device.team_id = request.team_id
    device.service_id = request.service_id
