"""Who may see and decide what: the one home of PhoneGate's access rules.

- A team's manager sees and decides for their own team: its phones, enrolment requests, staff and
  re-confirmations.
- A Broadcast phone belongs to a service, not to a team: every manager of a team in that service sees it, decides
  its enrolment requests and hands its role over.
- Nobody decides a request they made; IT, auditors and administrators never decide (the paper gives the
  decision to the team manager).
- Readers: administrators and auditors see everything; IT sees phones and requests (it provisions them) but not
  staff members' training records or the compliance pages.
- Spot checks, conversation reviews and their follow-ups are the team manager's (their service's Broadcast phone
  too); information governance (auditors) and administrators read them all. Anyone signed in reports an
  information incident; managers see their team's, and only auditors and administrators move one along.
- Phone actions: the team's manager (a Broadcast phone: its service's managers), IT and administrators retire
  and reinstate phones; information governance retires but does not reinstate (see PHONE_ACTION_ROLES).

The services call the `*_problem` functions (a sentence, or None) and refuse and audit what they return; the
web pages use the `may_*` answers to show or hide a form, and the query filters to scope every list.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from server.models import (
    ConversationReview,
    Device,
    DeviceRole,
    EnrolmentRequest,
    FollowUp,
    Incident,
    Role,
    Service,
    SpotCheck,
    StaffMember,
    Team,
    User,
)

# Who reads phones and enrolment requests beyond a manager's own scope.
READ_ALL_ROLES = (Role.ADMIN.value, Role.AUDITOR.value, Role.IT.value)
# Who reads every staff member's record (training dates are personal data: not IT).
STAFF_READ_ALL_ROLES = (Role.ADMIN.value, Role.AUDITOR.value)
# Who opens the compliance pages (managers see their own team there).
COMPLIANCE_READER_ROLES = (Role.MANAGER.value, Role.ADMIN.value, Role.AUDITOR.value)
# Who reads the app catalogue (the APKs IT installs): managers decide about people, not app builds.
CATALOGUE_READER_ROLES = (Role.ADMIN.value, Role.AUDITOR.value, Role.IT.value)
# Who reads the audit log and the list of user accounts: the administrator and information governance.
AUDIT_READER_ROLES = (Role.ADMIN.value, Role.AUDITOR.value)
# Who changes configuration: policies, the catalogue, staff records, users, the compliance rules.
ADMIN_ROLES = (Role.ADMIN.value,)


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
    """A team's phones, plus its service's Broadcast phone (it belongs to the service, whose managers decide for it),
    plus a phone with no team yet whose enrolment request is for this team (as devices_query shows it to the
    manager: the dashboard and the team's compliance page must count the same phones)."""
    requested_here = select(EnrolmentRequest.device_id).where(EnrolmentRequest.team_id == team.id)
    return or_(Device.team_id == team.id, _broadcast_of_service(Device, team.service_id),
               and_(Device.team_id.is_(None), Device.id.in_(requested_here)))


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


# --- spot checks, incidents, conversation reviews, follow-ups ----------------------------------------------------
# Information governance is the auditor role; with administrators it reads every spot check, review and incident.
# Auditors change one thing only: an incident's status (acknowledged, closed), which is their desk's job.
GOVERNANCE_READ_ALL_ROLES = (Role.ADMIN.value, Role.AUDITOR.value)
INCIDENT_HANDLER_ROLES = (Role.AUDITOR.value, Role.ADMIN.value)


def _own_team_or_service(model, user: User):
    """Rows of the manager's team, or (no team: a Broadcast phone's) of their service."""
    return or_(model.team_id == user.team_id,
               and_(model.team_id.is_(None), model.service_id == manager_service_id(user)))


def _manages_record(user: User | None, team_id: int | None, service_id: int | None) -> bool:
    if team_id is not None:
        return manages_team(user, team_id)
    return manages_service(user, service_id)


def spot_checks_query(user: User) -> Select:
    query = select(SpotCheck)
    if user.role in GOVERNANCE_READ_ALL_ROLES:
        return query
    if user.role == Role.MANAGER.value:
        return query.where(_own_team_or_service(SpotCheck, user))
    return query.where(false())


def can_see_spot_check(user: User, spot_check: SpotCheck) -> bool:
    return user.role in GOVERNANCE_READ_ALL_ROLES or _manages_record(user, spot_check.team_id, spot_check.service_id)


def spot_check_start_problem(user: User | None, device: Device) -> str | None:
    """Why `user` may not call `device` in for a spot check; None when they may (its team's or service's manager)."""
    if not _active_manager(user):
        return "Only a team manager can start a spot check (administrators and auditors read them)."
    owner_team = device.team_id if device.role == DeviceRole.INDIVIDUAL.value else None
    if not _manages_record(user, owner_team, device.service_id):
        return "You can spot-check your own team's phones (and your service's Broadcast phone) only."
    return None


def spot_check_decision_problem(user: User | None, spot_check: SpotCheck) -> str | None:
    """Why `user` may not complete `spot_check`'s checklist or close its follow-ups; None when they may."""
    if not _active_manager(user):
        return "Only a team manager can complete a spot check."
    if not _manages_record(user, spot_check.team_id, spot_check.service_id):
        return "You can complete spot checks of your own team's phones only."
    return None


def may_decide_spot_check(user: User | None, spot_check: SpotCheck) -> bool:
    return spot_check_decision_problem(user, spot_check) is None


def sample_problem(user: User | None, team: Team | None) -> str | None:
    """Why `user` may not draw `team`'s random sample of phones for spot checks; None when they may."""
    if team is None or not manages_team(user, team.id):
        return "Only the team's manager can draw its sample of phones for spot checks."
    return None


def follow_ups_query(user: User) -> Select:
    query = select(FollowUp)
    if user.role in GOVERNANCE_READ_ALL_ROLES:
        return query
    if user.role == Role.MANAGER.value:
        return query.where(_own_team_or_service(FollowUp, user))
    return query.where(false())


def follow_up_problem(user: User | None, follow_up: FollowUp) -> str | None:
    """Why `user` may not mark `follow_up` done; None when they may (the manager whose team agreed it)."""
    if not _active_manager(user) or not _manages_record(user, follow_up.team_id, follow_up.service_id):
        return "Only the manager of the team that agreed this follow-up can mark it done."
    return None


def incidents_query(user: User) -> Select:
    query = select(Incident)
    if user.role in GOVERNANCE_READ_ALL_ROLES:
        return query
    if user.role == Role.MANAGER.value:
        return query.where(or_(_own_team_or_service(Incident, user), Incident.reported_by_id == user.id))
    return query.where(Incident.reported_by_id == user.id)  # IT sees what it reported


def can_see_incident(user: User, incident: Incident) -> bool:
    if user.role in GOVERNANCE_READ_ALL_ROLES or incident.reported_by_id == user.id:
        return True
    return user.role == Role.MANAGER.value and _manages_record(user, incident.team_id, incident.service_id)


def incident_report_problem(session: Session, user: User | None, device: Device | None,
                            staff: StaffMember | None) -> str | None:
    """Why `user` may not report an incident about this phone and person; None when they may.

    Anyone signed in may report one (the paper asks everyone to); a manager names only their own team's phones and
    people, IT any phone (it handles them) but nobody's staff record.
    """
    if user is None or not user.active:
        return "Only a signed-in user can report an incident."
    if device is not None and not can_see_device(session, user, device):
        return "You can report incidents about phones you can see only."
    if staff is not None and session.scalar(staff_query(user).where(StaffMember.id == staff.id)) is None:
        return "You can name staff members you can see only."
    return None


def incident_status_problem(user: User | None) -> str | None:
    """Why `user` may not acknowledge, close or reopen incidents; None for information governance and admins."""
    if user is None or not user.active or user.role not in INCIDENT_HANDLER_ROLES:
        return "Only information governance (auditors) and administrators change an incident's status."
    return None


def may_handle_incidents(user: User | None) -> bool:
    return incident_status_problem(user) is None


def reviews_query(user: User) -> Select:
    query = select(ConversationReview)
    if user.role in GOVERNANCE_READ_ALL_ROLES:
        return query
    if user.role == Role.MANAGER.value:
        return query.where(ConversationReview.team_id == user.team_id)
    return query.where(false())


def can_see_review(user: User, review: ConversationReview) -> bool:
    return user.role in GOVERNANCE_READ_ALL_ROLES or manages_team(user, review.team_id)


def review_problem(user: User | None) -> str | None:
    """Why `user` may not review a conversation export; None for a team manager (the paper gives them the review)."""
    if not _active_manager(user):
        return "Only a team manager reviews conversations."
    return None


def review_outcome_problem(user: User | None, review: ConversationReview) -> str | None:
    if not manages_team(user, review.team_id):
        return "Only a manager of the reviewed team can record the review's outcome."
    return None


# --- phone actions: retire, reinstate (reporting a phone lost or stolen is an incident: incident_report_problem) ----
# Retiring ends a phone's use for good; reinstating gives a suspended phone its approval back. Who answers for that:
# - the phone's team manager (for a Broadcast phone: a manager of a team in its service): they approved it;
# - IT, on any phone: it handles the hardware (a phone handed back, wiped, or fixed after a failing check);
# - administrators, on any phone.
# Information governance (auditors) may retire any phone (after a lost phone is written off, ending its use is
# always the safe direction), but not reinstate one: putting a phone back into use is for whoever answers for it,
# and information governance audits that decision rather than making it.
# The server's command line without --as (recorded as the operating-system account: a shell on the server, which
# can change the database anyway) may do both; with --as, that person's role decides as on the page.
PHONE_ACTION_ROLES = {
    "retire": (Role.MANAGER.value, Role.IT.value, Role.ADMIN.value, Role.AUDITOR.value),
    "reinstate": (Role.MANAGER.value, Role.IT.value, Role.ADMIN.value),
}
def phone_action_problem(user: User | None, device: Device, action: str, *, at_command_line: bool = False) -> str | None:
    """Why `user` may not `action` ("retire" or "reinstate") `device`; None when they may."""
    if user is None:
        return None if at_command_line else "Only a signed-in user can act on a phone."
    if not user.active or user.role not in PHONE_ACTION_ROLES[action]:
        who = ("a team manager, IT or an administrator" if action == "reinstate"
               else "a team manager, IT, information governance or an administrator")
        return f"Only {who} can {action} a phone."
    if user.role == Role.MANAGER.value:
        if device.role == DeviceRole.BROADCAST.value:
            allowed = manages_service(user, device.service_id)
        else:
            allowed = manages_team(user, device.team_id)
        if not allowed:
            return f"You can {action} your own team's phones (and your service's Broadcast phone) only."
    return None


def may_act_on_phone(user: User | None, device: Device, action: str) -> bool:
    return phone_action_problem(user, device, action) is None
