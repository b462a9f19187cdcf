"""One user's account, for administrators: deactivate it (which ends their sessions at once), make it active
again, reset a lost second factor. Auditors may look. The rules are in server/services/accounts.py."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for

from server.extensions import db
from server.models import Role, User, utcnow
from server.services import accounts, second_factor, web_sessions
from server.services.actor import Actor
from server.services.errors import ServiceError
from server.web.auth import current_user, login_required
from server.web.presentation import ROLE_NAMES
from server.web.views import pages_bp


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id < 2**63 else None
    if user is None:
        abort(404)
    return user


@pages_bp.get("/users/<int:user_id>")
@login_required(Role.ADMIN.value, Role.AUDITOR.value)
def user_page(user_id: int):
    user = _user_or_404(user_id)
    return render_template("staff/user.html", user=user, role_names=ROLE_NAMES, now=utcnow(),
                           sessions=web_sessions.live_count(db.session, user),
                           second_factor=second_factor.is_enrolled(user),
                           is_self=user.id == current_user().id)


def _act(user_id: int, action, done: str):
    user = _user_or_404(user_id)
    try:
        action(db.session, user, Actor.for_user(current_user()))
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message)
        return redirect(url_for("pages.user_page", user_id=user_id))
    flash(done)
    return redirect(url_for("pages.user_page", user_id=user_id))


@pages_bp.post("/users/<int:user_id>/deactivate")
@login_required(Role.ADMIN.value)
def user_deactivate(user_id: int):
    return _act(user_id, accounts.deactivate, "The account is deactivated and all its sessions have ended.")


@pages_bp.post("/users/<int:user_id>/reactivate")
@login_required(Role.ADMIN.value)
def user_reactivate(user_id: int):
    return _act(user_id, accounts.reactivate, "The account is active again.")


@pages_bp.post("/users/<int:user_id>/reset-second-factor")
@login_required(Role.ADMIN.value)
def user_reset_second_factor(user_id: int):
    return _act(user_id, accounts.reset_second_factor,
                "The second factor is reset. The person can log in with their password and set up a new one.")
