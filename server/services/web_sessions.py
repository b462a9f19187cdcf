"""Web sessions on the server: start one at log-in, find it again from the cookie's id, end one or all of a user's.

Every way out ends the record, so a cookie saved before it opens nothing afterwards: logging out, changing the
password, an administrator deactivating the account, a lockout, a role taken away at sign-in, and the idle and
absolute limits. Each start and end is audited against the user, with the session's id: ids only.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from server.models import User, WebSession, utcnow
from server.services import audit
from server.services.actor import Actor

ID_PREFIX = "pgs."  # tells a server session id from the signed cookie an anonymous visitor carries
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is rewritten at most this often: one write a minute, not a request
KEEP_ENDED = timedelta(days=1)  # ended rows stay this long for anyone investigating, then they are pruned

# Why a session ended (web_sessions.end_reason and the audit entry's "reason").
LOGGED_OUT = "logged_out"
PASSWORD_CHANGED = "password_changed"
DEACTIVATED = "deactivated"
LOCKED = "locked"
NO_ROLE = "no_role"
SECOND_FACTOR_RESET = "second_factor_reset"
IDLE = "idle"
EXPIRED = "expired"


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(idle=timedelta(minutes=settings.session_idle_minutes),
                   absolute=timedelta(hours=settings.session_max_hours))


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start(session: Session, user: User, method: str, limits: Limits) -> tuple[str, WebSession]:
    """A new session for `user` in the caller's transaction: (the id for the cookie, shown nowhere else; the row)."""
    _prune(session, limits)
    session_id = ID_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    record = WebSession(token_sha256=digest(session_id), user_id=user.id, method=method, created_at=now,
                        last_seen_at=now, data="{}")
    session.add(record)
    session.flush()
    audit.record(session, Actor.for_user(user), "session.started", target=user,
                 details={"session_id": record.id, "method": method})
    return session_id, record


def resume(session: Session, session_id: str, limits: Limits, now: datetime | None = None) -> WebSession | None:
    """The live session for this id, or None. A session found past a limit, or whose user can no longer sign in,
    is ended here (and audited); the caller commits."""
    if not session_id.startswith(ID_PREFIX) or len(session_id) > 100:
        return None
    record = session.scalar(select(WebSession).where(WebSession.token_sha256 == digest(session_id)))
    if record is None or record.ended_at is not None:
        return None
    now = now or utcnow()
    user = record.user
    reason = None
    if now - record.created_at > limits.absolute:
        reason = EXPIRED
    elif now - record.last_seen_at > limits.idle:
        reason = IDLE
    elif not user.active:
        reason = DEACTIVATED
    elif user.locked_until is not None and user.locked_until > now:
        reason = LOCKED
    if reason is not None:
        end(session, record, Actor.system(), reason)
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
    return record


def end(session: Session, record: WebSession, actor: Actor, reason: str) -> None:
    if record.ended_at is not None:
        return
    record.ended_at = utcnow()
    record.end_reason = reason
    # Entries name the user as their target, so one user's trail shows their sessions beside their log-ins.
    action = "user.logged_out" if reason == LOGGED_OUT else "session.ended"
    audit.record(session, actor, action, target_type="user", target_id=record.user_id,
                 details={"session_id": record.id, "reason": reason})


def end_all_for_user(session: Session, user: User, actor: Actor, reason: str) -> int:
    """End every live session of `user` in the caller's transaction; returns how many were live."""
    session.flush()
    records = list(session.scalars(select(WebSession).where(
        WebSession.user_id == user.id, WebSession.ended_at.is_(None)).order_by(WebSession.id).with_for_update()))
    for record in records:
        end(session, record, actor, reason)
    return len(records)


def save_data(session: Session, record_id: int, data: str) -> None:
    session.execute(update(WebSession).where(WebSession.id == record_id, WebSession.ended_at.is_(None))
                    .values(data=data))


def live_count(session: Session, user: User) -> int:
    return session.scalar(select(func.count(WebSession.id)).where(
        WebSession.user_id == user.id, WebSession.ended_at.is_(None))) or 0


def _prune(session: Session, limits: Limits) -> None:
    """Rows ended, or past the absolute limit, more than a day ago: nothing can use them any more."""
    cutoff = utcnow() - KEEP_ENDED
    session.execute(delete(WebSession).where(or_(
        WebSession.ended_at < cutoff, WebSession.created_at < cutoff - limits.absolute)))
