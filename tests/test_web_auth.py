"""Logging in and out of the web pages: passwords, lockout, rate limit, CSRF, session cookie and fixation."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from fixtures_web import csrf_from
from server.extensions import db
from server.models import AuditEntry, User


def _actions(user_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id)).order_by(AuditEntry.id)))


def _settings(app, **changes):
    app.config["PHONEGATE"] = dataclasses.replace(app.config["PHONEGATE"], **changes)


def test_login_success_starts_a_session_and_is_audited(client, web):
    response = web.login(client, web.manager)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "What needs your attention" in page.get_data(as_text=True)
    assert "user.logged_in" in _actions(web.manager.id)
    assert db.session.get(User, web.manager.id).last_login_at is not None


def test_wrong_password_and_unknown_email_get_the_same_answer(client, web):
    wrong = web.login(client, web.manager, password="not the password")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    unknown = client.post("/login", data={"email": "nobody@example.test", "password": "whatever it is",
                                          "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 400
    for response in (wrong, unknown):
        html = response.get_data(as_text=True)
        assert "There is a problem" in html
        assert "or the account is locked" in html
    assert client.get("/").status_code == 302  # still not signed in
    assert "user.login_failed" in _actions(web.manager.id)


def test_account_locks_after_repeated_failures_even_for_the_right_password(client, app, web):
    _settings(app, login_max_failures=3, login_rate_limit="100 per minute")
    for _ in range(3):
        assert web.login(client, web.manager, password="wrong password!").status_code == 400
    user = db.session.get(User, web.manager.id)
    assert user.locked_until is not None
    assert web.login(client, web.manager).status_code == 400  # the right password, but locked
    assert client.get("/").status_code == 302
    actions = _actions(web.manager.id)
    assert "user.locked" in actions
    assert "user.login_refused" in actions
    # Another account is not affected by this one's lock.
    assert web.login(client, web.other_manager).status_code == 302


def test_login_attempts_are_rate_limited_per_address(client, app, web):
    _settings(app, login_rate_limit="3 per minute", login_max_failures=100)
    codes = [web.login(client, web.manager, password="wrong password!").status_code for _ in range(3)]
    assert codes == [400, 400, 400]
    limited = web.login(client, web.manager)
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, web):
    response = client.post("/login", data={"email": web.manager.email, "password": web.password})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert "user.logged_in" not in _actions(web.manager.id)


def test_logout_needs_post_with_csrf(client, web):
    web.login(client, web.manager)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token: still signed in
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": web.csrf(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert "user.logged_out" in _actions(web.manager.id)


def test_login_starts_a_new_session(client, web):
    """Whatever a visitor's session held before logging in (a planted value, the CSRF secret) is dropped."""
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.get("/login")
    with client.session_transaction() as session:
        secret_before = session.get("csrf_token")
    web.login(client, web.manager)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != secret_before


def test_session_cookie_flags(client, web):
    response = web.login(client, web.manager)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP to a loopback address (the test client's "localhost")


@pytest.mark.parametrize(("base_url", "configured", "secure"), [
    ("https://phonegate.council.example", None, True),
    ("http://phonegate.council.example", None, True),
    ("http://127.0.0.1:5000", None, False),
    ("http://[::1]:5000", None, False),
    ("http://127.0.0.1:5000", True, True),
    ("https://phonegate.council.example", False, False),
])
def test_secure_cookie_flag_auto_and_configured(app, web, base_url, configured, secure):
    from server.web.session import CouncilSessionInterface

    app.config["SESSION_COOKIE_SECURE"] = configured
    with app.test_request_context("/", base_url=base_url):
        assert CouncilSessionInterface().get_cookie_secure(app) is secure


def test_password_change_is_forced_and_ends_other_sessions(app, web, factory):
    user = factory.user("manager", team=web.team, password=web.password, email="new@example.test",
                        must_change_password=True)
    first, second = app.test_client(), app.test_client()
    assert web.login(first, user).headers["Location"] == "/account/password"
    assert first.get("/requests").headers["Location"] == "/account/password"
    web.login(second, user)

    form = {"current_password": web.password, "new_password": "short", "confirm_password": "short",
            "csrf_token": web.csrf(first, "/account/password")}
    refused = first.post("/account/password", data=form)
    assert refused.status_code == 400
    assert "at least 10 characters" in refused.get_data(as_text=True)

    new = "a much longer new password"
    form.update(new_password=new, confirm_password=new, csrf_token=web.csrf(first, "/account/password"))
    assert first.post("/account/password", data=form).headers["Location"] == "/"
    assert first.get("/requests").status_code == 200
    assert second.get("/requests").status_code == 302  # the old password's session is over
    assert db.session.get(User, user.id).must_change_password is False


def test_next_parameter_cannot_redirect_off_site(client, web):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/login?next=//evil.example/x", data={"email": web.manager.email,
                                                                  "password": web.password, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_pages_redirect_to_login_and_back(client, web):
    response = client.get("/devices?state=approved")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    page = client.get(response.headers["Location"])
    token = csrf_from(page.get_data(as_text=True))
    back = client.post(response.headers["Location"], data={"email": web.manager.email, "password": web.password,
                                                           "csrf_token": token})
    assert back.headers["Location"] == "/devices?state=approved"


def test_tries_on_a_locked_account_write_a_bounded_number_of_audit_entries(client, app, web):
    # Someone hammering a locked account must not grow the audit log without limit (refusal_budget.py).
    _settings(app, login_max_failures=2, login_rate_limit="1000 per minute", refusal_audit_limit=3)
    for _ in range(2):
        web.login(client, web.manager, password="wrong password!")
    for _ in range(20):
        assert web.login(client, web.manager).status_code == 400
    assert _actions(web.manager.id).count("user.login_refused") == 3
