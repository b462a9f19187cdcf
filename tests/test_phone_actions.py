"""Phone actions on the phone's page and the command line: retire, reinstate, report lost or stolen.

Each works for the roles that should have it, is refused (403 / exit 3) and audited for the others; bad input
changes nothing; reinstating waits for the blocking rules to pass; the page says why a phone is suspended and what
would reinstate it; each action shows in the phone's timeline in words.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import (
    AuditEntry,
    BroadcastDesignation,
    Device,
    DeviceRuleState,
    EnrolmentRequest,
    Incident,
    PhoneAction,
    utcnow,
)
from server.services import broadcast, enrolment, lifecycle, phone_actions
from server.services.actor import Actor
from server.services.errors import Conflict, InvalidInput, InvalidTransition, PolicyRefused

REASON = "Screen broken beyond repair; replaced by a new phone."


@pytest.fixture
def phone(web, factory):
    holder = factory.staff(team=web.team, name="Robin Holder")
    return factory.device(serial="ACTION0001", state="provisioned", role="individual", team_id=web.team.id,
                          service_id=web.service.id, staff_member_id=holder.id, manufacturer="samsung", model="SM-S921B")


def _suspend(device, reason="compliance: secure_lock_screen failing past grace"):
    lifecycle.transition(db.session, device, "suspended", Actor.system(), reason=reason)
    db.session.commit()
    return device


@pytest.fixture
def suspended(phone):
    return _suspend(phone)


def _fail(device, rule: str, outcome: str = "fail") -> None:
    state = db.session.get(DeviceRuleState, (device.id, rule))
    if state is None:
        state = DeviceRuleState(device_id=device.id, rule=rule, last_outcome=outcome)
        db.session.add(state)
    state.last_outcome = outcome
    state.failing_since = utcnow() if outcome == "fail" else None
    db.session.commit()


def _post(web, client, device, action: str, **fields):
    form = {"csrf_token": web.csrf(client, f"/devices/{device.id}"), "reason": REASON, "confirm": "yes", **fields}
    return client.post(f"/devices/{device.id}/{action}", data=form)


def _count(action: str, device) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.target_type == "device", AuditEntry.target_id == str(device.id))) or 0


def _state(device) -> str:
    db.session.expire_all()
    return db.session.get(Device, device.id).state


def _actions(device) -> int:
    return db.session.scalar(select(func.count()).select_from(PhoneAction).where(PhoneAction.device_id == device.id)) or 0


# --- who may ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["manager", "it", "admin", "auditor"])
def test_retire_works_for_the_teams_manager_it_admin_and_information_governance(client, web, phone, role):
    web.sign_in(client, getattr(web, role))
    answer = _post(web, client, phone, "retire")
    assert answer.status_code == 302
    assert _state(phone) == "retired"
    assert _count("device.retired", phone) == 1
    entry = db.session.scalar(select(PhoneAction).where(PhoneAction.device_id == phone.id))
    assert entry.reason == REASON
    assert entry.by_id == getattr(web, role).id
    retired = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "device.retired"))
    assert retired.actor_user_id == getattr(web, role).id
    assert REASON not in retired.details  # the free text stays on its row, the audit names it by id


def test_retire_is_refused_and_audited_for_another_teams_manager(client, web, phone):
    web.sign_in(client, web.other_manager)
    answer = _post(web, client, phone, "retire")
    assert answer.status_code == 403
    assert "your own team" in answer.get_data(as_text=True)
    assert _state(phone) == "provisioned"
    assert _count("device.retire_refused", phone) == 1
    assert _actions(phone) == 0


@pytest.mark.parametrize("role", ["manager", "it", "admin"])
def test_reinstate_works_for_the_teams_manager_it_and_admin(client, web, suspended, role):
    web.sign_in(client, getattr(web, role))
    answer = _post(web, client, suspended, "reinstate")
    assert answer.status_code == 302
    assert _state(suspended) == "approved"
    assert _count("device.reinstated", suspended) == 1


@pytest.mark.parametrize("role", ["auditor", "other_manager"])
def test_reinstate_is_refused_and_audited_for_information_governance_and_other_teams(client, web, suspended, role):
    web.sign_in(client, getattr(web, role))
    answer = _post(web, client, suspended, "reinstate")
    assert answer.status_code == 403
    assert _state(suspended) == "suspended"
    assert _count("device.reinstate_refused", suspended) == 1


def test_a_forbidden_person_is_refused_even_with_a_bad_form(client, web, suspended):
    web.sign_in(client, web.auditor)
    answer = _post(web, client, suspended, "reinstate", reason="", confirm="")
    assert answer.status_code == 403
    assert _count("device.reinstate_refused", suspended) == 1


def test_the_actions_are_shown_only_to_those_who_may_use_them(client, web, suspended):
    web.sign_in(client, web.auditor)
    html = client.get(f"/devices/{suspended.id}").get_data(as_text=True)
    assert "Retire this phone" in html
    assert "Reinstate this phone" not in html
    web.sign_in(client, web.manager)
    html = client.get(f"/devices/{suspended.id}").get_data(as_text=True)
    assert "Reinstate this phone" in html


def test_a_broadcast_phone_is_retired_by_a_manager_of_its_service(client, web, factory):
    device = factory.device(serial="BCAST0001", role="broadcast", state="approved")
    broadcast.designate(db.session, web.service, device, Actor.for_user(web.manager))
    db.session.commit()
    web.sign_in(client, web.other_manager)  # another team, same service
    answer = _post(web, client, device, "retire")
    assert answer.status_code == 302
    designation = db.session.scalar(select(BroadcastDesignation).where(BroadcastDesignation.device_id == device.id))
    assert designation.ended_at is not None
    assert designation.end_reason == REASON


# --- what retiring ends ----------------------------------------------------------------------------------------
def test_retiring_cancels_the_open_request_and_the_phone_cannot_be_enrolled_again(web):
    phone_actions.retire(db.session, web.device, Actor.for_user(web.it), reason=REASON)
    db.session.commit()
    request = db.session.get(EnrolmentRequest, web.request.id)
    assert request.status == "cancelled"
    with pytest.raises(InvalidTransition):
        enrolment.request_enrolment(db.session, web.device, Actor.for_user(web.it), staff_member=web.staff)


def test_retiring_a_retired_phone_is_refused_and_changes_nothing(web, phone):
    phone_actions.retire(db.session, phone, Actor.for_user(web.it), reason=REASON)
    db.session.commit()
    with pytest.raises(Conflict, match="already retired"):
        phone_actions.retire(db.session, phone, Actor.for_user(web.it), reason="again")
    db.session.rollback()
    assert _actions(phone) == 1
    assert _count("device.retire_refused", phone) == 1


def test_acting_on_a_phone_that_changed_since_the_page_was_shown_is_refused(web, suspended):
    phone_actions.reinstate(db.session, suspended, Actor.for_user(web.it), reason=REASON)
    db.session.commit()
    with pytest.raises(Conflict, match="while you were looking"):
        phone_actions.retire(db.session, suspended, Actor.for_user(web.manager), reason=REASON, expected_state="suspended")
    db.session.rollback()
    assert _state(suspended) == "approved"
    assert _count("device.retire_refused", suspended) == 1


# --- reinstating -----------------------------------------------------------------------------------------------
def test_reinstate_is_refused_while_a_blocking_rule_fails_and_allowed_once_it_passes(client, web, suspended):
    _fail(suspended, "not_rooted")
    web.sign_in(client, web.manager)
    page = client.get(f"/devices/{suspended.id}").get_data(as_text=True)
    assert "No su binary (not rooted)" in page
    assert "It cannot be reinstated while the rules above fail" in page
    forged = _post(web, client, suspended, "reinstate")
    assert forged.status_code == 403
    assert "No su binary (not rooted)" in forged.get_data(as_text=True)
    assert _state(suspended) == "suspended"
    assert _count("device.reinstate_refused", suspended) == 1

    _fail(suspended, "not_rooted", outcome="pass")  # IT fixed it and the phone was checked again
    page = client.get(f"/devices/{suspended.id}").get_data(as_text=True)
    assert "Nothing blocks: it can be reinstated." in page
    assert _post(web, client, suspended, "reinstate").status_code == 302
    assert _state(suspended) == "approved"


def test_a_failing_rule_that_does_not_block_does_not_stop_reinstatement(web, suspended):
    _fail(suspended, "secure_lock_screen")
    phone_actions.reinstate(db.session, suspended, Actor.for_user(web.it), reason=REASON)
    db.session.commit()
    assert _state(suspended) == "approved"


def test_reinstating_a_phone_that_is_not_suspended_is_refused(web, phone):
    with pytest.raises(Conflict, match="Only a suspended phone"):
        phone_actions.reinstate(db.session, phone, Actor.for_user(web.it), reason=REASON)
    db.session.rollback()
    assert _state(phone) == "provisioned"
    assert _count("device.reinstate_refused", phone) == 1


# --- bad input -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fields, message", [
    ({"reason": "  "}, "Enter the reason"),
    ({"confirm": ""}, "Confirm that you want to retire this phone"),
])
def test_a_missing_reason_or_confirmation_shows_the_error_summary_and_changes_nothing(client, web, phone, fields, message):
    web.sign_in(client, web.manager)
    answer = _post(web, client, phone, "retire", **fields)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "There is a problem" in html
    assert message in html
    assert _state(phone) == "provisioned"
    assert _actions(phone) == 0


def test_a_reason_that_is_too_long_is_refused_by_the_service(web, phone):
    with pytest.raises(InvalidInput):
        phone_actions.retire(db.session, phone, Actor.for_user(web.it), reason="x" * (phone_actions.REASON_MAX + 1))
    db.session.rollback()
    assert _state(phone) == "provisioned"


def test_an_unknown_action_is_not_found(client, web, phone):
    web.sign_in(client, web.admin)
    assert _post(web, client, phone, "reassign-to-me").status_code == 404


# --- why it is suspended ---------------------------------------------------------------------------------------
def test_the_page_names_the_rules_that_suspended_the_phone(client, web, phone):
    _suspend(phone, reason="compliance: storage_encrypted, secure_lock_screen failing past grace")
    web.sign_in(client, web.manager)
    html = client.get(f"/devices/{phone.id}").get_data(as_text=True)
    assert "Why it is suspended" in html
    assert "Compliance rules failed past their grace period" in html
    assert "<li>Storage is encrypted</li>" in html
    assert "<li>A PIN, pattern or password locks the phone</li>" in html


def test_a_lost_phone_report_suspends_it_and_the_page_names_the_incident(client, web, phone, app):
    incident = phone_actions.report_lost(db.session, phone, Actor.for_user(web.manager), app.config["PHONEGATE"],
                                         reason="Left on the bus this morning.")
    db.session.commit()
    assert _state(phone) == "suspended"
    assert incident.phone_suspended is True
    web.sign_in(client, web.manager)
    html = client.get(f"/devices/{phone.id}").get_data(as_text=True)
    assert "Reported lost or stolen" in html
    assert incident.reference in html
    assert "incident: reported" in html  # in the timeline


def test_the_phone_page_links_to_the_lost_or_stolen_report(client, web, phone):
    web.sign_in(client, web.it)
    html = client.get(f"/devices/{phone.id}").get_data(as_text=True)
    assert f"/incidents/new?device_id={phone.id}&amp;kind=lost_or_stolen" in html


def test_a_lost_report_for_a_phone_the_person_cannot_see_is_refused_and_audited(web, phone, app):
    from server.services.errors import Forbidden

    with pytest.raises(Forbidden):
        phone_actions.report_lost(db.session, phone, Actor.for_user(web.other_manager), app.config["PHONEGATE"],
                                  reason="Lost")
    db.session.rollback()
    assert _state(phone) == "provisioned"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "incident.report_refused")) == 1


# --- the timeline ----------------------------------------------------------------------------------------------
def test_retiring_shows_in_the_timeline_with_its_reason_in_words(client, web, phone):
    web.sign_in(client, web.manager)
    _post(web, client, phone, "retire")
    html = client.get(f"/devices/{phone.id}").get_data(as_text=True)
    assert "device: retired" in html
    assert REASON in html
    assert "Phone action" not in html  # the reason is shown as words, not as a row id


def test_a_refused_reinstatement_shows_in_the_timeline_with_the_rule_titles(client, web, suspended):
    _fail(suspended, "storage_encrypted")
    with pytest.raises(PolicyRefused):
        phone_actions.reinstate(db.session, suspended, Actor.for_user(web.it), reason=REASON)
    db.session.rollback()
    web.sign_in(client, web.manager)
    html = client.get(f"/devices/{suspended.id}").get_data(as_text=True)
    assert "device: reinstate refused" in html
    assert "Failing rules" in html
    assert "Storage is encrypted" in html


# --- the command line ------------------------------------------------------------------------------------------
def test_the_command_line_retires_a_phone_with_its_reason(runner, phone):
    result = runner.invoke(["device", "retire", phone.serial, "--reason", REASON])
    assert result.exit_code == 0, result.output
    assert "Retired ACTION0001" in result.stdout
    assert _state(phone) == "retired"
    # No anonymous "cli": the operating-system account that ran it (server/commands/actor.py).
    assert db.session.scalar(select(AuditEntry.actor).where(AuditEntry.action == "device.retired")).startswith("cli:")


def test_the_command_line_reinstates_a_suspended_phone(runner, suspended):
    result = runner.invoke(["device", "reinstate", suspended.serial, "--reason", REASON])
    assert result.exit_code == 0, result.output
    assert _state(suspended) == "approved"


@pytest.mark.parametrize("args", [
    ["device", "retire", "NO-SUCH-PHONE", "--reason", REASON],
    ["device", "retire", "ACTION0001"],
    ["device", "retire", "ACTION0001", "--reason", "   "],
    ["device", "reinstate", "ACTION0001", "--reason", REASON],  # provisioned, not suspended
])
def test_bad_input_on_the_command_line_is_exit_2_and_changes_nothing(runner, phone, args):
    result = runner.invoke(args)
    assert result.exit_code == 2, result.output
    assert _state(phone) == "provisioned"
    assert _actions(phone) == 0


def test_retiring_a_retired_phone_on_the_command_line_is_exit_2(runner, phone):
    assert runner.invoke(["device", "retire", phone.serial, "--reason", REASON]).exit_code == 0
    again = runner.invoke(["device", "retire", phone.serial, "--reason", REASON])
    assert again.exit_code == 2
    assert "already retired" in again.stderr


def test_reinstating_while_a_blocking_rule_fails_is_exit_3_and_audited(runner, suspended):
    _fail(suspended, "bootloader_locked")
    result = runner.invoke(["device", "reinstate", suspended.serial, "--reason", REASON])
    assert result.exit_code == 3, result.output
    assert "bootloader" in result.stderr.lower()
    assert _state(suspended) == "suspended"
    assert _count("device.reinstate_refused", suspended) == 1


def test_reporting_lost_on_the_command_line_needs_a_person_and_is_refused_and_audited(runner, phone):
    # Without --as an incident has no person to report it: refused, not recorded as an account name.
    result = runner.invoke(["device", "report-lost", phone.serial, "--reason", "Left on the bus."])
    assert result.exit_code == 3, result.output
    assert _state(phone) == "provisioned"
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "incident.report_refused")) == 1


def test_reporting_lost_on_the_command_line_as_a_manager_records_the_incident(runner, phone, web):
    result = runner.invoke(["device", "report-lost", phone.serial, "--reason", "Left on the bus.", "--as", web.manager.email])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 1


def test_on_the_command_line_as_a_person_that_persons_role_decides(runner, suspended, web):
    result = runner.invoke(["device", "reinstate", suspended.serial, "--reason", REASON, "--as", web.auditor.email])
    assert result.exit_code == 3, result.output
    assert _state(suspended) == "suspended"
