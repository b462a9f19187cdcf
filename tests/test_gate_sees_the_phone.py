"""The gate sees the phone and protects its holder, on both databases: a phone's pre-check decides whether it can
be approved (a forged form included), and a phone that belongs to someone is never moved without a reassignment."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry, BroadcastDesignation, DevicePrecheck, DeviceRuleState, DeviceState, utcnow
from server.services import enrolment, precheck
from server.services.actor import Actor
from server.services.errors import InvalidInput, PolicyRefused

CLEAN = [{"rule": rule, "outcome": "pass"} for rule in
         ("not_rooted", "no_test_keys", "bootloader_locked", "storage_encrypted", "approved_app_state", "secure_lock_screen")]


def _rooted(observed="su found at /system/xbin/su"):
    return [{"rule": "not_rooted", "outcome": "fail", "observed": observed}, *CLEAN[1:]]


@pytest.fixture
def web_login(app, client):
    """A browser session for `user` without the login form (tests/test_web_auth covers the form)."""
    from server.extensions import db
    from server.services import web_sessions

    def sign_in(user):
        session_id, _ = web_sessions.start(db.session, user, "password",
                                           web_sessions.Limits.from_settings(app.config["PHONEGATE"]))
        db.session.commit()
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], session_id)
        return client
    return sign_in


def _actions(session, action):
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _record(gate, results):
    rows = precheck.record_precheck(gate.session, gate.device, Actor.for_user(gate.it), results, rules_version=None)
    gate.session.commit()
    return rows


# -- the pre-check blocks approval -------------------------------------------------------------------------------


def test_a_rooted_phone_cannot_be_approved(gate):
    _record(gate, _rooted())
    with pytest.raises(PolicyRefused, match="No su binary"):
        gate.approve()
    gate.session.rollback()
    gate.session.refresh(gate.device)
    assert gate.device.state == DeviceState.PENDING_APPROVAL.value


def test_the_refusal_is_audited_with_the_blocking_rule(gate):
    _record(gate, _rooted())
    with pytest.raises(PolicyRefused):
        gate.approve()
    gate.session.rollback()
    refused = _actions(gate.session, "enrolment.approval_refused")
    assert len(refused) == 1
    assert json.loads(refused[0].details)["blocking_rules"] == ["not_rooted"]


def test_after_the_fix_the_phone_can_be_approved(gate):
    _record(gate, _rooted())
    _record(gate, CLEAN)
    gate.approve()
    gate.session.refresh(gate.device)
    assert gate.device.state == DeviceState.APPROVED.value


def test_a_failing_rule_that_does_not_block_leaves_approval_possible(gate):
    _record(gate, [*CLEAN, {"rule": "security_patch_max_age_days", "outcome": "fail", "observed": "2019-03-05"}])
    gate.approve()
    gate.session.refresh(gate.device)
    assert gate.device.state == DeviceState.APPROVED.value


def test_the_rules_document_decides_what_blocks(gate):
    from server.services.compliance.rules import default_document, publish_version

    document = default_document().replace("  not_rooted:\n    blocks_approval: true\n", "  not_rooted:\n    blocks_approval: false\n")
    assert "blocks_approval: false" in document
    publish_version(gate.session, document, Actor.system(), comment="root does not block")
    _record(gate, _rooted())
    gate.approve()
    gate.session.refresh(gate.device)
    assert gate.device.state == DeviceState.APPROVED.value


def test_a_server_rule_cannot_block_approval():
    from server.services.compliance.rules import default_document, parse_document

    document = default_document().replace("  training_current:\n", "  training_current:\n    blocks_approval: true\n", 1)
    assert "training_current:\n    blocks_approval: true" in document
    with pytest.raises(InvalidInput, match="only a rule checked on the phone"):
        parse_document(document)


def test_a_newer_sweep_result_is_the_latest_fact(gate):
    _record(gate, _rooted())
    later = utcnow() + timedelta(minutes=5)
    gate.session.add(DeviceRuleState(device_id=gate.device.id, rule="not_rooted", last_outcome="pass", last_checked_at=later))
    gate.session.commit()
    assert precheck.blocking_failures(gate.session, gate.device) == []


def test_a_new_precheck_replaces_the_old_one(gate):
    _record(gate, _rooted())
    _record(gate, CLEAN[:2])
    count = gate.session.scalar(select(func.count()).select_from(DevicePrecheck).where(DevicePrecheck.device_id == gate.device.id))
    assert count == 2


def test_what_the_phone_said_is_stored_printable_and_bounded(gate):
    rows = _record(gate, _rooted("\x1b[31mred\x1b[0m " + "x" * 1500))
    observed = next(row.observed for row in rows if row.rule == "not_rooted")
    assert "\x1b" not in observed
    assert len(observed) <= precheck.OBSERVED_MAX


def test_an_unknown_rule_is_refused_and_nothing_stored(gate):
    with pytest.raises(InvalidInput):
        _record(gate, [{"rule": "training_current", "outcome": "pass"}])
    gate.session.rollback()
    assert gate.session.scalar(select(func.count()).select_from(DevicePrecheck)) == 0


def test_the_precheck_is_audited(gate):
    _record(gate, _rooted())
    entry = _actions(gate.session, "device.prechecked")[0]
    assert json.loads(entry.details)["failing"] == ["not_rooted"]


def test_the_holders_other_phone_is_named(gate, factory):
    other = factory.device(state=DeviceState.PROVISIONED.value, staff_member=gate.staff, team=gate.team,
                           service=gate.service)
    found = precheck.for_request(gate.session, gate.request)
    assert [phone.id for phone in found.other_phones] == [other.id]


# -- the pages: the warning, no approve, and a forged POST --------------------------------------------------------


def _decision_form(client, request_id):
    page = client.get(f"/requests/{request_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return page, token


def test_the_request_page_says_what_it_must_fix(gate, web_login):
    _record(gate, _rooted())
    client = web_login(gate.manager)
    page, _ = _decision_form(client, gate.request.id)
    assert "cannot be approved until IT fixes it" in page
    assert "su found at /system/xbin/su" in page


def test_the_request_page_offers_no_approval_while_blocked(gate, web_login):
    _record(gate, _rooted())
    client = web_login(gate.manager)
    page, _ = _decision_form(client, gate.request.id)
    # No disabled control (GOV.UK: hard to see and to understand): the choice is simply not offered.
    assert re.search(r'<input[^>]*value="approve"[^>]*>', page) is None


def test_a_forged_approval_is_refused_and_audited(gate, web_login):
    _record(gate, _rooted())
    client = web_login(gate.manager)
    _, token = _decision_form(client, gate.request.id)
    day = gate.staff.training_completed_on
    response = client.post(f"/requests/{gate.request.id}/decision", data={
        "csrf_token": token, "decision": "approve", "acknowledged": "yes", "training_confirmed": "yes",
        "policy_sha256": gate.policy.sha256, "confirm": "yes",
        "training-day": str(day.day), "training-month": str(day.month), "training-year": str(day.year)})
    assert response.status_code == 403
    gate.session.expire_all()
    assert gate.device.state == DeviceState.PENDING_APPROVAL.value
    assert len(_actions(gate.session, "enrolment.approval_refused")) == 1


def test_the_request_page_names_the_holders_other_phone(gate, factory, web_login):
    other = factory.device(state=DeviceState.PROVISIONED.value, staff_member=gate.staff, team=gate.team,
                           service=gate.service)
    client = web_login(gate.manager)
    page, _ = _decision_form(client, gate.request.id)
    assert "already holds phone" in page
    assert other.serial in page


def test_the_request_page_without_a_check_says_so(gate, web_login):
    client = web_login(gate.manager)
    page, _ = _decision_form(client, gate.request.id)
    assert "No check of this phone yet" in page


# -- no silent reassignment --------------------------------------------------------------------------------------


@pytest.fixture
def held(gate, factory):
    """gate's phone approved for gate.staff, and a colleague in the same team."""
    gate.approve()
    gate.session.refresh(gate.device)
    return factory.staff(team=gate.team)


def test_a_phone_held_by_someone_else_is_refused_naming_the_holder(gate, held):
    with pytest.raises(PolicyRefused, match=re.escape(f"approved for {gate.staff.name}")):
        enrolment.request_enrolment(gate.session, gate.device, Actor.for_user(gate.it), staff_member=held)


def test_the_refused_phone_is_unchanged(gate, held):
    with pytest.raises(PolicyRefused):
        enrolment.request_enrolment(gate.session, gate.device, Actor.for_user(gate.it), staff_member=held)
    gate.session.rollback()
    gate.session.refresh(gate.device)
    assert (gate.device.state, gate.device.staff_member_id) == (DeviceState.APPROVED.value, gate.staff.id)


def test_the_refusal_is_audited_without_names(gate, held):
    with pytest.raises(PolicyRefused):
        enrolment.request_enrolment(gate.session, gate.device, Actor.for_user(gate.it), staff_member=held)
    gate.session.rollback()
    refused = _actions(gate.session, "enrolment.request_refused")
    assert len(refused) == 1
    assert gate.staff.name not in refused[0].details


def test_a_reassignment_needs_a_reason(gate, held):
    with pytest.raises(InvalidInput, match="why"):
        enrolment.request_enrolment(gate.session, gate.device, Actor.for_user(gate.it), staff_member=held,
                                    reassign=True, reason="  ")


def test_reassigning_a_phone_nobody_holds_is_a_mistake(gate, factory):
    colleague = factory.staff(team=gate.team)
    with pytest.raises(InvalidInput, match="nothing to reassign"):
        enrolment.request_enrolment(gate.session, factory.device(), Actor.for_user(gate.it), staff_member=colleague,
                                    reassign=True, reason="moving")


def test_an_explicit_reassignment_opens_a_request_from_a_to_b(gate, held):
    request, created = enrolment.request_enrolment(gate.session, gate.device, Actor.for_user(gate.it), staff_member=held,
                                                   reassign=True, reason="Sam moved to another service")
    gate.session.commit()
    assert created
    assert (request.previous_staff_member_id, request.staff_member_id) == (gate.staff.id, held.id)


def test_the_reassignment_page_says_reassign_from_a_to_b(gate, held, web_login):
    request, _ = enrolment.request_enrolment(gate.session, gate.device, Actor.for_user(gate.it), staff_member=held,
                                             reassign=True, reason="Sam moved to another service")
    gate.session.commit()
    page = web_login(gate.manager).get(f"/requests/{request.id}").get_data(as_text=True)
    assert re.search(rf"Reassign from {re.escape(gate.staff.name)} to\s+{re.escape(held.name)}", page)


def test_the_same_holder_again_is_no_reassignment(gate, held):
    gate.session.refresh(gate.device)
    request, created = enrolment.request_enrolment(gate.session, gate.device, Actor.for_user(gate.it),
                                                   staff_member=gate.staff)
    assert not (created and request.is_reassignment)


def test_another_services_broadcast_phone_is_refused(gate, factory):
    other_service = factory.service()
    phone = factory.device()
    gate.session.add(phone)
    request, _ = enrolment.request_enrolment(gate.session, phone, Actor.for_user(gate.it), broadcast_service=other_service)
    gate.session.commit()
    manager = factory.user("manager", team=factory.team(service=other_service))
    from server.services.decisions import approve_enrolment
    approve_enrolment(gate.session, request, Actor.for_user(manager), policy_sha256=gate.policy.sha256, acknowledged=True)
    gate.session.commit()
    with pytest.raises(PolicyRefused, match=f"Broadcast phone of {re.escape(other_service.name)}"):
        enrolment.request_enrolment(gate.session, phone, Actor.for_user(gate.it), broadcast_service=gate.service)


def test_reassigning_a_broadcast_phone_ends_its_designation(gate, factory):
    other_service = factory.service()
    phone = factory.device()
    request, _ = enrolment.request_enrolment(gate.session, phone, Actor.for_user(gate.it), broadcast_service=other_service)
    gate.session.commit()
    manager = factory.user("manager", team=factory.team(service=other_service))
    from server.services.decisions import approve_enrolment
    approve_enrolment(gate.session, request, Actor.for_user(manager), policy_sha256=gate.policy.sha256, acknowledged=True)
    gate.session.commit()
    enrolment.request_enrolment(gate.session, phone, Actor.for_user(gate.it), staff_member=gate.staff,
                                reassign=True, reason="the service stopped broadcasting")
    gate.session.commit()
    active = gate.session.scalar(select(BroadcastDesignation).where(
        BroadcastDesignation.device_id == phone.id, BroadcastDesignation.ended_at.is_(None)))
    assert active is None


# -- the API ---------------------------------------------------------------------------------------------------


def test_the_api_records_a_precheck_and_names_what_blocks(gate, factory, client):
    token, _ = factory.token(user=gate.it, scope="provision")
    response = client.put(f"/api/v1/devices/{gate.device.serial}/precheck", json={"results": _rooted()},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["blocking"] == ["not_rooted"]


def test_the_api_refuses_an_agent_token(gate, factory, client):
    token, _ = factory.token(user=gate.it, scope="agent")
    response = client.put(f"/api/v1/devices/{gate.device.serial}/precheck", json={"results": CLEAN},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


@pytest.mark.parametrize("results", [
    [{"rule": "not_rooted", "outcome": "maybe"}],
    [{"rule": "not_rooted", "outcome": "pass"}, {"rule": "not_rooted", "outcome": "fail"}],
    [{"rule": "no_such_rule", "outcome": "pass"}],
    [{"rule": "not_rooted"}],
])
def test_the_api_refuses_bad_results_and_stores_nothing(gate, factory, client, results):
    token, _ = factory.token(user=gate.it, scope="provision")
    response = client.put(f"/api/v1/devices/{gate.device.serial}/precheck", json={"results": results},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (400, 422), response.get_json()
    assert gate.session.scalar(select(func.count()).select_from(DevicePrecheck)) == 0


def test_the_api_asks_for_a_reason_with_reassign(gate, held, factory, client):
    token, _ = factory.token(user=gate.it, scope="provision")
    response = client.post("/api/v1/enrolments", json={"serial": gate.device.serial, "staff_email": held.email,
                                                       "reassign": True}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (400, 422)


def test_the_first_check_during_provisioning_shows_on_the_phones_page(gate, web_login):
    gate.approve()
    gate.session.refresh(gate.device)
    gate.device.state = DeviceState.PROVISIONED.value  # as the installation report leaves it
    gate.session.commit()
    _record(gate, CLEAN)
    page = web_login(gate.manager).get(f"/devices/{gate.device.id}").get_data(as_text=True)
    assert f"all {len(CLEAN)} rules checked pass" in page
    assert "Not checked yet" not in page
