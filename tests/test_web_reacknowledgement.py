"""A manager re-confirming a staff member after a new policy version, through the pages (two steps, no JS)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import func, select

from server.extensions import db
from server.models import Acknowledgement, AuditEntry, Device, EnrolmentRequest
from server.services.actor import Actor
from server.services.decisions import approve_enrolment
from server.services.reacknowledgement import needs_reacknowledgement

TRAINED = date.today() - timedelta(days=7)


def _approved_then_new_version(web, factory):
    approve_enrolment(db.session, web.request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                      acknowledged=True, training_completed_on=date.today() - timedelta(days=20))
    db.session.commit()
    return factory.policy("2026-11")


def _form(web, client, policy, **overrides) -> dict[str, str]:
    form = {
        "csrf_token": web.csrf(client, f"/staff/{web.staff.id}/reconfirm"),
        "policy_sha256": policy.sha256,
        "acknowledged": "yes",
        "training_confirmed": "yes",
        "training-day": str(TRAINED.day),
        "training-month": str(TRAINED.month),
        "training-year": str(TRAINED.year),
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def _refusals() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "acknowledgement.reconfirmation_refused")) or 0


def _due() -> list:
    db.session.expire_all()
    return needs_reacknowledgement(db.session)


def test_manager_reconfirms_from_the_dashboard_in_two_steps_and_the_phone_keeps_its_state(client, web, factory):
    newer = _approved_then_new_version(web, factory)
    url = f"/staff/{web.staff.id}/reconfirm"
    web.sign_in(client, web.manager)
    dashboard = client.get("/").get_data(as_text=True)
    assert 'id="reack-count">1<' in dashboard
    assert f'href="{url}"' in dashboard
    phone_page = client.get(f"/devices/{web.device.id}").get_data(as_text=True)
    assert "Re-acknowledgement due" in phone_page
    assert f'href="{url}"' in phone_page
    page = client.get(url).get_data(as_text=True)
    for expected in ("Re-confirm the acceptable-use policy for Alex Example", "version 2026-11", newer.sha256,
                     'name="policy_sha256" value="' + newer.sha256, "re-acknowledgement due"):
        assert expected in page, expected

    check = client.post(url, data=_form(web, client, newer))
    assert check.status_code == 200
    assert "Check before you confirm" in check.get_data(as_text=True)
    assert len(_due()) == 1  # nothing recorded at the first step

    done = client.post(url, data=_form(web, client, newer, confirm="yes"))
    assert done.status_code == 302
    assert _due() == []
    assert db.session.get(Device, web.device.id).state == "approved"
    assert db.session.scalar(select(func.count()).select_from(EnrolmentRequest)) == 1
    ack = db.session.scalar(select(Acknowledgement).where(Acknowledgement.policy_version_id == newer.id))
    assert ack.staff_member_id == web.staff.id
    assert ack.training_completed_on == TRAINED
    assert ack.confirmed_by_id == web.manager.id
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "re-confirmed for Alex Example" in after
    assert "has no phone with re-acknowledgement due" in after
    assert 'id="reack-count">0<' in client.get("/").get_data(as_text=True)
    assert "Re-acknowledgement due" not in client.get(f"/devices/{web.device.id}").get_data(as_text=True)


def test_missing_answers_are_shown_as_errors_and_change_nothing(client, web, factory):
    newer = _approved_then_new_version(web, factory)
    web.sign_in(client, web.manager)
    url = f"/staff/{web.staff.id}/reconfirm"
    future = date.today() + timedelta(days=2)
    response = client.post(url, data=_form(web, client, newer, acknowledged=None, confirm="yes", **{
        "training-day": str(future.day), "training-month": str(future.month), "training-year": str(future.year)}))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'href="#acknowledged"' in html
    assert 'href="#training"' in html
    assert "in the future" in html
    no_csrf = _form(web, client, newer, confirm="yes")
    del no_csrf["csrf_token"]
    assert client.post(url, data=no_csrf).status_code == 400
    assert len(_due()) == 1


def test_stale_policy_is_refused_audited_and_the_new_text_shown(client, web, factory):
    newer = _approved_then_new_version(web, factory)
    web.sign_in(client, web.manager)
    form = _form(web, client, newer, confirm="yes")
    newest = factory.policy("2026-12")
    response = client.post(f"/staff/{web.staff.id}/reconfirm", data=form)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "not the current version (2026-12)" in html
    assert f'value="{newest.sha256}"' in html
    assert _refusals() == 1
    assert len(_due()) == 1


def test_manager_of_another_team_and_it_are_refused(client, web, factory):
    newer = _approved_then_new_version(web, factory)
    url = f"/staff/{web.staff.id}/reconfirm"
    for user in (web.other_manager, web.it):
        web.sign_in(client, user)
        assert client.get(url).status_code == 403
        response = client.post(url, data={**_form(web, client, newer, confirm="yes"), "csrf_token": web.csrf(client)})
        assert response.status_code == 403
        client.post("/logout", data={"csrf_token": web.csrf(client)})
    assert _refusals() == 2
    assert len(_due()) == 1

    web.sign_in(client, web.auditor)  # may read who must re-confirm, not confirm
    page = client.get(url).get_data(as_text=True)
    assert "can read this page but not confirm" in page
    assert 'name="acknowledged"' not in page


def test_the_training_date_on_record_is_shown_but_must_still_be_confirmed(client, web, factory):
    newer = _approved_then_new_version(web, factory)
    web.sign_in(client, web.manager)
    url = f"/staff/{web.staff.id}/reconfirm"
    recorded = web.staff.training_completed_on
    page = client.get(url).get_data(as_text=True)
    assert re.search(rf'name="training-year"[^>]*value="{recorded.year}"', page)
    response = client.post(url, data=_form(web, client, newer, training_confirmed=None, confirm="yes"))
    assert response.status_code == 400
    assert 'href="#training_confirmed"' in response.get_data(as_text=True)
    assert len(_due()) == 1


def test_the_statements_are_in_the_first_person(client, web, factory):
    _approved_then_new_version(web, factory)
    web.sign_in(client, web.manager)
    page = client.get(f"/staff/{web.staff.id}/reconfirm").get_data(as_text=True)
    assert f"I confirm that {web.staff.name} has read version" in page
