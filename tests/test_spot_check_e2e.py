"""A spot check end to end, with a simulated phone that speaks real ADB and the real server on loopback.

The manager starts it on the web page (the holder's e-mail arrives at a real SMTP server); IT plugs the phone in and
runs `phonegate spot-check --tcp` with an agent token (facts, a compliance run, WhatsApp storage: media ages, chat
backups, exported chats); the manager completes the checklist with a follow-up, and once it is overdue the
dashboard shows it. Then what must not work: no open spot check, a provision token, a phone that has not
allowed this computer's key.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from device_agent.simulator.profiles import ProfileFile, load_profile
from server.extensions import db
from server.models import AuditEntry, FollowUp, SpotCheck
from server.services.spot_checks.evidence import evidence_of

pytestmark = [pytest.mark.slow]

DB = "/sdcard/Android/media/com.whatsapp/WhatsApp/Databases"
EXPORT_NAME = "WhatsApp Chat with Jordan Service-User.txt"


def _profile():
    base = load_profile("samsung-galaxy-s24")
    return dataclasses.replace(base, files=[*base.files,
        ProfileFile(f"{DB}/msgstore.db.crypt14", age_days=1, size=5000),
        ProfileFile(f"{DB}/msgstore-2026-11-20.1.db.crypt14", age_days=12, size=5000),
        ProfileFile(f"/sdcard/Download/{EXPORT_NAME}", age_days=3, size=900),
        ProfileFile("/sdcard/Documents/WhatsApp Chat - Youth forum.zip", age_days=45, size=9000),
        ProfileFile("/sdcard/Download/holiday.jpg", age_days=2, size=100)])


@pytest.fixture
def plugged_in(web, factory, phone_simulator, adb_key, live_server, smtp_settings):
    (phone,) = phone_simulator(1, profiles=[_profile()])
    holder = factory.staff(team=web.team, name="Robin Holder", email="robin@example.test")
    device = factory.device(serial=phone.serial, state="provisioned", role="individual", team_id=web.team.id,
                            service_id=web.service.id, staff_member_id=holder.id, manufacturer="samsung",
                            model="SM-S921B", adb_endpoint=phone.endpoint)
    agent, _ = factory.token(web.it, "agent")
    env = {"PHONEGATE_SERVER": live_server.url, "PHONEGATE_TOKEN": agent, "PHONEGATE_ADB_KEY": str(adb_key.path)}
    return phone, device, env


def _start_on_the_page(client, web, device) -> SpotCheck:
    web.sign_in(client, web.manager)
    bring = date.today() + timedelta(days=10)
    answer = client.post("/spot-checks", data={
        "csrf_token": web.csrf(client, "/spot-checks/new"), "device_id": str(device.id), "bring_by-day": str(bring.day),
        "bring_by-month": str(bring.month), "bring_by-year": str(bring.year)})
    assert answer.status_code == 302
    return db.session.scalar(select(SpotCheck).where(SpotCheck.device_id == device.id))


def test_a_spot_check_from_start_to_an_overdue_follow_up(client, web, runner, plugged_in, smtp_server):
    phone, device, env = plugged_in
    check = _start_on_the_page(client, web, device)
    mail = smtp_server.to("robin@example.test")
    assert len(mail) == 1
    assert "bring it to them by" in mail[0].get_content()

    result = runner.invoke(["spot-check", "--tcp", phone.endpoint], env=env)
    assert result.exit_code == 0, result.output
    assert f"evidence recorded for spot check {check.id}" in result.stdout
    assert "2 exported chat(s) and 2 chat backup(s)" in result.stdout

    db.session.expire_all()
    recorded = db.session.get(SpotCheck, check.id)
    assert recorded.status == "evidence_recorded"
    evidence = evidence_of(recorded)
    assert evidence["facts"]["model"] == "SM-S921B"
    assert {f["name"] for f in evidence["whatsapp"]["backups"]} == {"msgstore.db.crypt14", "msgstore-2026-11-20.1.db.crypt14"}
    exports = {(f["folder"], f["name"], f["age_days"]) for f in evidence["whatsapp"]["exports"]}
    assert exports == {("Download", "WhatsApp Chat with [name withheld].txt", 3),
                       ("Documents", "WhatsApp Chat - [name withheld].zip", 45)}
    assert "Jordan" not in recorded.evidence  # the chat's name (a person's) is never kept
    images = next(m for m in evidence["whatsapp"]["media"] if m["folder"].endswith("WhatsApp Images"))
    assert (images["files"], images["older_than_limit"]) == (2, 1)
    media_rule = next(r for r in evidence["compliance"] if r["rule"] == "media_retention")
    assert media_rule["outcome"] == "fail"
    assert "in the case record" in media_rule["observed"]  # the retention nudge says what to do, in order
    assert "then delete them" in media_rule["observed"]

    page = client.get(f"/spot-checks/{check.id}").get_data(as_text=True)
    assert "WhatsApp Chat with [name withheld].txt" in page
    due = date.today() + timedelta(days=1)
    answers = {"no_sensitive_data": "yes", "case_record": "yes", "inactive_deleted": "no", "media_retention": "no",
               "service_users_told": "yes"}
    done = client.post(f"/spot-checks/{check.id}/complete", data={
        "csrf_token": web.csrf(client, f"/spot-checks/{check.id}"), "outcome": "follow_up",
        **{f"answer-{key}": value for key, value in answers.items()},
        "follow_up-0-action": "Enter the exported chats in the case record, then delete them",
        "follow_up-0-due-day": str(due.day), "follow_up-0-due-month": str(due.month), "follow_up-0-due-year": str(due.year)})
    assert done.status_code == 302
    follow_up = db.session.scalar(select(FollowUp).where(FollowUp.spot_check_id == check.id))
    follow_up.due_on = date.today() - timedelta(days=2)  # the due date passes
    db.session.commit()
    dashboard = client.get("/").get_data(as_text=True)
    assert "Overdue follow-ups" in dashboard
    assert "Enter the exported chats in the case record" in dashboard
    recorded_by = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "spot_check.evidence_recorded"))
    assert recorded_by.actor.startswith("token:")


def test_json_output_and_re_plugging_replaces_the_evidence(client, web, runner, plugged_in):
    phone, device, env = plugged_in
    check = _start_on_the_page(client, web, device)
    first = runner.invoke(["spot-check", "--tcp", phone.endpoint, "--json"], env=env)
    second = runner.invoke(["spot-check", "--tcp", phone.endpoint, "--json"], env=env)
    assert (first.exit_code, second.exit_code) == (0, 0), second.output
    data = json.loads(second.stdout)
    assert data["spot_check_id"] == check.id
    assert data["exports"] == 2
    replaced = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "spot_check.evidence_recorded")).all()
    assert ['"replaced":false' in e.details for e in replaced] == [True, False]


def test_a_phone_with_no_open_spot_check_is_refused_with_exit_2(runner, plugged_in):
    phone, _, env = plugged_in
    result = runner.invoke(["spot-check", "--tcp", phone.endpoint], env=env)
    assert result.exit_code == 2
    assert "No spot check is open for this phone" in result.stderr


def test_a_provision_token_is_not_enough(client, web, runner, factory, plugged_in):
    phone, device, env = plugged_in
    _start_on_the_page(client, web, device)
    provision, _ = factory.token(web.it, "provision")
    result = runner.invoke(["spot-check", "--tcp", phone.endpoint], env={**env, "PHONEGATE_TOKEN": provision})
    assert result.exit_code == 3
    assert "scope (provision) does not allow" in result.stderr


def test_a_phone_that_has_not_allowed_the_key_exits_4(client, web, runner, factory, phone_simulator, adb_key, live_server):
    (phone,) = phone_simulator(1, authorised=False)
    agent, _ = factory.token(web.it, "agent")
    result = runner.invoke(["spot-check", "--tcp", phone.endpoint, "--auth-timeout", "0.5"], env={
        "PHONEGATE_SERVER": live_server.url, "PHONEGATE_TOKEN": agent, "PHONEGATE_ADB_KEY": str(adb_key.path)})
    assert result.exit_code == 4
    assert phone.endpoint in result.stderr


def test_bad_input_is_refused_before_any_phone_is_touched(runner, tmp_path):
    key = tmp_path / "adbkey"
    assert runner.invoke(["spot-check"]).exit_code == 2
    assert runner.invoke(["spot-check", "--tcp", "not-an-endpoint"]).exit_code == 2
    no_token = runner.invoke(["spot-check", "--tcp", "127.0.0.1:5555"],
                             env={"PHONEGATE_TOKEN": "", "PHONEGATE_ADB_KEY": str(key)})
    assert no_token.exit_code == 2
    assert "PHONEGATE_TOKEN" in no_token.stderr
    assert not key.exists()


@pytest.mark.adb
def test_a_phone_on_the_adb_server_is_chosen_by_its_serial(client, web, factory, runner, adb_server, attached_phones,
                                                          adb_key, live_server, smtp_settings, monkeypatch):
    (attached,) = attached_phones(1, profiles=[_profile()])
    holder = factory.staff(team=web.team)
    device = factory.device(serial=attached.serial, state="provisioned", role="individual", team_id=web.team.id,
                            service_id=web.service.id, staff_member_id=holder.id)
    check = _start_on_the_page(client, web, device)
    agent, _ = factory.token(web.it, "agent")
    monkeypatch.setattr("device_agent.adb.adb_server._default", None)  # this test's adb server, not an earlier one
    result = runner.invoke(["spot-check", "--serial", attached.serial, "--serial", "GONE-PHONE"], env={
        **adb_server.env, "PHONEGATE_SERVER": live_server.url, "PHONEGATE_TOKEN": agent,
        "PHONEGATE_ADB_KEY": str(adb_key.path)})
    assert result.exit_code == 4  # the phone that is not there; the other one is recorded all the same
    assert f"evidence recorded for spot check {check.id}" in result.stdout
    assert "GONE-PHONE" in result.stderr
    db.session.expire_all()
    assert db.session.get(SpotCheck, check.id).status == "evidence_recorded"
