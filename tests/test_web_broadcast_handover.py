"""Handing the Broadcast role to a new phone through the pages: its own enrolment request, approved with an
explicit handover and reason; the old phone is suspended; a plain approval or designation of a second phone is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, BroadcastDesignation, Device, EnrolmentRequest
from server.services import enrolment
from server.services.actor import Actor
from server.services.decisions import approve_enrolment
from server.services.errors import PolicyRefused


def _broadcast_request(web, factory, serial: str):
    device = factory.device(serial=serial, model="Galaxy A15")
    request, _ = enrolment.request_enrolment(db.session, device, Actor.for_user(web.it), broadcast_service=web.service)
    db.session.commit()
    return device, request


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_new_phone_takes_over_the_broadcast_role_through_its_request(client, web, factory):
    first, first_request = _broadcast_request(web, factory, "BCAST1")
    approve_enrolment(db.session, first_request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                      acknowledged=True)
    db.session.commit()
    second, request = _broadcast_request(web, factory, "BCAST2")  # a fresh phone, enrolled by IT for Broadcast

    web.sign_in(client, web.manager)
    service_page = client.get(f"/broadcast/{web.service.id}").get_data(as_text=True)
    assert f'href="/requests/{request.id}"' in service_page
    assert "hands the Broadcast role over from BCAST1" in service_page
    page = client.get(f"/requests/{request.id}").get_data(as_text=True)
    assert "Approving hands the Broadcast role over from phone BCAST1; BCAST1 will be suspended" in page
    assert 'name="handover"' in page
    assert 'name="handover_reason"' in page

    url = f"/requests/{request.id}/decision"
    base = {"csrf_token": web.csrf(client), "policy_sha256": web.policy.sha256, "decision": "approve", "acknowledged": "yes"}
    missing = client.post(url, data={**base, "confirm": "yes"})  # no handover box, no reason
    assert missing.status_code == 400
    html = missing.get_data(as_text=True)
    assert 'href="#handover"' in html
    assert 'href="#handover_reason"' in html
    assert db.session.get(EnrolmentRequest, request.id).status == "pending"

    form = {**base, "handover": "yes", "handover_reason": "Old phone's screen broke"}
    check = client.post(url, data=form)
    assert check.status_code == 200
    check_html = check.get_data(as_text=True)
    assert "Check before you approve" in check_html
    assert "From BCAST1, which will be suspended" in check_html
    assert 'name="handover" value="yes"' in check_html
    db.session.expire_all()
    assert broadcast_device_ids() == [first.id]  # nothing handed over at the check step

    done = client.post(url, data={**form, "confirm": "yes"})
    assert done.status_code == 302
    db.session.expire_all()
    assert broadcast_device_ids() == [second.id]
    assert db.session.get(Device, first.id).state == "suspended"
    assert (db.session.get(Device, second.id).state, db.session.get(Device, second.id).role) == ("approved", "broadcast")
    assert db.session.get(EnrolmentRequest, request.id).status == "approved"
    assert {"broadcast.ended", "broadcast.handed_over", "enrolment.approved"} <= set(_actions())
    assert "handed over to this phone" in client.get(done.headers["Location"]).get_data(as_text=True)
    history = client.get(f"/broadcast/{web.service.id}").get_data(as_text=True)
    assert "Old phone&#39;s screen broke" in history
    assert "Current" in history


def broadcast_device_ids() -> list[int]:
    return list(db.session.scalars(select(BroadcastDesignation.device_id).where(BroadcastDesignation.ended_at.is_(None))))


def test_without_the_handover_flag_a_second_broadcast_phone_is_still_refused(client, web, factory):
    first, first_request = _broadcast_request(web, factory, "BCAST1")
    approve_enrolment(db.session, first_request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                      acknowledged=True)
    db.session.commit()
    second, request = _broadcast_request(web, factory, "BCAST2")
    web.sign_in(client, web.manager)
    # A form built without the handover (an old page, a crafted post) reaches the service, which refuses it.
    response = client.post(f"/requests/{request.id}/decision", data={
        "csrf_token": web.csrf(client), "policy_sha256": web.policy.sha256, "decision": "approve",
        "acknowledged": "yes", "confirm": "yes", "handover": "", "handover_reason": ""})
    assert response.status_code == 400  # the page asks for the handover confirmation first
    db.session.expire_all()
    assert broadcast_device_ids() == [first.id]

    # The service itself refuses (and audits) an approval without the flag.
    with pytest.raises(PolicyRefused, match="explicit handover"):
        approve_enrolment(db.session, request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                          acknowledged=True)
    db.session.rollback()
    assert "enrolment.approval_refused" in _actions()
    assert db.session.get(Device, second.id).state == "pending_approval"


def test_designating_a_second_phone_is_refused_and_handover_between_role_holders_is_audited(client, web, factory):
    first, first_request = _broadcast_request(web, factory, "BCAST1")
    approve_enrolment(db.session, first_request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                      acknowledged=True)
    db.session.commit()
    # A phone already holding the Broadcast role (e.g. an approved spare), for the page's direct handover form.
    spare = factory.device(serial="SPARE1", model="Galaxy A16", role="broadcast", service_id=web.service.id, state="approved")
    web.sign_in(client, web.manager)
    token = web.csrf(client, f"/broadcast/{web.service.id}")
    second_designation = client.post(f"/broadcast/{web.service.id}", data={
        "action": "designate", "device": str(spare.id), "csrf_token": token})
    assert second_designation.status_code == 403
    assert "already has an active Broadcast phone" in second_designation.get_data(as_text=True)
    no_reason = client.post(f"/broadcast/{web.service.id}", data={
        "action": "handover", "device": str(spare.id), "reason": " ", "csrf_token": token})
    assert no_reason.status_code == 400
    assert 'href="#reason"' in no_reason.get_data(as_text=True)
    handed = client.post(f"/broadcast/{web.service.id}", data={
        "action": "handover", "device": str(spare.id), "reason": "Spare takes over", "csrf_token": token})
    assert handed.status_code == 302
    db.session.expire_all()
    assert broadcast_device_ids() == [spare.id]
    assert db.session.get(Device, first.id).state == "suspended"
    assert {"broadcast.designation_refused", "broadcast.ended", "broadcast.handed_over"} <= set(_actions())

    client.post("/logout", data={"csrf_token": web.csrf(client)})
    web.sign_in(client, web.it)
    refused = client.post(f"/broadcast/{web.service.id}", data={
        "action": "handover", "device": str(first.id), "reason": "x", "csrf_token": web.csrf(client)})
    assert refused.status_code == 403
    assert "broadcast.handover_refused" in _actions()
