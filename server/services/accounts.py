"""What an administrator does to another person's account: deactivate it, make it active again, reset its
second factor. Deactivating ends every web session at once; API tokens of an inactive user stop working too
(server/services/tokens.py checks the user)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.models import Role, User
from server.services import audit, second_factor, web_sessions
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden


def _require_admin(actor: Actor, user: User) -> None:
    if actor.user is None or actor.user.role != Role.ADMIN.value or not actor.user.active:
        raise Forbidden("Only an administrator can change another person's account.")
    if actor.user.id == user.id:
        raise Conflict("You cannot change your own account here; ask another administrator.")


def deactivate(session: Session, user: User, actor: Actor) -> int:
    """Deactivate `user` and end their sessions; returns how many sessions were ended."""
    _require_admin(actor, user)
    if not user.active:
        raise Conflict("That account is already inactive.")
    user.active = False
    audit.record(session, actor, "user.deactivated", target=user)
    return web_sessions.end_all_for_user(session, user, actor, web_sessions.DEACTIVATED)


def reactivate(session: Session, user: User, actor: Actor) -> None:
    _require_admin(actor, user)
    if user.active:
        raise Conflict("That account is already active.")
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    audit.record(session, actor, "user.reactivated", target=user)


def reset_second_factor(session: Session, user: User, actor: Actor) -> None:
    """For someone who lost their authenticator: they log in with the password and may set up a new one."""
    _require_admin(actor, user)
    second_factor.reset(session, user, actor)
