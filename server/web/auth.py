"""Who is signed in to the web pages, and what their role lets them open.

The session (a signed cookie) holds the user id and a fingerprint of the user's password hash: changing the
password, deactivating the account or a new login elsewhere with a new password ends every other session.
Views declare the roles they admit with `@login_required("manager", "admin")`; the services they call check
the finer rules (own team only, never one's own request) again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, session, url_for

from server.extensions import db
from server.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])

SESSION_USER = "uid"
SESSION_FINGERPRINT = "pwf"
ALL_ROLES = tuple(role.value for role in Role)


def password_fingerprint(user: User) -> str:
    """A short digest of the stored hash: it changes whenever the password does."""
    return hashlib.sha256((user.password_hash or "").encode("utf-8")).hexdigest()[:32]


def start_session(user: User) -> None:
    """A fresh session for `user`: anything a visitor had before logging in (including the CSRF secret) is dropped,
    so a session fixed before login is useless after it."""
    session.clear()
    session.permanent = True
    session[SESSION_USER] = user.id
    session[SESSION_FINGERPRINT] = password_fingerprint(user)
    g.pop("_current_user", None)


def end_session() -> None:
    session.clear()
    g.pop("_current_user", None)


def current_user() -> User | None:
    """The signed-in, active user for this request, or None."""
    if "_current_user" in g:
        return g._current_user
    user = None
    user_id = session.get(SESSION_USER)
    if isinstance(user_id, int):
        candidate = db.session.get(User, user_id)
        fingerprint = session.get(SESSION_FINGERPRINT, "")
        if (
            candidate is not None
            and candidate.active
            and candidate.password_hash
            and hmac.compare_digest(str(fingerprint), password_fingerprint(candidate))
        ):
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


def has_role(*roles: str) -> bool:
    user = current_user()
    return user is not None and user.role in roles
