"""Lab and dock phones: `phonegate device mark-lab SERIAL --reason TEXT [--unmark]`, audited with who and why; the
sweep plan carries lab_phone, so a phone with `adb tcpip 5555` fails no_network_adb until it is marked; its page
says so. Runs on SQLite and PostgreSQL (the db_url fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from device_agent.client import PhoneGateClient, RetryPolicy
from device_agent.outbox import Outbox
from device_agent.sweep import SweepOptions, run_sweep
from device_agent.sweep_api import ComplianceApi
from server.models import AuditEntry, ComplianceResult, Device

# Device rules only, no grace: this sweep's results alone decide.
RULES_DOCUMENT = """
schema: 1
rules:
  identity: {grace_days: 0}
  not_rooted: {grace_days: 0}
  no_network_adb: {grace_days: 0}
"""


def audit_count(factory) -> int:
    return factory.session.scalar(select(func.count()).select_from(AuditEntry))


def lab_entries(factory) -> list[AuditEntry]:
    return factory.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("device.lab_phone_%")).order_by(AuditEntry.id)).all()


# --- the command --------------------------------------------------------------------------------------------

def test_mark_lab_sets_the_flag(runner, factory) -> None:
    phone = factory.device(serial="LAB0001")
    result = runner.invoke(["device", "mark-lab", "LAB0001", "--reason", "Test rack in the IT office"])
    assert result.exit_code == 0, result.output
    factory.session.refresh(phone)
    assert phone.lab_phone is True


def test_mark_lab_is_audited_with_who_and_why(runner, factory) -> None:
    phone = factory.device(serial="LAB0002")
    runner.invoke(["device", "mark-lab", "LAB0002", "--reason", "Kiosk dock at reception"])
    entry = lab_entries(factory)[-1]
    from server.commands.actor import os_account

    assert (entry.action, entry.actor, entry.target_id) == ("device.lab_phone_marked", f"cli:{os_account()}", str(phone.id))
    assert json.loads(entry.details)["reason"] == "Kiosk dock at reception"


def test_unmark_makes_it_a_work_phone_again_and_is_audited(runner, factory) -> None:
    phone = factory.device(serial="LAB0003")
    runner.invoke(["device", "mark-lab", "LAB0003", "--reason", "Test rack"])
    result = runner.invoke(["device", "mark-lab", "LAB0003", "--unmark", "--reason", "Given to a social worker"])
    assert result.exit_code == 0, result.output
    factory.session.refresh(phone)
    assert phone.lab_phone is False
    assert [e.action for e in lab_entries(factory)] == ["device.lab_phone_marked", "device.lab_phone_unmarked"]


def test_marking_it_again_changes_and_audits_nothing(runner, factory) -> None:
    factory.device(serial="LAB0004")
    runner.invoke(["device", "mark-lab", "LAB0004", "--reason", "Test rack"])
    before = audit_count(factory)
    result = runner.invoke(["device", "mark-lab", "LAB0004", "--reason", "Test rack"])
    assert result.exit_code == 0
    assert "nothing was changed" in result.stdout
    assert audit_count(factory) == before


def test_an_unknown_serial_is_exit_2_with_a_sentence(runner, factory) -> None:
    factory.device(serial="LAB0005")
    before = audit_count(factory)
    result = runner.invoke(["device", "mark-lab", "NOSUCHPHONE", "--reason", "Test rack"])
    assert result.exit_code == 2
    assert "No phone with the serial NOSUCHPHONE is registered" in result.stderr
    assert "Traceback" not in result.output
    assert audit_count(factory) == before


@pytest.mark.parametrize(("args", "said"), [
    (["device", "mark-lab", "LAB0006"], "Missing option '--reason'"),
    (["device", "mark-lab", "LAB0006", "--reason", "   "], "Give a reason"),
    (["device", "mark-lab", "LAB0006", "--reason", "x" * 501], "too long"),
    (["device", "mark-lab", "LAB0006", "--reason", "rack\x1b[2J"], "control or direction character"),
    (["device", "mark-lab", "LAB0006", "--reason", "asked by sam@council.example"], "e-mail address"),
    (["device", "mark-lab", "", "--reason", "Test rack"], "No phone with the serial (blank)"),
    (["device", "mark-lab", "--reason", "Test rack"], "Missing argument 'SERIAL'"),
], ids=["no-reason", "blank-reason", "long-reason", "control-character", "email-in-reason", "blank-serial", "no-serial"])
def test_bad_input_is_exit_2_and_changes_nothing(runner, factory, args: list[str], said: str) -> None:
    phone = factory.device(serial="LAB0006")
    before = audit_count(factory)
    result = runner.invoke(args)
    assert result.exit_code == 2, result.output
    assert said in result.output
    factory.session.refresh(phone)
    assert phone.lab_phone is False
    assert audit_count(factory) == before


def test_help_lists_the_command(runner) -> None:
    assert "mark-lab" in runner.invoke(["device", "--help"]).stdout


# --- the phone's page ---------------------------------------------------------------------------------------

def test_the_phones_page_says_lab_or_dock_phone_only_when_set(client, web, runner) -> None:
    web.sign_in(client, web.it)
    assert "Lab or dock phone" not in client.get(f"/devices/{web.device.id}").get_data(as_text=True)
    runner.invoke(["device", "mark-lab", web.device.serial, "--reason", "Test rack"])
    assert "Lab or dock phone" in client.get(f"/devices/{web.device.id}").get_data(as_text=True)


# --- the sweep: plan and verdict ----------------------------------------------------------------------------

@pytest.fixture
def agent_token(factory) -> str:
    plaintext, _ = factory.token(factory.user("it"), scope="agent")
    return plaintext


def _api(url: str, token: str) -> ComplianceApi:
    retry = RetryPolicy(attempts=2, first_delay_s=0.05)
    return ComplianceApi(client_factory=lambda: PhoneGateClient(url, token, timeout_s=10, retry=retry))


def _sweep(live_server, token: str, adb_key, outbox: Outbox):
    return run_sweep(_api(live_server.url, token), outbox, SweepOptions(key=adb_key, timeout_per_phone_s=20))


def _outcome(app, sweep_id: str, serial: str, rule: str) -> str:
    from server.extensions import db

    with app.app_context():
        return db.session.scalar(
            select(ComplianceResult.outcome).join(Device, Device.id == ComplianceResult.device_id)
            .where(ComplianceResult.sweep_id == sweep_id, Device.serial == serial, ComplianceResult.rule == rule))


def test_the_sweep_plan_carries_lab_phone(live_server, factory, agent_token, runner) -> None:
    factory.device(serial="PLAN0001", adb_endpoint="127.0.0.1:1", state="provisioned")
    runner.invoke(["device", "mark-lab", "PLAN0001", "--reason", "Test rack"])
    plan = _api(live_server.url, agent_token).start_sweep("5b0c7e0e-1c1a-4c39-9d1e-000000000001", "cli")
    assert [d["lab_phone"] for d in plan.devices if d["serial"] == "PLAN0001"] == [True]


def test_a_phone_with_adb_tcpip_is_non_compliant_until_it_is_marked_lab(
        live_server, factory, agent_token, runner, phone_simulator, adb_key, tmp_path: Path) -> None:
    from server.services.compliance.rules import publish_version

    publish_version(factory.session, RULES_DOCUMENT, factory.actor, comment="test rules")
    factory.session.commit()
    (phone,) = phone_simulator(1, profiles=["google-pixel-9"])
    phone.phone.change(properties={"service.adb.tcp.port": "5555"})  # what `adb tcpip 5555` leaves behind
    factory.device(serial=phone.serial, model=phone.phone.properties["ro.product.model"],
                   build_fingerprint=phone.phone.properties["ro.build.fingerprint"],
                   adb_endpoint=phone.endpoint, state="approved")
    outbox = Outbox(tmp_path / "outbox")

    before = _sweep(live_server, agent_token, adb_key, outbox)
    assert before.non_compliant == [phone.serial]
    assert _outcome(live_server.app, before.plan.sweep_id, phone.serial, "no_network_adb") == "fail"

    marked = runner.invoke(["device", "mark-lab", phone.serial, "--reason", "Dock phone for the reception kiosk"])
    assert marked.exit_code == 0, marked.output

    after = _sweep(live_server, agent_token, adb_key, outbox)
    assert after.non_compliant == []
    assert _outcome(live_server.app, after.plan.sweep_id, phone.serial, "no_network_adb") == "not_applicable"
