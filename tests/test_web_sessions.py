"""Web sessions live on the server: a saved cookie opens nothing once its session has ended.

Each test logs in through the real form, keeps the Set-Cookie value a browser would have saved, and replays
it from a second client after the event that must end it: log-out, a password change, a lockout, an
administrator deactivating the account, the idle and the absolute limits."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import timedelta

from sqlalchemy import select

from fixtures_web import csrf_from
from server.extensions import db
from server.models import AuditEntry, User, WebSession, utcnow

COOKIE = "session"
SESSION_ID = re.compile(r"^pgs\.[A-Za-z0-9_-]{43}$")


def _saved_cookie(response) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == COOKIE:
            return rest.split(";", 1)[0]
    raise AssertionError("the response set no session cookie")


def _login_and_save_cookie(client, web, user) -> str:
    response = web.login(client, user)
    assert response.status_code == 302
    return _saved_cookie(response)


def _replay(app, cookie: str):
    """A new browser that has only the saved cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    return other.get("/requests")


def _settings(app, **changes):
    app.config["PHONEGATE"] = dataclasses.replace(app.config["PHONEGATE"], **changes)


def _record(cookie: str) -> WebSession:
    return db.session.scalar(select(WebSession).where(
        WebSession.token_sha256 == hashlib.sha256(cookie.encode()).hexdigest()))


def _session_entries(user_id: int) -> list[tuple[str, dict]]:
    rows = db.session.execute(select(AuditEntry.action, AuditEntry.details).where(
        AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id),
        AuditEntry.action.in_(["session.started", "session.ended", "user.logged_out"])).order_by(AuditEntry.id))
    return [(action, json.loads(details)) for action, details in rows]


def test_the_cookie_carries_only_a_random_id(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    assert SESSION_ID.match(cookie)
    assert _record(cookie).user_id == web.manager.id  # who it is, only on the server


def test_the_database_keeps_only_the_ids_hash(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    stored = db.session.scalars(select(WebSession.token_sha256)).all()
    assert cookie not in stored


def test_saved_cookie_opens_pages_while_the_session_lives(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    assert _replay(app, cookie).status_code == 200


def test_saved_cookie_opens_nothing_after_logout(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    client.post("/logout", data={"csrf_token": web.csrf(client)})
    replayed = _replay(app, cookie)
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/login")
    assert _record(cookie).end_reason == "logged_out"


def test_logout_ends_the_session_it_was_sent_from_only(app, client, web):
    elsewhere = _login_and_save_cookie(app.test_client(), web, web.manager)
    _login_and_save_cookie(client, web, web.manager)
    client.post("/logout", data={"csrf_token": web.csrf(client)})
    assert _replay(app, elsewhere).status_code == 200


def test_saved_cookies_open_nothing_after_a_password_change(app, client, web):
    other_browser = _login_and_save_cookie(app.test_client(), web, web.manager)
    before_change = _login_and_save_cookie(client, web, web.manager)
    new = "another long enough password"
    form = {"current_password": web.password, "new_password": new, "confirm_password": new,
            "csrf_token": web.csrf(client, "/account/password")}
    changed = client.post("/account/password", data=form)
    assert changed.headers["Location"] == "/"
    assert _replay(app, other_browser).status_code == 302
    assert _replay(app, before_change).status_code == 302
    assert client.get("/requests").status_code == 200  # the browser that changed it got a new session
    assert _saved_cookie(changed) != before_change


def test_saved_cookie_opens_nothing_after_lockout(app, client, web):
    _settings(app, login_max_failures=3, login_rate_limit="100 per minute")
    cookie = _login_and_save_cookie(client, web, web.manager)
    attacker = app.test_client()
    for _ in range(3):
        assert web.login(attacker, web.manager, password="a wrong password").status_code == 400
    assert _replay(app, cookie).status_code == 302
    assert _record(cookie).end_reason == "locked"


def test_saved_cookie_opens_nothing_after_the_account_is_deactivated(app, client, web):
    cookie = _login_and_save_cookie(app.test_client(), web, web.manager)
    web.sign_in(client, web.admin)
    response = client.post(f"/users/{web.manager.id}/deactivate",
                           data={"csrf_token": web.csrf(client, f"/users/{web.manager.id}")})
    assert response.status_code == 302
    assert _replay(app, cookie).status_code == 302
    assert _record(cookie).end_reason == "deactivated"
    assert db.session.get(User, web.manager.id).active is False


def test_session_ends_after_the_idle_limit(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    record = _record(cookie)
    record.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    assert _replay(app, cookie).status_code == 302
    assert _record(cookie).end_reason == "idle"


def test_idle_limit_is_a_setting(app, client, web):
    _settings(app, session_idle_minutes=120)
    cookie = _login_and_save_cookie(client, web, web.manager)
    record = _record(cookie)
    record.last_seen_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    assert _replay(app, cookie).status_code == 200


def test_session_ends_after_the_absolute_limit_however_busy(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    record = _record(cookie)
    record.created_at = utcnow() - timedelta(hours=8, minutes=1)
    db.session.commit()
    assert _replay(app, cookie).status_code == 302
    assert _record(cookie).end_reason == "expired"


def test_using_a_session_keeps_it_alive(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    record = _record(cookie)
    record.last_seen_at = utcnow() - timedelta(minutes=20)
    db.session.commit()
    assert _replay(app, cookie).status_code == 200
    assert utcnow() - _record(cookie).last_seen_at < timedelta(minutes=1)


def test_a_made_up_session_id_opens_nothing(app, web):
    assert _replay(app, "pgs." + "A" * 43).status_code == 302


def test_a_stale_cookie_is_deleted(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    client.post("/logout", data={"csrf_token": web.csrf(client)})
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    response = other.get("/healthz")  # a response that puts nothing in the session
    assert any(header.startswith(f"{COOKIE}=;") for header in response.headers.getlist("Set-Cookie"))


def test_a_stale_cookie_is_replaced_by_a_visitors_cookie(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    client.post("/logout", data={"csrf_token": web.csrf(client)})
    other = app.test_client()
    other.set_cookie(COOKIE, cookie)
    replaced = _saved_cookie(other.get("/login"))
    assert not replaced.startswith("pgs.")


def test_session_start_and_ends_are_audited_with_ids_only(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    session_id = _record(cookie).id
    client.post("/logout", data={"csrf_token": web.csrf(client)})
    entries = _session_entries(web.manager.id)
    assert entries == [("session.started", {"session_id": session_id, "method": "password"}),
                       ("user.logged_out", {"session_id": session_id, "reason": "logged_out"})]


def test_the_csrf_secret_lives_in_the_server_session(app, client, web):
    cookie = _login_and_save_cookie(client, web, web.manager)
    html = client.get("/account/password").get_data(as_text=True)
    csrf_from(html)
    assert "csrf_token" in json.loads(_record(cookie).data)
