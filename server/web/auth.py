"""Who is signed in to the web pages, and what their role lets them open.

A signed-in browser carries the random id of a server-side session (server/web/session.py); `current_user()`
is that session's user while the session and the account are live. Views declare the roles they admit with
`@login_required("manager", "admin")`; the services they call check the finer rules (own team only, never
one's own request) again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, session, url_for

from server.extensions import db
from server.models import Role, User, WebSession
from server.services import web_sessions
from server.services.actor import Actor
from server.settings import current_settings

F = TypeVar("F", bound=Callable[..., Any])

ALL_ROLES = tuple(role.value for role in Role)


def start_session(user: User, method: str) -> None:
    """A fresh server-side session for `user` in the request's transaction (the view commits).

    Anything the visitor's session held before (a planted value, the CSRF secret of the log-in form) is dropped,
    so a session fixed before log-in is useless after it.
    """
    limits = web_sessions.Limits.from_settings(current_settings())
    session_id, record = web_sessions.start(db.session, user, method, limits)
    session.signed_in(session_id, record, record.created_at + limits.absolute)  # type: ignore[attr-defined]
    session.permanent = True
    g.pop("_current_user", None)


def end_session(reason: str = web_sessions.LOGGED_OUT) -> None:
    """End this browser's session on the server (the view commits) and turn the cookie back into a visitor's."""
    record_id = getattr(session, "record_id", None)
    if record_id is not None:
        record = db.session.get(WebSession, record_id)
        if record is not None:
            web_sessions.end(db.session, record, Actor.for_user(record.user), reason)
    session.signed_out()  # type: ignore[attr-defined]
    g.pop("_current_user", None)


def current_user() -> User | None:
    """The signed-in, active user for this request, or None."""
    if "_current_user" in g:
        return g._current_user
    user = None
    user_id = getattr(session, "user_id", None)
    if user_id is not None:
        candidate = db.session.get(User, user_id)
        if candidate is not None and candidate.active:
            user = candidate
    g._current_user = user
    return user


def login_required(*roles: str) -> Callable[[F], F]:
    """Admit signed-in users with one of `roles` (any role when none are given); others get 403.

    Someone who must change their password is sent to do that first, whatever page they asked for.
    """
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                target = request.full_path if request.method == "GET" else None
                return redirect(url_for("auth.login", next=target.rstrip("?") if target else None))
            if user.must_change_password and request.endpoint != "auth.change_password":
                return redirect(url_for("auth.change_password"))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]  # read by the access tests
        return wrapper  # type: ignore[return-value]

    return decorate
