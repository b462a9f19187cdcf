"""Logging in and out, and changing one's password.

Two brakes on guessing: Flask-Limiter caps login attempts per client address (PHONEGATE_LOGIN_RATE_LIMIT),
and an account locks for PHONEGATE_LOGIN_LOCKOUT_MINUTES after PHONEGATE_LOGIN_MAX_FAILURES wrong passwords
in a row, whichever address they come from. The page says the same thing for an unknown email, a wrong
password and a locked account, so it cannot be used to find out who has an account.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from server.extensions import db, limiter
from server.models import User, utcnow
from server.services import audit, passwords, people
from server.services.actor import Actor
from server.services.errors import InvalidInput
from server.settings import current_settings
from server.web.auth import current_user, end_session, login_required, start_session
from server.web.forms import FormErrors, safe_next

account_bp = Blueprint("auth", __name__)

LOGIN_FAILED = "The email address or password is not right, or the account is locked. Try again later or ask an administrator."


def _login_rate_limit() -> str:
    return current_settings().login_rate_limit


@account_bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login():
    if request.method == "GET" and current_user() is not None:
        return redirect(url_for("pages.dashboard"))
    errors = FormErrors()
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        if not email:
            errors.add("email", "Enter your email address")
        if not password:
            errors.add("password", "Enter your password")
        if not errors:
            user = _authenticate(email, password)
            if user is not None:
                start_session(user)
                db.session.commit()
                if user.must_change_password:
                    return redirect(url_for("auth.change_password"))
                return redirect(safe_next(request.args.get("next"), url_for("pages.dashboard")))
            db.session.commit()  # the failure count and lock, and their audit entries
            errors.add("email", LOGIN_FAILED)
    status = 400 if errors else 200
    return render_template("account/login.html", errors=errors, email=email), status


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return passwords.hash_password(passwords.generate_password())


def _authenticate(email: str, password: str) -> User | None:
    """The user if the password is right and the account usable; records failures and locks as it goes."""
    settings = current_settings()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    if user is None or not user.password_hash:
        passwords.verify_password(_dummy_hash(), password)  # same work either way: no timing oracle
        return None
    now = utcnow()
    actor = Actor.for_user(user)
    if user.locked_until is not None and user.locked_until > now:
        audit.record(db.session, actor, "user.login_refused", target=user, details={"reason": "locked"})
        return None
    if not user.active or not passwords.verify_password(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        details = {"failed_logins": user.failed_logins, "reason": "inactive" if not user.active else "password"}
        audit.record(db.session, actor, "user.login_failed", target=user, details=details)
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            audit.record(db.session, actor, "user.locked", target=user,
                         details={"minutes": settings.login_lockout_minutes})
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(db.session, actor, "user.logged_in", target=user)
    return user


@account_bp.post("/logout")
def logout():
    user = current_user()
    if user is not None:
        audit.record(db.session, Actor.for_user(user), "user.logged_out", target=user)
        db.session.commit()
    end_session()
    flash("You have logged out.")
    return redirect(url_for("auth.login"))


@account_bp.route("/account/password", methods=["GET", "POST"])
@login_required()
def change_password():
    user = current_user()
    assert user is not None
    errors = FormErrors()
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        confirm = request.form.get("confirm_password", "")
        if not passwords.verify_password(user.password_hash, current):
            errors.add("current_password", "Enter your current password")
        try:
            passwords.check_new_password(new)
        except InvalidInput as exc:
            errors.add("new_password", exc.errors.get("password", [exc.message])[0])
        if not errors.message("new_password") and new == current:
            errors.add("new_password", "Your new password must be different from the current one")
        if new != confirm:
            errors.add("confirm_password", "The two new passwords do not match")
        if not errors:
            people.set_password(db.session, user, new, Actor.for_user(user), must_change=False)
            db.session.commit()
            start_session(user)  # the old fingerprint no longer matches; keep this browser signed in
            flash("Your password has been changed.")
            return redirect(url_for("pages.dashboard"))
    status = 400 if errors else 200
    return render_template("account/password.html", errors=errors, forced=user.must_change_password), status
