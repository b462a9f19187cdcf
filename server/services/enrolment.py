"""Enrolment requests: IT asks for a phone to get the approved app, for a staff member or as a service's
Broadcast phone. Deciding (approve/reject with the acknowledgement) is server.services.decisions.

Requesting does not assign the phone yet: the holder, team and role are written to the device when a manager
approves, so an unapproved request never makes a phone look like someone's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Device, DeviceRole, DeviceState, EnrolmentRequest, EnrolmentStatus, Service, StaffMember
from server.services import audit, lifecycle
from server.services.actor import Actor
from server.services.errors import Conflict, InvalidInput, NotFound


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
) -> tuple[EnrolmentRequest, bool]:
    """Open a request (device -> pending_approval), or return the open one for the same purpose."""
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
    session.add(request)
    if DeviceState(device.state) != DeviceState.PENDING_APPROVAL:
        lifecycle.transition(session, device, DeviceState.PENDING_APPROVAL, actor, reason="enrolment requested")
    session.flush()
    details = {"device_id": device.id, "role": request.role, "service_id": request.service_id}
    if request.staff_member_id is not None:
        details["staff_member_id"] = request.staff_member_id
    audit.record(session, actor, "enrolment.requested", target=request, details=details)
    return request, True


def get_request(session: Session, request_id: int) -> EnrolmentRequest:
    request = session.get(EnrolmentRequest, request_id)
    if request is None:
        raise NotFound("No enrolment request has that id.")
    return request
