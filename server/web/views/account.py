"""Logging in (password, then the second factor if one is set up) and out, changing one's password, and
setting up the second factor. The rules are in server/services/sign_in.py; the council's own sign-in
(OpenID Connect) is server/web/oidc.py.

Two brakes on guessing: Flask-Limiter caps attempts per client address (PHONEGATE_LOGIN_RATE_LIMIT) on the
password and code forms, and the account lockout in sign_in.py. The page says the same thing for an unknown
email, a wrong password and a locked account.
"""

from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from server.extensions import db, limiter
from server.models import User
from server.services import passwords, people, second_factor, sign_in, web_sessions
from server.services.actor import Actor
from server.services.errors import InvalidInput
from server.settings import current_settings
from server.web import oidc
from server.web.auth import current_user, end_session, login_required, start_session
from server.web.forms import FormErrors
from server.web.redirects import local_path, next_or

account_bp = Blueprint("auth", __name__)

LOGIN_FAILED = "The email address or password is not right, or the account is locked. Try again later or ask an administrator."
CODE_FAILED = "The code is not right, or it was used already. Enter the 6-digit code your authenticator app shows now."
PASSWORD_NOT_ALLOWED = "Password log-in is for administrators only here. Sign in with your council account instead."
PENDING = "pending_second_factor"  # in the visitor's (signed, not yet server-side) session: who passed step one
PENDING_SECONDS = 300
ENROL_SECRET = "second_factor_secret"  # in the signed-in (server-side) session while the secret is being set up


def _login_rate_limit() -> str:
    return current_settings().login_rate_limit


def _after_login(user: User, next_path: str | None):
    if user.must_change_password:
        return redirect(url_for("auth.change_password"))
    return redirect(next_or(next_path, url_for("pages.dashboard")))


@account_bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login():
    next_path = local_path(request.args.get("next"))
    if request.method == "GET" and current_user() is not None:
        return redirect(next_or(next_path, url_for("pages.dashboard")))
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
            attempt = sign_in.check_password(db.session, email, password, current_settings())
            if attempt.outcome is sign_in.Outcome.SIGNED_IN:
                start_session(attempt.user, "password")
                db.session.commit()
                return _after_login(attempt.user, next_path)
            if attempt.outcome is sign_in.Outcome.NEEDS_SECOND_FACTOR:
                db.session.commit()
                session[PENDING] = {"user_id": attempt.user.id, "at": int(time.time()), "next": next_path}
                return redirect(url_for("auth.login_code"))
            db.session.commit()  # the failure count and lock, and their audit entries
            errors.add("email", PASSWORD_NOT_ALLOWED if attempt.outcome is sign_in.Outcome.PASSWORD_NOT_ALLOWED
                       else LOGIN_FAILED)
    status = 400 if errors else 200
    return render_template("account/login.html", errors=errors, email=email, next_path=next_path,
                           council_sign_in=oidc.is_configured(),
                           admins_only=current_settings().password_login == "admins"), status


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("user_id"), int):
        return None
    if not isinstance(pending.get("at"), int) or time.time() - pending["at"] > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return db.session.get(User, pending["user_id"])


@account_bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login_code():
    user = _pending_user()
    if user is None:
        flash("Log in again: the first step was too long ago, or was not done.")
        return redirect(url_for("auth.login"))
    errors = FormErrors()
    if request.method == "POST":
        code = request.form.get("code", "")
        if not code.strip():
            errors.add("code", "Enter the 6-digit code from your authenticator app")
        else:
            attempt = sign_in.check_second_factor(db.session, user, code, current_settings())
            if attempt.outcome is sign_in.Outcome.SIGNED_IN:
                next_path = session.get(PENDING, {}).get("next")
                start_session(user, "password")
                db.session.commit()
                return _after_login(user, local_path(next_path))
            db.session.commit()
            errors.add("code", CODE_FAILED)
            if user.locked_until is not None:  # locked by this failure: start again from the password
                session.pop(PENDING, None)
    status = 400 if errors else 200
    return render_template("account/code.html", errors=errors), status


@account_bp.post("/logout")
def logout():
    end_session(web_sessions.LOGGED_OUT)
    db.session.commit()
    flash("You have logged out.")
    return redirect(url_for("auth.login"))


@account_bp.route("/account/password", methods=["GET", "POST"])
@login_required()
def change_password():
    user = current_user()
    assert user is not None
    if not user.password_hash:
        return render_template("account/no_password.html")
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
            people.set_password(db.session, user, new, Actor.for_user(user), must_change=False)  # ends every session
            start_session(user, "password")  # keep this browser signed in, with a new id
            db.session.commit()
            flash("Your password has been changed. You have been logged out everywhere else.")
            return redirect(url_for("pages.dashboard"))
    status = 400 if errors else 200
    return render_template("account/password.html", errors=errors, forced=user.must_change_password), status


@account_bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required()
def second_factor_setup():
    user = current_user()
    assert user is not None
    if not user.password_hash or second_factor.is_enrolled(user):
        return render_template("account/second_factor.html", user=user, enrolled=second_factor.is_enrolled(user),
                               secret=None, errors=FormErrors())
    errors = FormErrors()
    secret = session.get(ENROL_SECRET)
    if request.method == "GET" or not isinstance(secret, str):
        secret = second_factor.new_secret()  # a new one each time the page is opened: shown once
        session[ENROL_SECRET] = secret
    else:
        code = request.form.get("code", "")
        if not code.strip():
            errors.add("code", "Enter the 6-digit code your authenticator app shows for PhoneGate")
        elif second_factor.enrol(db.session, user, secret, code, current_settings().secret_key):
            db.session.commit()
            session.pop(ENROL_SECRET, None)
            flash("The second factor is set up. From now on, logging in asks for a code from your authenticator app.")
            return redirect(url_for("pages.dashboard"))
        else:
            errors.add("code", "That code does not match the key. Check the key in your app and the phone's clock, then try again")
    status = 400 if errors else 200
    return render_template("account/second_factor.html", user=user, enrolled=False,
                           secret=second_factor.grouped(secret), errors=errors), status
