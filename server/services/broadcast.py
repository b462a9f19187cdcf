"""Each service's one Broadcast phone: designation, handover and ending.

The paper allows Broadcast messages only from "a separate work phone that is only to be used for this specific
purpose". The database keeps at most one active designation per service (a partial unique index), so a second
one fails whatever the code does; replacing the phone is an explicit handover that ends the old designation
and starts the new one in one transaction, with a reason, both audited.

Two changes to one service's Broadcast phone at once (two managers handing over, a handover and an approval):
each locks the service's row first (database.lock_row), so the second waits, then reads the designation the
first one left. A handover names the designation its page showed (`expected_designation_id`); if that has
changed in the meantime, the handover is refused (audited, "nothing was changed") instead of handing over again
from a phone the manager never saw. Ending a designation is a conditional UPDATE (... WHERE ended_at IS NULL):
one that another transaction already ended is never ended twice.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.database import lock_row
from server.models import (
    HOLDS_APPROVAL,
    BroadcastDesignation,
    Device,
    DeviceRole,
    DeviceState,
    EnrolmentRequest,
    Service,
    utcnow,
)
from server.services import access, audit, lifecycle
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyRefused
from server.services.refusals import refuse

REASON_MAX = 500


def active_designation(session: Session, service: Service | int) -> BroadcastDesignation | None:
    service_id = service if isinstance(service, int) else service.id
    return session.scalar(
        select(BroadcastDesignation).where(BroadcastDesignation.service_id == service_id, BroadcastDesignation.ended_at.is_(None))
        .execution_options(populate_existing=True)  # after lock_row: what the database holds now, not a cached row
    )


def _check_manager_of_service(session: Session, actor: Actor, service: Service, action: str) -> None:
    problem = access.broadcast_change_problem(actor.user, service)
    if problem is not None:
        raise refuse(session, actor, action, Forbidden(problem), target=service)


def _check_device(session: Session, actor: Actor, service: Service, device: Device, action: str) -> None:
    if device.role != DeviceRole.BROADCAST.value or device.staff_member_id is not None:
        raise refuse(session, actor, action, PolicyRefused("A Broadcast phone must be enrolled for the Broadcast role, with no individual holder."),
                     target=device)
    if device.service_id is not None and device.service_id != service.id:
        raise refuse(session, actor, action, PolicyRefused("That phone belongs to another service."), target=device)
    if device.state in (DeviceState.RETIRED.value, DeviceState.SUSPENDED.value, DeviceState.REJECTED.value):
        raise refuse(session, actor, action, PolicyRefused(f"That phone is {device.state} and cannot become the Broadcast phone."),
                     target=device)


def _start(session: Session, service: Service, device: Device, actor: Actor, action: str) -> BroadcastDesignation:
    designation = BroadcastDesignation(service_id=service.id, device_id=device.id, designated_by_id=actor.user.id if actor.user else None)
    try:
        with session.begin_nested():  # the partial unique index decides races; keep the outer transaction usable
            session.add(designation)
            session.flush()
    except IntegrityError:
        raise refuse(session, actor, action, PolicyRefused(
            "This service already has an active Broadcast phone; hand it over instead of designating a second one."
        ), target=service) from None
    device.service_id = service.id
    audit.record(session, actor, "broadcast.designated", target=designation, details={"service_id": service.id, "device_id": device.id})
    return designation


def designate(session: Session, service: Service, device: Device, actor: Actor) -> BroadcastDesignation:
    """Make `device` the service's Broadcast phone; refused if the service already has one."""
    action = "broadcast.designation_refused"
    _check_manager_of_service(session, actor, service, action)
    service = lock_row(session, service)  # one change to this service's Broadcast phone at a time
    _check_device(session, actor, service, device, action)
    current = active_designation(session, service)
    if current is not None:
        if current.device_id == device.id:
            return current
        raise refuse(session, actor, action, PolicyRefused(
            "This service already has an active Broadcast phone; hand it over instead of designating a second one."
        ), target=service, details={"active_designation_id": current.id, "device_id": device.id})
    return _start(session, service, device, actor, action)


def handover(session: Session, service: Service, new_device: Device, actor: Actor, *, reason: str,
             expected_designation_id: int | None = None) -> BroadcastDesignation:
    """End the current designation (the old phone is suspended: it must stop broadcasting) and designate `new_device`.

    For a phone that already holds the Broadcast role (enrolled and approved as such). A new phone is handed the
    role by approving its Broadcast enrolment request with the explicit handover (ensure_designated_for_approval).
    `expected_designation_id`: the designation the manager saw; a different one now is refused.
    """
    action = "broadcast.handover_refused"
    reason = clean_reason(reason)
    _check_manager_of_service(session, actor, service, action)
    service = lock_row(session, service)  # one change to this service's Broadcast phone at a time
    new_device = lock_row(session, new_device)
    _check_device(session, actor, service, new_device, action)
    current = active_designation(session, service)
    if expected_designation_id is not None and (current is None or current.id != expected_designation_id):
        raise refuse(session, actor, action, Conflict(changed_meanwhile(current)), target=service,
                     details={"expected_designation_id": expected_designation_id,
                              "active_designation_id": current.id if current else None})
    if current is None:
        raise refuse(session, actor, action, NotFound("This service has no Broadcast phone to hand over; designate one instead."),
                     target=service)
    if current.device_id == new_device.id:
        raise InvalidInput("That phone is already the service's Broadcast phone.", errors={"device": ["Choose a different phone."]})
    return _take_over(session, service, current, new_device, actor, reason, action)


def end(session: Session, service: Service, actor: Actor, *, reason: str) -> BroadcastDesignation:
    """End the service's designation without a successor (phone lost, service stops broadcasting)."""
    action = "broadcast.end_refused"
    reason = clean_reason(reason)
    _check_manager_of_service(session, actor, service, action)
    service = lock_row(session, service)  # one change to this service's Broadcast phone at a time
    current = active_designation(session, service)
    if current is None:
        raise refuse(session, actor, action, NotFound("This service has no active Broadcast phone; nothing was changed."),
                     target=service)
    _end(session, current, actor, reason, action)
    device = current.device
    if device.state in HOLDS_APPROVAL:
        lifecycle.transition(session, device, DeviceState.SUSPENDED, actor, reason="Broadcast designation ended")
    return current


def end_for_missing_phone(session: Session, device: Device, actor: Actor, *, reason: str) -> BroadcastDesignation | None:
    """A Broadcast phone reported lost or stolen stops being the service's Broadcast phone at once, so the service
    can designate another without a handover from a phone nobody has. Whoever may report the incident may do this
    (the incident service checked that); None when the phone held no designation."""
    return end_for_phone(session, device, actor, reason=reason)


def end_for_phone(session: Session, device: Device, actor: Actor, *, reason: str) -> BroadcastDesignation | None:
    """End `device`'s active designation, if it holds one, without suspending it (the caller decides its state: a
    missing phone is suspended, a retired one retired). The caller checked who may; None when it held none."""
    current = session.scalar(select(BroadcastDesignation).where(
        BroadcastDesignation.device_id == device.id, BroadcastDesignation.ended_at.is_(None)))
    if current is None:
        return None
    lock_row(session, current.service)  # one change to this service's Broadcast phone at a time
    _end(session, current, actor, clean_reason(reason), "broadcast.end_refused")
    return current


def ensure_designated_for_approval(session: Session, request: EnrolmentRequest, actor: Actor, *,
                                   handover: bool = False, reason: str | None = None) -> BroadcastDesignation:
    """Approving a Broadcast enrolment designates the phone.

    If another phone holds the role, approval is refused unless the manager chose the explicit handover (with a
    `reason`, already cleaned by the caller): then the old designation ends, the old phone is suspended and this
    phone is designated, all in the caller's transaction, so the approval and the handover land together.
    """
    service = lock_row(session, request.service)  # one change to this service's Broadcast phone at a time
    device = request.device
    current = active_designation(session, service)
    if current is not None and current.device_id == device.id:
        return current
    if current is not None and not handover:
        raise refuse(session, actor, "enrolment.approval_refused", PolicyRefused(
            f"This service already has an active Broadcast phone ({current.device.serial}); approving another one "
            "must be an explicit handover: confirm the handover and give a reason."
        ), target=request, details={"active_designation_id": current.id})
    if current is None:
        return _start(session, service, device, actor, "enrolment.approval_refused")
    return _take_over(session, service, current, device, actor, reason or "", "enrolment.approval_refused")


def _take_over(session: Session, service: Service, current: BroadcastDesignation, new_device: Device, actor: Actor,
               reason: str, action: str) -> BroadcastDesignation:
    """End `current` (flushed first: the partial unique index allows one active row), suspend its phone, start anew."""
    old_device = current.device
    _end(session, current, actor, reason, action)
    if old_device.state in HOLDS_APPROVAL:
        lifecycle.transition(session, old_device, DeviceState.SUSPENDED, actor, reason="Broadcast role handed over")
    designation = _start(session, service, new_device, actor, action)
    audit.record(session, actor, "broadcast.handed_over", target=designation,
                 details={"service_id": service.id, "from_device_id": old_device.id, "to_device_id": new_device.id})
    return designation


def _end(session: Session, designation: BroadcastDesignation, actor: Actor, reason: str, action: str) -> None:
    """End `designation` if it is still active (a conditional UPDATE); refused if someone else ended it first."""
    ended = session.execute(
        update(BroadcastDesignation)
        .where(BroadcastDesignation.id == designation.id, BroadcastDesignation.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_by_id=actor.user.id if actor.user else None, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:  # only without the service lock (another database); the condition still decides
        raise refuse(session, actor, action, Conflict(
            "That Broadcast designation was ended a moment ago by someone else; nothing was changed."),
            target=designation)
    session.refresh(designation)  # the old row is ended in the database before the new one is inserted
    audit.record(session, actor, "broadcast.ended", target=designation,
                 details={"service_id": designation.service_id, "device_id": designation.device_id})


def changed_meanwhile(current: BroadcastDesignation | None) -> str:
    """What the loser of a race is told. No names (messages reach logs): the page shows who changed it."""
    now = f"it is now {current.device.serial}" if current is not None else "it now has none"
    return (f"The service's Broadcast phone was changed a moment ago by someone else ({now}); nothing was changed. "
            "Look at the page again before handing over.")


def clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason.", errors={"reason": ["Say why the Broadcast phone changes."]})
    if len(reason) > REASON_MAX:
        raise InvalidInput("The reason is too long.", errors={"reason": [f"Keep it under {REASON_MAX} characters."]})
    return reason
