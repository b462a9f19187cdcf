"""Enrolment requests: IT asks for a phone to get the approved app, for a staff member or as a service's
Broadcast phone. Deciding (approve/reject with the acknowledgement) is server.services.decisions.

Requesting does not assign the phone yet: the holder, team and role are written to the device when a manager
approves, so an unapproved request never makes a phone look like someone's.

A phone that already belongs to someone (approved, provisioned or suspended for a holder, or a service's
Broadcast phone) is never moved by a request for someone else: that is refused, naming the holder, unless the
request says it is a reassignment and why (`provision --reassign --reason`). The manager then sees
"Reassign from A to B" and decides as for any enrolment.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from phonegate.core.lifecycle import ENROLLED
from server.models import Device, DeviceRole, DeviceState, EnrolmentRequest, EnrolmentStatus, Service, StaffMember
from server.services import audit, broadcast, lifecycle
from server.services.actor import Actor
from server.services.errors import Conflict, InvalidInput, NotFound, PolicyRefused
from server.services.refusals import record_refusal

REASON_MAX = 1000


def open_request_for(session: Session, device: Device) -> EnrolmentRequest | None:
    return session.scalar(
        select(EnrolmentRequest).where(
            EnrolmentRequest.device_id == device.id, EnrolmentRequest.status == EnrolmentStatus.PENDING.value
        )
    )


def request_enrolment(
    session: Session,
    device: Device,
    actor: Actor,
    *,
    staff_member: StaffMember | None = None,
    broadcast_service: Service | None = None,
    reassign: bool = False,
    reason: str | None = None,
) -> tuple[EnrolmentRequest, bool]:
    """Open a request (device -> pending_approval), or return the open one for the same purpose.

    PolicyRefused (403, exit 3) if the phone belongs to someone else and this is not an explicit reassignment;
    InvalidInput if a reassignment has no reason."""
    if (staff_member is None) == (broadcast_service is None):
        raise InvalidInput(
            "Say who the phone is for: a staff member or a service's Broadcast phone, not both.",
            errors={"staff": ["Give a staff member or a broadcast service."]},
        )
    if actor.user is None:
        raise InvalidInput("An enrolment request must be made by a person with a login or their API token.")

    existing = open_request_for(session, device)
    if existing is not None:
        same = (
            existing.staff_member_id == staff_member.id
            if staff_member is not None
            else existing.role == DeviceRole.BROADCAST.value and existing.service_id == broadcast_service.id
        )
        if not same:
            raise Conflict("This device already has an open enrolment request for a different purpose.")
        return existing, False

    previous = current_holder(device)
    moving = previous is not None and not _same_holder(device, staff_member, broadcast_service)
    if moving and not reassign:
        # The audit entry carries ids only; the sentence IT reads names the holder, so nobody undoes a colleague's
        # finished phone by typing a wrong address.
        record_refusal(session, actor, "enrolment.request_refused", reason="the phone belongs to someone else",
                       target=device, details={"holder_staff_member_id": device.staff_member_id,
                                               "holder_service_id": device.service_id, "device_state": device.state})
        raise PolicyRefused(
            f"This phone is {device.state.replace('_', ' ')} for {previous}; nothing was changed. To give it to "
            "someone else, run again with --reassign --reason TEXT: the manager then approves the reassignment.")
    if reassign and not moving:
        raise InvalidInput("There is nothing to reassign: the phone does not belong to anyone else.",
                           errors={"reassign": ["Leave out --reassign: the phone is not someone else's."]})
    if moving:
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput("Say why the phone moves to someone else.", errors={"reason": ["Give a reason."]})
        if len(reason) > REASON_MAX:
            raise InvalidInput("The reason is too long.", errors={"reason": [f"Keep it under {REASON_MAX} characters."]})

    if staff_member is not None:
        if not staff_member.active:
            raise InvalidInput("That staff member is no longer active.", errors={"staff": ["Not active."]})
        request = EnrolmentRequest(
            device=device,
            role=DeviceRole.INDIVIDUAL.value,
            staff_member_id=staff_member.id,
            team_id=staff_member.team_id,
            service_id=staff_member.team.service_id,
            requested_by_id=actor.user.id,
        )
    else:
        request = EnrolmentRequest(
            device=device,
            role=DeviceRole.BROADCAST.value,
            service_id=broadcast_service.id,
            requested_by_id=actor.user.id,
        )
    request.status = EnrolmentStatus.PENDING.value
    if moving:
        request.previous_role = device.role
        request.previous_staff_member_id = device.staff_member_id
        request.previous_service_id = device.service_id
        request.reassign_reason = reason
        # The phone leaves its holder now (it waits for approval); as a Broadcast phone it stops being one, so the
        # service can designate another while the manager decides.
        broadcast.end_for_missing_phone(session, device, actor, reason=f"reassigned: {reason}")
    session.add(request)
    if DeviceState(device.state) != DeviceState.PENDING_APPROVAL:
        lifecycle.transition(session, device, DeviceState.PENDING_APPROVAL, actor,
                             reason="reassignment requested" if moving else "enrolment requested")
    session.flush()
    details = {"device_id": device.id, "role": request.role, "service_id": request.service_id}
    if request.staff_member_id is not None:
        details["staff_member_id"] = request.staff_member_id
    if moving:
        details["reassigned_from"] = {"role": request.previous_role, "staff_member_id": request.previous_staff_member_id,
                                      "service_id": request.previous_service_id}
    audit.record(session, actor, "enrolment.requested", target=request, details=details)
    return request, True


def get_request(session: Session, request_id: int) -> EnrolmentRequest:
    request = session.get(EnrolmentRequest, request_id)
    if request is None:
        raise NotFound("No enrolment request has that id.")
    return request


def current_holder(device: Device) -> str | None:
    """Who the phone belongs to now, in words ("Sam Jones (Participation team)", "the Broadcast phone of
    Children's Rights"), or None when it belongs to nobody yet (registered, waiting, rejected)."""
    if device.state not in ENROLLED:
        return None
    words = holder_in_words(device.role, device.staff_member, device.service)
    if words is not None and device.role != DeviceRole.BROADCAST.value and device.staff_member.team is not None:
        words += f" ({device.staff_member.team.name})"
    return words


def holder_in_words(role: str | None, staff_member: StaffMember | None, service: Service | None) -> str | None:
    """A holder as the pages and messages name it: the staff member, or a service's Broadcast phone."""
    if role == DeviceRole.BROADCAST.value and service is not None:
        return f"the Broadcast phone of {service.name}"
    return staff_member.name if staff_member is not None else None


def _same_holder(device: Device, staff_member: StaffMember | None, broadcast_service: Service | None) -> bool:
    if staff_member is not None:
        return device.role == DeviceRole.INDIVIDUAL.value and device.staff_member_id == staff_member.id
    return device.role == DeviceRole.BROADCAST.value and device.service_id == broadcast_service.id
