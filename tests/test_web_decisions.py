"""A manager deciding an enrolment request through the web pages: approve (two steps), reject, and refusals."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from server.extensions import db
from server.models import Acknowledgement, AuditEntry, Device, EnrolmentRequest


def _audited(action: str, request_id: int) -> int:
    return len(db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.target_type == "enrolment_request",
        AuditEntry.target_id == str(request_id))).all())


def _form(web, client, *, trained: date | None = None, **overrides) -> dict[str, str]:
    trained = trained or date.today() - timedelta(days=10)
    form = {
        "csrf_token": web.csrf(client, f"/requests/{web.request.id}"),
        "policy_sha256": web.policy.sha256,
        "decision": "approve",
        "acknowledged": "yes", "training_confirmed": "yes",
        "training-day": str(trained.day),
        "training-month": str(trained.month),
        "training-year": str(trained.year),
        "reason": "",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def _status(web) -> tuple[str, str]:
    request = db.session.get(EnrolmentRequest, web.request.id)
    return request.status, db.session.get(Device, web.device.id).state


def test_request_page_shows_phone_staff_and_current_policy(client, web):
    web.sign_in(client, web.manager)
    html = client.get(f"/requests/{web.request.id}").get_data(as_text=True)
    for expected in ("SM-S921B", web.device.serial, "14 (SDK 34)", "1 October 2026", "Alex Example",
                     "version 2026-01", web.policy.sha256, "Acceptable use of WhatsApp on council phones.",
                     'name="policy_sha256" value="' + web.policy.sha256, "has read version 2026-01 of the acceptable-use policy"):
        assert expected in html, expected


def test_approval_takes_a_confirmation_step_then_changes_state_and_is_audited(client, web):
    web.sign_in(client, web.manager)
    url = f"/requests/{web.request.id}/decision"
    trained = date.today() - timedelta(days=10)
    check = client.post(url, data=_form(web, client, trained=trained))
    assert check.status_code == 200
    html = check.get_data(as_text=True)
    assert "Check before you approve" in html
    assert "Version 2026-01" in html
    assert _status(web) == ("pending", "pending_approval")  # nothing approved yet

    confirmed = client.post(url, data=_form(web, client, trained=trained, confirm="yes"))
    assert confirmed.status_code == 302
    assert _status(web) == ("approved", "approved")
    request = db.session.get(EnrolmentRequest, web.request.id)
    assert request.decided_by_id == web.manager.id
    assert request.policy_version_id == web.policy.id
    ack = db.session.scalar(select(Acknowledgement).where(Acknowledgement.staff_member_id == web.staff.id))
    assert ack.policy_version_id == web.policy.id
    assert ack.training_completed_on == trained
    assert _audited("enrolment.approved", web.request.id) == 1
    assert "approved" in client.get(confirmed.headers["Location"]).get_data(as_text=True)


def test_approve_needs_the_acknowledgement_box(client, web):
    web.sign_in(client, web.manager)
    response = client.post(f"/requests/{web.request.id}/decision",
                           data=_form(web, client, acknowledged=None, confirm="yes"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert 'href="#acknowledged"' in html
    assert _status(web) == ("pending", "pending_approval")


def test_training_too_old_in_the_future_or_not_a_date_is_refused(client, web):
    web.sign_in(client, web.manager)
    url = f"/requests/{web.request.id}/decision"
    old = date.today() - timedelta(days=400)
    future = date.today() + timedelta(days=3)
    cases = [
        (_form(web, client, trained=old, confirm="yes"), "more than 365 days ago"),
        (_form(web, client, trained=future, confirm="yes"), "in the future"),
        (_form(web, client, confirm="yes", **{"training-day": "31", "training-month": "2", "training-year": "2026"}),
         "must be a real date"),
        (_form(web, client, confirm="yes", **{"training-day": "", "training-month": "", "training-year": ""}),
         "Enter the training completion date"),
    ]
    for form, message in cases:
        response = client.post(url, data=form)
        assert response.status_code == 400, message
        html = response.get_data(as_text=True)
        assert message in html
        assert 'href="#training"' in html
    assert _status(web) == ("pending", "pending_approval")
    assert db.session.scalar(select(Acknowledgement)) is None


def test_training_validity_is_configurable(client, app, web):
    import dataclasses

    app.config["PHONEGATE"] = dataclasses.replace(app.config["PHONEGATE"], training_valid_days=30)
    web.sign_in(client, web.manager)
    response = client.post(f"/requests/{web.request.id}/decision",
                           data=_form(web, client, trained=date.today() - timedelta(days=45), confirm="yes"))
    assert response.status_code == 400
    assert "more than 30 days ago" in response.get_data(as_text=True)


def test_a_decision_must_be_chosen(client, web):
    web.sign_in(client, web.manager)
    response = client.post(f"/requests/{web.request.id}/decision", data=_form(web, client, decision=None))
    assert response.status_code == 400
    assert "Select whether to approve or reject" in response.get_data(as_text=True)
    assert _status(web) == ("pending", "pending_approval")


def test_reject_needs_a_reason_then_changes_state_and_is_audited(client, web):
    web.sign_in(client, web.manager)
    url = f"/requests/{web.request.id}/decision"
    missing = client.post(url, data=_form(web, client, decision="reject", acknowledged=None))
    assert missing.status_code == 400
    assert 'href="#reason"' in missing.get_data(as_text=True)
    assert _status(web) == ("pending", "pending_approval")

    done = client.post(url, data=_form(web, client, decision="reject", acknowledged=None,
                                       reason="Training certificate not seen yet"))
    assert done.status_code == 302
    assert _status(web) == ("rejected", "rejected")
    assert db.session.get(EnrolmentRequest, web.request.id).decision_reason == "Training certificate not seen yet"
    assert _audited("enrolment.rejected", web.request.id) == 1


def test_approving_against_a_policy_that_changed_since_the_page_was_loaded_is_refused(client, web, factory):
    web.sign_in(client, web.manager)
    form = _form(web, client, confirm="yes")  # page loaded with version 2026-01
    newer = factory.policy("2026-11")
    response = client.post(f"/requests/{web.request.id}/decision", data=form)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert "not the current version (2026-11)" in html
    assert f'name="policy_sha256" value="{newer.sha256}"' in html  # the new text is what is shown now
    assert _status(web) == ("pending", "pending_approval")
    assert _audited("enrolment.approval_refused", web.request.id) == 1

    # Even at the first step, a stale page is refused (and audited) rather than confirmed.
    stale_check = client.post(f"/requests/{web.request.id}/decision", data=_form(web, client))
    assert stale_check.status_code == 403
    assert _audited("enrolment.approval_refused", web.request.id) == 2


def test_missing_csrf_token_changes_nothing(client, web):
    web.sign_in(client, web.manager)
    form = _form(web, client, confirm="yes")
    del form["csrf_token"]
    response = client.post(f"/requests/{web.request.id}/decision", data=form)
    assert response.status_code == 400
    assert _status(web) == ("pending", "pending_approval")
    assert _audited("enrolment.approved", web.request.id) == 0


def test_a_decided_request_cannot_be_decided_again(client, web):
    web.sign_in(client, web.manager)
    url = f"/requests/{web.request.id}/decision"
    client.post(url, data=_form(web, client, confirm="yes"))
    again = client.post(url, data=_form(web, client, decision="reject", reason="changed my mind"))
    assert again.status_code == 409
    assert _status(web) == ("approved", "approved")


def test_a_broadcast_phone_is_approved_without_a_training_date_by_a_manager_of_the_service(client, web, factory):
    from server.models import BroadcastDesignation
    from server.services import enrolment
    from server.services.actor import Actor

    device = factory.device(serial="BCAST9", model="Galaxy A15")
    request, _ = enrolment.request_enrolment(db.session, device, Actor.for_user(web.it), broadcast_service=web.service)
    db.session.commit()
    web.sign_in(client, web.other_manager)  # another team, same service: Broadcast phones belong to the service
    page = client.get(f"/requests/{request.id}").get_data(as_text=True)
    assert "Broadcast phone for Rights and Participation" in page
    assert 'name="training-day"' not in page
    form = {"csrf_token": web.csrf(client), "policy_sha256": web.policy.sha256, "decision": "approve",
            "acknowledged": "yes", "training_confirmed": "yes"}
    assert client.post(f"/requests/{request.id}/decision", data=form).status_code == 200  # the check page
    done = client.post(f"/requests/{request.id}/decision", data={**form, "confirm": "yes"})
    assert done.status_code == 302
    assert db.session.get(EnrolmentRequest, request.id).status == "approved"
    designation = db.session.scalar(select(BroadcastDesignation))
    assert designation.device_id == device.id
    assert designation.ended_at is None
