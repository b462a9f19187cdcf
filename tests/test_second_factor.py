"""The optional second factor for password log-in (TOTP): set-up, the code at log-in, codes used once, wrong
codes counting towards the lockout, and an administrator's reset; every step audited."""

from __future__ import annotations

import dataclasses
import time

import pyotp
import pytest
from sqlalchemy import select

from fixtures_web import csrf_from
from server.extensions import db
from server.models import AuditEntry, User
from server.services import second_factor


def _actions(user_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id)).order_by(AuditEntry.id)))


def _enrol(app, user) -> str:
    secret = second_factor.new_secret()
    assert second_factor.enrol(db.session, user, secret, pyotp.TOTP(secret).now(), app.config["PHONEGATE"].secret_key)
    db.session.commit()
    return secret


def _next_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30)  # the step after set-up's: accepted as one step of drift


def _code_form(client, code: str):
    token = csrf_from(client.get("/login/code").get_data(as_text=True))
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def test_set_up_through_the_page_keeps_the_secret_only_after_a_right_code(client, web):
    web.sign_in(client, web.manager)
    page = client.get("/account/second-factor").get_data(as_text=True)
    secret = page.split('id="setup-key">', 1)[1].split("<", 1)[0].replace(" ", "")
    wrong = client.post("/account/second-factor", data={"code": "000000", "csrf_token": csrf_from(page)})
    assert wrong.status_code == 400
    assert db.session.get(User, web.manager.id).totp_secret is None
    right = client.post("/account/second-factor",
                        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(wrong.get_data(as_text=True))})
    assert right.status_code == 302
    assert "user.second_factor_enrolled" in _actions(web.manager.id)


def test_the_secret_is_stored_encrypted(app, web):
    secret = _enrol(app, web.manager)
    stored = db.session.get(User, web.manager.id).totp_secret
    assert secret not in stored


def test_set_up_form_needs_csrf(client, web):
    web.sign_in(client, web.manager)
    client.get("/account/second-factor")
    assert client.post("/account/second-factor", data={"code": "123456"}).status_code == 400


def test_log_in_asks_for_the_code_before_any_session(app, client, web):
    _enrol(app, web.manager)
    response = web.login(client, web.manager)
    assert response.headers["Location"] == "/login/code"
    assert client.get("/requests").status_code == 302  # not signed in yet


def test_the_right_code_signs_in(app, client, web):
    secret = _enrol(app, web.manager)
    web.login(client, web.manager)
    response = _code_form(client, _next_code(secret))
    assert response.headers["Location"] == "/"
    assert client.get("/requests").status_code == 200


def test_a_code_works_once(app, client, web):
    secret = _enrol(app, web.manager)
    code = _next_code(secret)
    web.login(client, web.manager)
    _code_form(client, code)
    other = app.test_client()
    web.login(other, web.manager)
    assert _code_form(other, code).status_code == 400


def test_wrong_codes_lock_the_account(app, client, web):
    app.config["PHONEGATE"] = dataclasses.replace(app.config["PHONEGATE"], login_max_failures=3,
                                                  login_rate_limit="100 per minute")
    secret = _enrol(app, web.manager)
    web.login(client, web.manager)
    for _ in range(3):
        assert _code_form(client, "000000").status_code in (400, 302)
    assert db.session.get(User, web.manager.id).locked_until is not None
    web.login(client, web.manager)
    assert client.get("/login/code").status_code == 302  # locked: back to the log-in page, no code form
    assert "user.locked" in _actions(web.manager.id)
    assert pyotp.TOTP(secret).now()  # the secret itself is untouched


def test_the_code_page_without_the_password_step_sends_to_log_in(client, web):
    assert client.get("/login/code").headers["Location"] == "/login"


def test_an_administrator_resets_a_lost_second_factor(app, client, web):
    _enrol(app, web.manager)
    web.sign_in(client, web.admin)
    response = client.post(f"/users/{web.manager.id}/reset-second-factor",
                           data={"csrf_token": web.csrf(client, f"/users/{web.manager.id}")})
    assert response.status_code == 302
    assert db.session.get(User, web.manager.id).totp_secret is None
    assert "user.second_factor_reset" in _actions(web.manager.id)
    assert web.login(app.test_client(), web.manager).headers["Location"] == "/"


@pytest.mark.parametrize("role", ["manager", "auditor", "it"])
def test_only_administrators_reset_or_deactivate(client, web, role):
    web.sign_in(client, getattr(web, role))
    token = web.csrf(client, "/")
    for action in ("reset-second-factor", "deactivate", "reactivate"):
        assert client.post(f"/users/{web.admin.id}/{action}", data={"csrf_token": token}).status_code == 403


def test_an_administrator_cannot_deactivate_themself(client, web):
    web.sign_in(client, web.admin)
    client.post(f"/users/{web.admin.id}/deactivate", data={"csrf_token": web.csrf(client, f"/users/{web.admin.id}")})
    assert db.session.get(User, web.admin.id).active is True


def test_reactivating_is_audited(client, web):
    web.sign_in(client, web.admin)
    path = f"/users/{web.manager.id}"
    client.post(f"{path}/deactivate", data={"csrf_token": web.csrf(client, path)})
    client.post(f"{path}/reactivate", data={"csrf_token": web.csrf(client, path)})
    assert db.session.get(User, web.manager.id).active is True
    assert _actions(web.manager.id)[-2:] == ["user.deactivated", "user.reactivated"]


@pytest.mark.parametrize("user_id", ["0", "99999", "9223372036854775808", "99999999999999999999999"])
def test_user_page_with_any_id_is_no_500(client, web, user_id):
    web.sign_in(client, web.admin)
    assert client.get(f"/users/{user_id}").status_code == 404
