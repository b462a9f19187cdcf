"""Password log-in: checking the password, the brakes on guessing, and the second factor when one is set up.

An account locks for PHONEGATE_LOGIN_LOCKOUT_MINUTES after PHONEGATE_LOGIN_MAX_FAILURES wrong passwords or
second-factor codes in a row, whichever address they come from, and the lock ends every session the account
had. An unknown address, a wrong password and a locked account get the same answer and the same work, so the
log-in page cannot be used to find out who has an account. With PHONEGATE_PASSWORD_LOGIN=admins only
administrators may use a password (break-glass); everyone else signs in with the council's account.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import Role, User, utcnow
from server.services import audit, passwords, refusals, second_factor, web_sessions
from server.services.actor import Actor


class Outcome(enum.Enum):
    SIGNED_IN = "signed_in"
    NEEDS_SECOND_FACTOR = "needs_second_factor"
    FAILED = "failed"  # unknown, wrong, inactive or locked: one answer for all
    PASSWORD_NOT_ALLOWED = "password_not_allowed"  # right password, but this site signs such users in elsewhere


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    user: User | None = None


def check_password(session: Session, email: str, password: str, settings) -> Attempt:
    """The first step of a password log-in. Records failures and locks as it goes; the caller commits."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.password_hash:
        passwords.verify_password(_dummy_hash(), password)  # same work either way: no timing oracle
        return Attempt(Outcome.FAILED)
    actor = Actor.for_user(user)
    if _locked(user):
        passwords.verify_password(_dummy_hash(), password)
        # Repeated tries on a locked account are an attacker's to make: bounded like every refusal.
        refusals.record_refusal(session, actor, "user.login_refused", reason="locked", target=user)
        return Attempt(Outcome.FAILED)
    if not user.active or not passwords.verify_password(user.password_hash, password):
        record_failure(session, user, settings, "inactive" if not user.active else "password")
        return Attempt(Outcome.FAILED)
    if settings.password_login == "admins" and user.role != Role.ADMIN.value:
        refusals.record_refusal(session, actor, "user.login_refused", reason="password_login_admins_only", target=user)
        return Attempt(Outcome.PASSWORD_NOT_ALLOWED, user)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if second_factor.is_enrolled(user):
        return Attempt(Outcome.NEEDS_SECOND_FACTOR, user)
    succeeded(session, user, "password")
    return Attempt(Outcome.SIGNED_IN, user)


def check_second_factor(session: Session, user: User, code: str, settings) -> Attempt:
    """The second step, for a user whose password was right a moment ago."""
    if not user.active or _locked(user):
        refusals.record_refusal(session, Actor.for_user(user), "user.login_refused", target=user,
                                reason="locked" if user.active else "inactive")
        return Attempt(Outcome.FAILED)
    if not second_factor.check(user, code, settings.secret_key):
        record_failure(session, user, settings, "second_factor")
        return Attempt(Outcome.FAILED)
    succeeded(session, user, "password+totp")
    return Attempt(Outcome.SIGNED_IN, user)


def record_failure(session: Session, user: User, settings, reason: str) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    actor = Actor.for_user(user)
    audit.record(session, actor, "user.login_failed", target=user,
                 details={"failed_logins": user.failed_logins, "reason": reason})
    if user.failed_logins >= settings.login_max_failures:
        user.locked_until = utcnow() + timedelta(minutes=settings.login_lockout_minutes)
        user.failed_logins = 0
        audit.record(session, actor, "user.locked", target=user, details={"minutes": settings.login_lockout_minutes})
        web_sessions.end_all_for_user(session, user, Actor.system(), web_sessions.LOCKED)


def succeeded(session: Session, user: User, method: str) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    audit.record(session, Actor.for_user(user), "user.logged_in", target=user, details={"method": method})


def _locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return passwords.hash_password(passwords.generate_password())
