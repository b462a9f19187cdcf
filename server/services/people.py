"""People: users who log in, and staff members who hold phones. Emails are personal data: audit ids only."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Role, StaffMember, Team, User
from server.services import audit, passwords, web_sessions
from server.services.actor import Actor
from server.services.errors import Conflict, InvalidInput, NotFound

# Deliberately loose: the point is catching typos such as a missing @, not validating RFC 5322.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
ROLES = tuple(role.value for role in Role)


def normalise_email(email: str) -> str:
    cleaned = (email or "").strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 254:
        raise InvalidInput("That is not an email address.", errors={"email": ["Not a valid email address."]})
    return cleaned


def add_user(
    session: Session,
    email: str,
    role: str,
    actor: Actor,
    *,
    team: Team | None = None,
    password: str | None = None,
    must_change_password: bool = False,
) -> User:
    email = normalise_email(email)
    if role not in ROLES:
        raise InvalidInput(f"Unknown role; use one of: {', '.join(ROLES)}.", errors={"role": ["Unknown role."]})
    if role == Role.MANAGER.value and team is None:
        raise InvalidInput("A manager needs a team (--team).", errors={"team": ["A manager needs a team."]})
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict("A user with that email already exists.", errors={"email": ["Already exists."]})
    password_hash = passwords.hash_password(password) if password is not None else None
    user = User(
        email=email,
        role=role,
        team=team,
        password_hash=password_hash,
        active=True,
        must_change_password=must_change_password,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    details: dict[str, object] = {"role": role}
    if team is not None:
        details["team_id"] = team.id
    audit.record(session, actor, "user.added", target=user, details=details)
    return user


def set_password(session: Session, user: User, password: str, actor: Actor, *, must_change: bool = False) -> None:
    """Set a new password and end every web session the user had (the caller may start a new one)."""
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = must_change
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, actor, "user.password_changed", target=user)
    web_sessions.end_all_for_user(session, user, actor, web_sessions.PASSWORD_CHANGED)


def add_staff(
    session: Session,
    email: str,
    name: str,
    team: Team,
    actor: Actor,
    *,
    training_completed_on: date | None = None,
) -> StaffMember:
    email = normalise_email(email)
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("The staff member's name is empty.", errors={"name": ["Enter a name."]})
    if len(name) > 200:
        raise InvalidInput("The staff member's name is too long.", errors={"name": ["Too long."]})
    if training_completed_on is not None and training_completed_on > date.today():
        raise InvalidInput(
            "The training date is in the future.", errors={"training_completed_on": ["Date is in the future."]}
        )
    if session.scalar(select(StaffMember.id).where(func.lower(StaffMember.email) == email)) is not None:
        raise Conflict("A staff member with that email already exists.", errors={"email": ["Already exists."]})
    staff = StaffMember(email=email, name=name, team=team, training_completed_on=training_completed_on, active=True)
    session.add(staff)
    session.flush()
    details: dict[str, object] = {"team_id": team.id}
    if training_completed_on is not None:
        details["training_completed_on"] = training_completed_on.isoformat()
    audit.record(session, actor, "staff.added", target=staff, details=details)
    return staff


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))
    if user is None:
        raise NotFound("There is no user with that email.", errors={"email": ["Unknown user."]})
    return user


def staff_by_email(session: Session, email: str) -> StaffMember:
    staff = session.scalar(select(StaffMember).where(func.lower(StaffMember.email) == (email or "").strip().lower()))
    if staff is None:
        raise NotFound("There is no staff member with that email.", errors={"staff": ["Unknown staff member."]})
    return staff


def unknown_staff_emails(session: Session, emails: list[str]) -> list[str]:
    """The e-mails in `emails` no staff member has (as given, in order): a provisioning plan is checked in one query."""
    wanted = {(email or "").strip().lower(): email for email in emails}
    known = set(session.scalars(select(func.lower(StaffMember.email)).where(func.lower(StaffMember.email).in_(list(wanted)))))
    return [email for email in emails if (email or "").strip().lower() not in known]


def inactive_staff_emails(session: Session, emails: list[str]) -> list[str]:
    """The e-mails in `emails` of staff members who are no longer active (as given, in order): they cannot be
    enrolled (server/services/enrolment.py), so `provision` refuses them before it registers a phone."""
    wanted = {(email or "").strip().lower() for email in emails}
    inactive = set(session.scalars(select(func.lower(StaffMember.email)).where(
        func.lower(StaffMember.email).in_(list(wanted)), StaffMember.active.is_(False))))
    return [email for email in emails if (email or "").strip().lower() in inactive]


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


FIRST_ADMIN_EMAIL = "admin@localhost"


def create_first_admin(session: Session, actor: Actor) -> tuple[User, str] | None:
    """On a database with no users, an admin with a one-time password (must be changed at first login).

    Returns (user, password) when it created one, None when there were users already.
    """
    if count_users(session) > 0:
        return None
    password = passwords.generate_password()
    user = add_user(session, FIRST_ADMIN_EMAIL, Role.ADMIN.value, actor, password=password, must_change_password=True)
    return user, password
