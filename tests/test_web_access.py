"""Least privilege on the web pages: who may see what, and who may decide. Refusals are audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, EnrolmentRequest, PolicyVersion, StaffMember
from server.services import enrolment
from server.services.actor import Actor


def _approve_form(web, client, request_id: int) -> dict[str, str]:
    trained = date.today() - timedelta(days=5)
    return {"csrf_token": web.csrf(client), "policy_sha256": web.policy.sha256, "decision": "approve",
            "acknowledged": "yes", "training_confirmed": "yes", "confirm": "yes", "training-day": str(trained.day),
            "training-month": str(trained.month), "training-year": str(trained.year)}


def _refusals(request_id: int) -> int:
    return len(db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "enrolment.approval_refused", AuditEntry.target_id == str(request_id))).all())


def _status(request_id: int) -> str:
    return db.session.get(EnrolmentRequest, request_id).status


def test_anonymous_visitors_are_sent_to_log_in(client, web):
    for path in ("/", "/requests", f"/requests/{web.request.id}", "/devices", "/broadcast", "/policies",
                 "/catalogue", "/staff", "/users", "/audit"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path
    response = client.post(f"/requests/{web.request.id}/decision", data={})
    assert response.status_code == 400  # the CSRF check comes first; nothing reaches the view


@pytest.mark.parametrize("role", ["other_manager", "it", "auditor", "admin"])
def test_only_the_team_manager_can_approve_and_refusals_are_audited(client, web, role):
    user = getattr(web, role)
    web.sign_in(client, user)
    response = client.post(f"/requests/{web.request.id}/decision", data=_approve_form(web, client, web.request.id))
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html
    assert "Only a team manager" in html or "your own team only" in html
    assert _status(web.request.id) == "pending"
    assert _refusals(web.request.id) == 1
    refusal = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "enrolment.approval_refused"))
    assert refusal.actor_user_id == user.id


def test_manager_of_another_team_cannot_see_the_request_or_phone(client, web):
    web.sign_in(client, web.other_manager)
    assert client.get(f"/requests/{web.request.id}").status_code == 403
    assert client.get(f"/devices/{web.device.id}").status_code == 403
    listing = client.get("/requests").get_data(as_text=True)
    assert f"Request {web.request.id}<" not in listing
    assert web.device.serial not in client.get("/devices").get_data(as_text=True)
    assert "Alex Example" not in client.get("/staff").get_data(as_text=True)


def test_the_requester_cannot_approve_their_own_request(client, web, factory):
    """A manager who made a request (e.g. with their own provisioning token) must leave it to someone else."""
    device = factory.device(model="Pixel 7")
    own, _ = enrolment.request_enrolment(db.session, device, Actor.for_user(web.manager), staff_member=web.staff)
    db.session.commit()
    web.sign_in(client, web.manager)
    page = client.get(f"/requests/{own.id}").get_data(as_text=True)
    assert "You made this request" in page
    assert 'name="decision"' not in page
    response = client.post(f"/requests/{own.id}/decision", data=_approve_form(web, client, own.id))
    assert response.status_code == 403
    assert "someone else must decide" in response.get_data(as_text=True)
    assert _status(own.id) == "pending"
    assert _refusals(own.id) == 1


@pytest.mark.parametrize("role", ["it", "auditor", "admin"])
def test_roles_that_cannot_decide_see_no_decision_form(client, web, role):
    web.sign_in(client, getattr(web, role))
    page = client.get(f"/requests/{web.request.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="decision"' not in html
    assert "Your role can read it but not decide it" in html


def test_auditor_reads_everything_and_changes_nothing(client, web):
    web.sign_in(client, web.auditor)
    for path in ("/", "/requests?status=all", f"/requests/{web.request.id}", "/devices", f"/devices/{web.device.id}",
                 "/broadcast", f"/broadcast/{web.service.id}", "/policies", f"/policies/{web.policy.id}",
                 "/catalogue", "/staff", "/users", "/audit"):
        assert client.get(path).status_code == 200, path
    token = web.csrf(client, "/policies")
    team_id = str(web.team.id)
    attempts = [
        ("/policies/new", {"label": "evil", "text": "changed"}),
        ("/staff/new", {"name": "X", "email": "x@example.test", "team": team_id}),
        ("/users/new", {"email": "y@example.test", "role": "admin"}),
        ("/catalogue", {"role": "individual"}),
        (f"/broadcast/{web.service.id}", {"action": "designate", "device": str(web.device.id)}),
    ]
    for path, data in attempts:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert db.session.scalar(select(PolicyVersion).where(PolicyVersion.label == "evil")) is None
    assert db.session.scalar(select(StaffMember).where(StaffMember.email == "x@example.test")) is None
    for path in ("/policies/new", "/staff/new", "/users/new"):
        assert client.get(path).status_code == 403, path


def test_it_cannot_see_staff_training_records(client, web):
    web.sign_in(client, web.it)
    assert client.get("/staff").status_code == 403
    assert client.get("/users").status_code == 403
    assert client.get("/requests").status_code == 200
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/staff"' not in nav


def test_forbidden_and_missing_pages_use_the_layout(client, web):
    web.sign_in(client, web.it)
    forbidden = client.get("/staff")
    assert "You do not have permission" in forbidden.get_data(as_text=True)
    assert "PhoneGate — " in forbidden.get_data(as_text=True)
    missing = client.get("/requests/999999")
    assert missing.status_code == 404
    assert "Page not found" in missing.get_data(as_text=True)
    assert client.get("/no/such/page").status_code == 404
