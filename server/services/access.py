"""Who may see and decide what: the one home of PhoneGate's access rules.

- A team's manager sees and decides for their own team: its phones, enrolment requests, staff and
  re-confirmations.
- A Broadcast phone belongs to a service, not to a team: every manager of a team in that service sees it, decides
  its enrolment requests and hands its role over.
- Nobody decides a request they made; IT, auditors and administrators never decide (the paper gives the
  decision to the team manager).
- Readers: administrators and auditors see everything; IT sees phones and requests (it provisions them) but not
  staff members' training records or the compliance pages.

The services call the `*_problem` functions (a sentence, or None) and refuse and audit what they return; the
web pages use the `may_*` answers to show or hide a form, and the query filters to scope every list.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from server.models import Device, DeviceRole, EnrolmentRequest, Role, Service, StaffMember, Team, User

# Who reads phones and enrolment requests beyond a manager's own scope.
READ_ALL_ROLES = (Role.ADMIN.value, Role.AUDITOR.value, Role.IT.value)
# Who reads every staff member's record (training dates are personal data: not IT).
STAFF_READ_ALL_ROLES = (Role.ADMIN.value, Role.AUDITOR.value)
# Who opens the compliance pages (managers see their own team there).
COMPLIANCE_READER_ROLES = (Role.MANAGER.value, Role.ADMIN.value, Role.AUDITOR.value)


def _active_manager(user: User | None) -> bool:
    return user is not None and user.active and user.role == Role.MANAGER.value


def manager_service_id(user: User | None) -> int | None:
    """The service a manager's team belongs to (None for anyone else)."""
    return user.team.service_id if _active_manager(user) and user.team is not None else None


def manages_team(user: User | None, team_id: int | None) -> bool:
    return _active_manager(user) and team_id is not None and user.team_id == team_id


def manages_service(user: User | None, service_id: int | None) -> bool:
    """A manager of a team in this service: who decides for the service's Broadcast phone."""
    return service_id is not None and manager_service_id(user) == service_id


# --- deciding --------------------------------------------------------------------------------------------------
def enrolment_decision_problem(user: User | None, request: EnrolmentRequest) -> str | None:
    """Why `user` may not approve or reject `request` at all; None when they may."""
    if user is None or not user.active:
        return "Only a signed-in manager can decide enrolment requests."
    if user.role != Role.MANAGER.value:
        return "Only a team manager can decide enrolment requests (IT, auditors and administrators cannot)."
    if user.id == request.requested_by_id:
        return "You made this request, so someone else must decide it."
    if request.role == DeviceRole.BROADCAST.value:
        if not manages_service(user, request.service_id):
            return "Only a manager of a team in this service can decide its Broadcast phone."
    elif not manages_team(user, request.team_id):
        return "You can decide requests for your own team only."
    return None


def may_decide_enrolment(user: User | None, request: EnrolmentRequest) -> bool:
    return enrolment_decision_problem(user, request) is None


def reconfirmation_problem(user: User | None, staff: StaffMember) -> str | None:
    """Why `user` may not re-confirm `staff`'s acknowledgement; None when they may."""
    if user is None or not user.active:
        return "Only a signed-in manager can re-confirm an acknowledgement."
    if user.role != Role.MANAGER.value:
        return "Only a team manager can re-confirm an acknowledgement (IT, auditors and administrators cannot)."
    if not manages_team(user, staff.team_id):
        return "You can re-confirm acknowledgements for your own team only."
    return None


def may_reconfirm(user: User | None, staff: StaffMember) -> bool:
    return reconfirmation_problem(user, staff) is None


def broadcast_change_problem(user: User | None, service: Service) -> str | None:
    """Why `user` may not designate, hand over or end `service`'s Broadcast phone; None when they may."""
    if not manages_service(user, service.id):
        return "Only a manager of a team in this service can change its Broadcast phone."
    return None


def may_change_broadcast(user: User | None, service: Service) -> bool:
    return broadcast_change_problem(user, service) is None


# --- seeing: query filters -------------------------------------------------------------------------------------
def _broadcast_of_service(model, service_id: int | None):
    return and_(model.role == DeviceRole.BROADCAST.value, model.service_id == service_id)


def requests_query(user: User) -> Select:
    query = select(EnrolmentRequest)
    if user.role in READ_ALL_ROLES:
        return query
    if user.role == Role.MANAGER.value:
        return query.where(or_(EnrolmentRequest.team_id == user.team_id,
                               _broadcast_of_service(EnrolmentRequest, manager_service_id(user))))
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
            _broadcast_of_service(Device, manager_service_id(user)),
            Device.id.in_(requested_here),
        ))
    return query.where(false())


def team_devices_clause(team: Team):
    """A team's phones, plus its service's Broadcast phone (it belongs to the service, whose managers decide for it)."""
    return or_(Device.team_id == team.id, _broadcast_of_service(Device, team.service_id))


def team_devices_query(user: User, team: Team) -> Select:
    """A team's phones (team_devices_clause) as far as `user` may see them."""
    return devices_query(user).where(team_devices_clause(team))


def staff_query(user: User) -> Select:
    query = select(StaffMember)
    if user.role in STAFF_READ_ALL_ROLES:
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


# --- seeing: one object ----------------------------------------------------------------------------------------
def can_see_team(user: User, team: Team) -> bool:
    """Managers see their own team; the other roles that reach a team page see every team."""
    return user.role != Role.MANAGER.value or user.team_id == team.id


def can_see_service(user: User, service: Service) -> bool:
    return user.role != Role.MANAGER.value or manager_service_id(user) == service.id


def can_see_request(user: User, request: EnrolmentRequest) -> bool:
    if user.role in READ_ALL_ROLES:
        return True
    if user.role != Role.MANAGER.value:
        return False
    if request.team_id is not None and request.team_id == user.team_id:
        return True
    return request.role == DeviceRole.BROADCAST.value and request.service_id == manager_service_id(user)


def can_see_device(session: Session, user: User, device: Device) -> bool:
    if user.role in READ_ALL_ROLES:
        return True
    if user.role != Role.MANAGER.value:
        return False
    if device.team_id is not None and device.team_id == user.team_id:
        return True
    if device.role == DeviceRole.BROADCAST.value and device.service_id == manager_service_id(user):
        return True
    requested_here = requests_query(user).where(EnrolmentRequest.device_id == device.id).limit(1)
    return session.scalar(requested_here) is not None
