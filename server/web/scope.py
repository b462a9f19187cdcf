"""What each signed-in user may see, as query filters (least privilege for reading).

Managers see their own team, plus their service's Broadcast phones (a Broadcast phone belongs to a service,
not a team). Administrators and auditors see everything. IT staff see phones and requests (they provision
them) but not staff members' training records. Changing things is checked again by the services.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, false, or_, select

from server.extensions import db
from server.models import Device, DeviceRole, EnrolmentRequest, Role, Service, StaffMember, Team, User

READ_ALL_ROLES = (Role.ADMIN.value, Role.AUDITOR.value, Role.IT.value)
STAFF_READERS = (Role.ADMIN.value, Role.AUDITOR.value, Role.MANAGER.value)


def manager_service_id(user: User) -> int | None:
    return user.team.service_id if user.team is not None else None


def requests_query(user: User) -> Select:
    query = select(EnrolmentRequest)
    if user.role in READ_ALL_ROLES:
        return query
    if user.role == Role.MANAGER.value:
        return query.where(or_(
            EnrolmentRequest.team_id == user.team_id,
            and_(EnrolmentRequest.role == DeviceRole.BROADCAST.value,
                 EnrolmentRequest.service_id == manager_service_id(user)),
        ))
    return query.where(false())


def devices_query(user: User) -> Select:
    query = select(Device)
    if user.role in READ_ALL_ROLES:
        return query
    if user.role == Role.MANAGER.value:
        # A phone waiting for its first approval may not carry a team yet: its request does.
        requested_here = select(EnrolmentRequest.device_id).where(requests_query(user).whereclause)
        return query.where(or_(
            Device.team_id == user.team_id,
            and_(Device.role == DeviceRole.BROADCAST.value, Device.service_id == manager_service_id(user)),
            Device.id.in_(requested_here),
        ))
    return query.where(false())


def staff_query(user: User) -> Select:
    query = select(StaffMember)
    if user.role in (Role.ADMIN.value, Role.AUDITOR.value):
        return query
    if user.role == Role.MANAGER.value:
        return query.where(StaffMember.team_id == user.team_id)
    return query.where(false())


def teams_query(user: User) -> Select:
    query = select(Team).order_by(Team.name)
    if user.role == Role.MANAGER.value:
        return query.where(Team.id == user.team_id)
    return query


def services_query(user: User) -> Select:
    query = select(Service).order_by(Service.name)
    if user.role == Role.MANAGER.value:
        return query.where(Service.id == manager_service_id(user))
    return query


def can_see_request(user: User, request: EnrolmentRequest) -> bool:
    if user.role in READ_ALL_ROLES:
        return True
    if user.role != Role.MANAGER.value:
        return False
    if request.team_id is not None and request.team_id == user.team_id:
        return True
    return request.role == DeviceRole.BROADCAST.value and request.service_id == manager_service_id(user)


def can_see_device(user: User, device: Device) -> bool:
    if user.role in READ_ALL_ROLES:
        return True
    if user.role != Role.MANAGER.value:
        return False
    if device.team_id is not None and device.team_id == user.team_id:
        return True
    if device.role == DeviceRole.BROADCAST.value and device.service_id == manager_service_id(user):
        return True
    requested_here = requests_query(user).where(EnrolmentRequest.device_id == device.id).limit(1)
    return db.session.scalar(requested_here) is not None
