"""The council's sign-in against a real OpenID provider on loopback (oidc-provider under node), through the
Flask test client: who gets in with which role, and every way a sign-in must be refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, User, WebSession

CALLBACK = "http://localhost/login/council/callback"
ROLES = "pg-admins=admin;pg-managers=manager:Participation Team;pg-it=it;@audit.council.example=auditor"


@pytest.fixture(scope="module")
def _module_provider(oidc_provider_for_module):
    return oidc_provider_for_module(CALLBACK)


@pytest.fixture
def provider(_module_provider, app, web):
    started = _module_provider
    started.clear_users()
    started.configure(app, ROLES)
    started.set_user("sam", email="sam.manager@council.example", groups=["pg-managers", "everyone"])
    return started


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def _actions(user_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id)).order_by(AuditEntry.id)))


def test_sign_in_creates_the_user_with_the_role_their_groups_give(client, provider, web):
    landed = client.get(provider.browser_sign_in(client, "sam"))
    assert landed.status_code == 302
    assert landed.headers["Location"] == "/"
    user = _user("sam.manager@council.example")
    assert user.role == "manager"
    assert user.team_id == web.team.id
    assert user.password_hash is None  # nothing to guess: they have no PhoneGate password
    assert client.get("/").status_code == 200


def test_a_signed_in_person_gets_a_server_side_session(client, provider):
    client.get(provider.browser_sign_in(client, "sam"))
    record = db.session.scalar(select(WebSession))
    assert record.method == "oidc"


def test_sign_in_is_audited_with_ids_only(client, provider):
    client.get(provider.browser_sign_in(client, "sam"))
    user = _user("sam.manager@council.example")
    actions = _actions(user.id)
    assert actions == ["user.added", "user.created_at_sign_in", "user.identity_bound", "user.logged_in",
                       "session.started"]
    details = " ".join(db.session.scalars(select(AuditEntry.details)))
    assert "council.example" not in details


def test_roles_follow_the_groups_at_every_sign_in(app, client, provider):
    client.get(provider.browser_sign_in(client, "sam"))
    provider.set_user("sam", email="sam.manager@council.example", groups=["pg-it"])
    again = app.test_client()
    again.get(provider.browser_sign_in(again, "sam"))
    user = _user("sam.manager@council.example")
    assert user.role == "it"
    assert user.team_id is None
    assert "user.role_changed" in _actions(user.id)


def test_removed_from_every_group_is_refused_and_loses_its_sessions(app, client, provider):
    client.get(provider.browser_sign_in(client, "sam"))
    assert client.get("/requests").status_code == 200
    provider.set_user("sam", email="sam.manager@council.example", groups=["everyone"])
    other = app.test_client()
    refused = other.get(provider.browser_sign_in(other, "sam"))
    assert refused.status_code == 403
    assert "not in any group that gives access to PhoneGate" in refused.get_data(as_text=True)
    assert client.get("/requests").status_code == 302  # the earlier session ended too
    assert other.get("/requests").status_code == 302


def test_a_person_whose_groups_give_no_role_is_refused_and_not_created(client, provider):
    provider.set_user("kim", email="kim@council.example", groups=["everyone"])
    refused = client.get(provider.browser_sign_in(client, "kim"))
    assert refused.status_code == 403
    assert "ask your manager or the IT service desk" in refused.get_data(as_text=True)
    assert _user("kim@council.example") is None


def test_an_email_domain_rule_gives_a_role(client, provider):
    provider.set_user("ig", email="ig.officer@audit.council.example", groups=[])
    client.get(provider.browser_sign_in(client, "ig"))
    assert _user("ig.officer@audit.council.example").role == "auditor"


def test_an_unverified_address_matches_no_domain_rule(client, provider):
    provider.set_user("ig", email="ig.officer@audit.council.example", groups=[], email_verified=False)
    refused = client.get(provider.browser_sign_in(client, "ig"))
    assert refused.status_code == 403


def test_an_existing_password_user_is_matched_by_email(client, provider, web):
    provider.set_user("boss", email=web.admin.email, groups=["pg-admins"])
    client.get(provider.browser_sign_in(client, "boss"))
    user = db.session.get(User, web.admin.id)
    assert user.oidc_subject_sha256 is not None
    assert client.get("/users").status_code == 200


def test_a_second_identity_with_the_same_address_cannot_take_the_account(client, app, provider, web):
    provider.set_user("boss", email=web.admin.email, groups=["pg-admins"])
    client.get(provider.browser_sign_in(client, "boss"))
    provider.set_user("impostor", email=web.admin.email, groups=["pg-admins"])
    other = app.test_client()
    refused = other.get(provider.browser_sign_in(other, "impostor"))
    assert refused.status_code == 403
    assert "belongs to another council account" in refused.get_data(as_text=True)


def test_a_deactivated_user_is_refused(client, provider, web):
    web.admin.active = False
    db.session.commit()
    provider.set_user("boss", email=web.admin.email, groups=["pg-admins"])
    refused = client.get(provider.browser_sign_in(client, "boss"))
    assert refused.status_code == 403


def test_the_flow_uses_pkce_state_and_nonce(client, provider):
    location = client.get("/login/council").headers["Location"]
    assert "code_challenge_method=S256" in location
    assert "state=" in location
    assert "nonce=" in location


def test_a_local_next_survives_the_sign_in(client, provider):
    landed = client.get(provider.browser_sign_in(client, "sam", start="/login/council?next=/requests%3Fstatus%3Dall"))
    assert landed.headers["Location"] == "/requests?status=all"


def test_a_hostile_next_goes_to_the_dashboard(client, provider):
    landed = client.get(provider.browser_sign_in(client, "sam", start="/login/council?next=//evil.example"))
    assert landed.headers["Location"] == "/"


# ------------------------------------------------------------------------------------------- refusals


def test_wrong_state_is_refused(client, provider):
    callback = provider.browser_sign_in(client, "sam")
    tampered = callback.replace("state=", "state=x", 1)
    refused = client.get(tampered)
    assert refused.status_code == 400
    assert "could not be checked" in refused.get_data(as_text=True)
    assert client.get("/requests").status_code == 302


def test_a_callback_used_twice_is_refused(client, app, provider):
    callback = provider.browser_sign_in(client, "sam")
    assert client.get(callback).status_code == 302
    replayed = app.test_client().get(callback)
    assert replayed.status_code == 400


def test_wrong_nonce_is_refused(client, provider):
    callback = provider.browser_sign_in(client, "sam")
    with client.session_transaction() as session:
        for key, value in session.items():
            if key.startswith("_state_"):
                value["data"]["nonce"] = "not-the-nonce-sent"
                session[key] = value
    refused = client.get(callback)
    assert refused.status_code == 400
    assert _user("sam.manager@council.example") is None


def test_an_expired_id_token_is_refused(client, app, oidc_provider, web):
    # A provider whose clock is 5 minutes slow and whose ID tokens last 1 minute: each has expired 4 minutes
    # before we see it, beyond the minute of clock skew PhoneGate allows (its log-in cookies still work).
    late = oidc_provider(CALLBACK, clock_offset_seconds=-300, id_token_ttl_seconds=60)
    late.configure(app, ROLES)
    late.set_user("sam", email="sam.manager@council.example", groups=["pg-managers"])
    refused = client.get(late.browser_sign_in(client, "sam"))
    assert refused.status_code == 400
    assert _user("sam.manager@council.example") is None


def test_an_unknown_issuer_is_refused_before_anyone_is_sent_there(client, app, oidc_provider, web):
    elsewhere = oidc_provider(CALLBACK, issuer="https://login.elsewhere.example/tenant/v2.0")
    elsewhere.issuer = elsewhere.url  # PhoneGate is set up for the address; the provider calls itself otherwise
    elsewhere.configure(app, ROLES)
    refused = client.get("/login/council")
    assert refused.status_code == 502
    assert "not the one PhoneGate is set up for" in refused.get_data(as_text=True)


def test_an_answer_naming_another_issuer_is_refused(client, provider):
    callback = provider.browser_sign_in(client, "sam")
    tampered = callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&was=", 1)
    refused = client.get(tampered)
    assert refused.status_code == 400
    assert "did not come from the council" in refused.get_data(as_text=True)


def test_an_error_from_the_provider_is_a_clear_page(client, provider):
    client.get("/login/council")
    refused = client.get("/login/council/callback?error=access_denied&state=whatever")
    assert refused.status_code == 400
    assert "did not sign you in" in refused.get_data(as_text=True)


def test_callback_without_a_sign_in_started_is_refused(client, provider):
    refused = client.get("/login/council/callback?code=made-up&state=made-up")
    assert refused.status_code == 400


def test_sign_in_when_not_configured_is_a_clear_404(client, web):
    assert client.get("/login/council").status_code == 404


def test_the_login_page_offers_the_council_sign_in(client, provider):
    html = client.get("/login").get_data(as_text=True)
    assert "Sign in with your council account" in html


# ------------------------------------------------------------------------------------------- password log-in


def test_password_log_in_can_be_kept_for_administrators_only(client, app, provider, web):
    provider.configure(app, ROLES, password_login="admins")
    refused = web.login(client, web.manager)
    assert refused.status_code == 400
    assert "for administrators only" in refused.get_data(as_text=True)


def test_administrators_keep_password_log_in(client, app, provider, web):
    provider.configure(app, ROLES, password_login="admins")
    assert web.login(client, web.admin).headers["Location"] == "/"
