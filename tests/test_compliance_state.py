"""Per-rule and per-phone compliance state, grace, server-side rules, actions (mail, escalation, suspension),
daily summaries and pruning, driven through the real services with explicit times (a sweep every few days)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import Acknowledgement, AuditEntry, ComplianceDaily, ComplianceResult, Device, DeviceRuleState
from server.services.actor import Actor
from server.services.audit import verify_chain
from server.services.compliance.ingest import start_sweep, store_results
from server.services.compliance.retention import prune_results
from server.services.compliance.sweeps import finish_sweep
from server.settings import current_settings

DAY0 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)


def sweep_at(when: datetime, outcomes: dict[str, dict[str, str]], seen: tuple[str, ...] | None = None) -> dict:
    """One sweep at `when`: `outcomes` maps serial -> {rule: outcome}; phones in `seen` (default: all) answered."""
    sweep, _ = start_sweep(db.session, str(uuid.uuid4()), "cli", Actor.system())
    results = [{"serial": serial, "rule": rule, "outcome": outcome, "severity": "high", "observed": outcome,
                "evidence": {}, "checked_at": when} for serial, rules in outcomes.items() for rule, outcome in rules.items()]
    sightings = [{"serial": serial, "facts_summary": {}, "seen_at": when} for serial in (seen if seen is not None else outcomes)]
    store_results(db.session, sweep, results, sightings)
    summary = finish_sweep(db.session, sweep.id, Actor.system(), now=when, settings=current_settings())
    db.session.commit()
    return summary


def rule_state(serial: str, rule: str) -> DeviceRuleState | None:
    return db.session.scalar(select(DeviceRuleState).join(Device, Device.id == DeviceRuleState.device_id)
                             .where(Device.serial == serial, DeviceRuleState.rule == rule))


def phone(serial: str) -> Device:
    db.session.expire_all()
    return db.session.scalar(select(Device).where(Device.serial == serial))


@pytest.fixture
def broadcast_phone(factory, compliance_rules):
    """A provisioned Broadcast phone: the holder rules do not apply, so only device rules decide its state."""
    service = factory.service()
    team = factory.team(service=service)
    return factory.device(serial="BC1", role="broadcast", state="provisioned", service_id=service.id,
                          adb_endpoint="127.0.0.1:5555", model="Pixel 8"), team


def test_in_grace_until_the_rule_grace_ends_then_non_compliant(app, broadcast_phone):
    rule = "security_patch_max_age_days"  # grace_days: 3 in the test rules
    summary = sweep_at(DAY0, {"BC1": {rule: "fail", "storage_encrypted": "pass"}})
    state = rule_state("BC1", rule)
    assert state.failing_since == DAY0
    assert state.grace_until == DAY0 + timedelta(days=3)
    assert phone("BC1").compliance_state == "in_grace"
    assert phone("BC1").compliance_grace_until == DAY0 + timedelta(days=3)
    assert summary["in_grace"] == [{"serial": "BC1", "until": DAY0 + timedelta(days=3)}]

    sweep_at(DAY0 + timedelta(days=2), {"BC1": {rule: "fail"}})
    assert phone("BC1").compliance_state == "in_grace"
    assert rule_state("BC1", rule).failing_since == DAY0  # the clock is not restarted by a repeated failure

    summary = sweep_at(DAY0 + timedelta(days=3, hours=1), {"BC1": {rule: "fail"}})
    assert phone("BC1").compliance_state == "non_compliant"
    assert summary["non_compliant"] == ["BC1"]

    # "error" (could not see) neither clears nor restarts a failure.
    sweep_at(DAY0 + timedelta(days=4), {"BC1": {rule: "error"}})
    assert rule_state("BC1", rule).failing_since == DAY0
    assert phone("BC1").compliance_state == "non_compliant"

    sweep_at(DAY0 + timedelta(days=5), {"BC1": {rule: "pass"}})
    assert rule_state("BC1", rule).failing_since is None
    assert phone("BC1").compliance_state == "compliant"

    changes = db.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "device.compliance_changed")
                                 .order_by(AuditEntry.id)).all()
    assert [c.split('"to":"')[1].split('"')[0] for c in changes] == ["in_grace", "non_compliant", "compliant"]
    assert verify_chain(db.session)[0]


def test_phone_not_seen_within_n_days_is_unknown(app, broadcast_phone):
    sweep_at(DAY0, {"BC1": {"storage_encrypted": "pass"}})
    assert phone("BC1").compliance_state == "compliant"
    sweep_at(DAY0 + timedelta(days=8), {}, seen=())  # the phone did not answer
    assert phone("BC1").compliance_state == "unknown"
    assert rule_state("BC1", "seen_recently").last_outcome == "fail"
    assert "last reached" in rule_state("BC1", "seen_recently").observed


def test_server_rules_stale_acknowledgement_and_expired_training(app, factory, compliance_rules):
    team = factory.team()
    manager = factory.user("manager", team=team)
    paper_v1 = factory.policy("2026-01")
    trained = factory.staff(team, training=date.today() - timedelta(days=100))
    expired = factory.staff(team, training=date.today() - timedelta(days=400))
    for staff in (trained, expired):
        db.session.add(Acknowledgement(staff_member_id=staff.id, policy_version_id=paper_v1.id, confirmed_by_id=manager.id,
                                       training_completed_on=staff.training_completed_on))
    factory.device(serial="OK1", state="provisioned", team_id=team.id, staff_member_id=trained.id, adb_endpoint="127.0.0.1:1")
    factory.device(serial="OLD", state="provisioned", team_id=team.id, staff_member_id=expired.id, adb_endpoint="127.0.0.1:2")
    db.session.commit()

    sweep_at(DAY0, {"OK1": {"storage_encrypted": "pass"}, "OLD": {"storage_encrypted": "pass"}})
    assert rule_state("OK1", "acknowledgement_current").last_outcome == "pass"
    assert rule_state("OK1", "training_current").last_outcome == "pass"
    assert rule_state("OLD", "training_current").last_outcome == "fail"
    assert phone("OLD").compliance_state == "in_grace"  # training grace is 14 days in the test rules

    factory.policy("2026-06")  # a new paper: every acknowledgement is now out of date
    sweep_at(DAY0 + timedelta(days=1), {"OK1": {"storage_encrypted": "pass"}, "OLD": {"storage_encrypted": "pass"}})
    ack = rule_state("OK1", "acknowledgement_current")
    assert ack.last_outcome == "fail"
    assert "2026-06" in ack.observed
    assert phone("OK1").compliance_state == "in_grace"
    assert rule_state("OK1", "acknowledgement_current").grace_until == DAY0 + timedelta(days=1 + 14)


def test_one_email_per_manager_per_sweep_listing_every_failure(app, factory, smtp_server, smtp_settings, compliance_rules):
    service = factory.service()
    team, other_team = factory.team("Participation", service=service), factory.team("Youth Voice", service=service)
    managers = [factory.user("manager", team=team, email=f"manager{i}@council.example") for i in (1, 2)]
    other_manager = factory.user("manager", team=other_team, email="other@council.example")
    holder = factory.staff(team, name="Alex Holder", email="alex.holder@council.example")
    for serial in ("T1", "T2"):
        factory.device(serial=serial, state="provisioned", team_id=team.id, staff_member_id=holder.id,
                       adb_endpoint=f"127.0.0.1:{len(serial)}", asset_tag=f"LCC-{serial}")
    failing = {"security_patch_max_age_days": "fail", "disallowed_apps": "fail"}
    sweep_at(DAY0, {"T1": failing, "T2": failing})

    for manager in managers:
        received = smtp_server.to(manager.email)
        assert len(received) == 1  # one message, not one per rule or per phone
        body = received[0].get_content()
        for expected in ("serial T1", "serial T2", "LCC-T1", "security_patch_max_age_days", "disallowed_apps",
                         f"https://phonegate.council.example/compliance/teams/{team.id}"):
            assert expected in body
        assert "Alex Holder" not in body
        assert "alex.holder" not in body  # no holder's personal data in e-mail
        assert received[0]["From"] == "phonegate@council.example"
    assert smtp_server.to(other_manager.email) == []

    # The same failures next sweep: nothing new, no message. A new failure: one message per manager again.
    smtp_server.clear()
    sweep_at(DAY0 + timedelta(days=1), {"T1": failing, "T2": failing})
    assert smtp_server.messages == []
    sweep_at(DAY0 + timedelta(days=2), {"T1": failing, "T2": {**failing, "storage_encrypted": "fail"}})
    assert sorted(m["To"] for m in smtp_server.messages if "escalation" not in m["Subject"]) == sorted(
        m.email for m in managers)
    notified = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "compliance.manager_notified")).all()
    assert len(notified) == 4
    assert all("@" not in entry.details for entry in notified)


def test_mail_outage_means_retry_next_sweep(app, factory, smtp_server, smtp_settings, compliance_rules):
    from dataclasses import replace

    team = factory.team()
    manager = factory.user("manager", team=team, email="m@council.example")
    factory.device(serial="M1", role="broadcast", state="provisioned", team_id=team.id, adb_endpoint="127.0.0.1:1")
    app.config["PHONEGATE"] = replace(smtp_settings, smtp=replace(smtp_settings.smtp, port=1))  # nothing listens there
    sweep_at(DAY0, {"M1": {"disallowed_apps": "fail"}})
    assert rule_state("M1", "disallowed_apps").notified_at is None
    app.config["PHONEGATE"] = smtp_settings
    sweep_at(DAY0 + timedelta(hours=4), {"M1": {"disallowed_apps": "fail"}})
    assert len(smtp_server.to(manager.email)) == 1
    assert rule_state("M1", "disallowed_apps").notified_at is not None


def test_escalation_to_admins_after_n_days_failing(app, factory, smtp_server, smtp_settings, broadcast_phone):
    admins = [factory.user("admin", email=f"ig{i}@council.example") for i in (1, 2)]
    rule = "security_patch_max_age_days"  # escalate_after_days: 5
    sweep_at(DAY0, {"BC1": {rule: "fail"}})
    assert not any("escalation" in m["Subject"] for m in smtp_server.messages)
    sweep_at(DAY0 + timedelta(days=4), {"BC1": {rule: "fail"}})
    assert not any("escalation" in m["Subject"] for m in smtp_server.messages)
    summary = sweep_at(DAY0 + timedelta(days=5, hours=1), {"BC1": {rule: "fail"}})
    assert summary["actions"]["escalation_emails"] == 2
    for admin in admins:
        (message,) = smtp_server.to(admin.email)
        assert "escalation" in message["Subject"]
        assert rule in message.get_content()
        assert "BC1" in message.get_content()
    sweep_at(DAY0 + timedelta(days=6), {"BC1": {rule: "fail"}})
    assert all(len(smtp_server.to(admin.email)) == 1 for admin in admins)  # escalated once
    assert rule_state("BC1", rule).escalated_at == DAY0 + timedelta(days=5, hours=1)


def test_suspension_moves_the_phone_to_suspended_and_is_audited(app, broadcast_phone):
    summary = sweep_at(DAY0, {"BC1": {"storage_encrypted": "fail"}})  # grace 0, suspend: true
    assert summary["actions"]["suspended"] == ["BC1"]
    assert phone("BC1").state == "suspended"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "device.state_changed")
                              .order_by(AuditEntry.id.desc()).limit(1))
    assert '"to":"suspended"' in entry.details
    assert "storage_encrypted" in entry.details
    # Already suspended: the next failing sweep does not try again.
    again = sweep_at(DAY0 + timedelta(hours=4), {"BC1": {"storage_encrypted": "fail"}})
    assert again["actions"]["suspended"] == []
    assert verify_chain(db.session)[0]


def test_pruning_deletes_old_raw_results_and_keeps_summaries(app, broadcast_phone):
    sweep_at(DAY0 - timedelta(days=100), {"BC1": {"security_patch_max_age_days": "fail"}})
    sweep_at(DAY0 - timedelta(days=10), {"BC1": {"security_patch_max_age_days": "fail"}})
    assert db.session.scalar(select(func.count()).select_from(ComplianceDaily)) == 2
    old_results = db.session.scalar(select(func.count()).select_from(ComplianceResult)
                                    .where(ComplianceResult.checked_at < DAY0 - timedelta(days=90)))
    assert old_results > 0
    deleted = prune_results(db.session, DAY0, retention_days=90)
    db.session.commit()
    assert deleted == old_results
    assert db.session.scalar(select(func.count()).select_from(ComplianceResult)
                             .where(ComplianceResult.checked_at < DAY0 - timedelta(days=90))) == 0
    assert db.session.scalar(select(func.count()).select_from(ComplianceResult)) > 0
    days = db.session.scalars(select(ComplianceDaily.day).order_by(ComplianceDaily.day)).all()
    assert days == [(DAY0 - timedelta(days=100)).date(), (DAY0 - timedelta(days=10)).date()]
    assert rule_state("BC1", "security_patch_max_age_days").failing_since == DAY0 - timedelta(days=100)


def test_daily_summary_is_one_row_per_phone_per_day(app, broadcast_phone):
    sweep_at(DAY0.replace(hour=1), {"BC1": {"security_patch_max_age_days": "fail"}})
    sweep_at(DAY0.replace(hour=5), {"BC1": {"security_patch_max_age_days": "pass"}})
    rows = db.session.scalars(select(ComplianceDaily)).all()
    assert len(rows) == 1
    assert rows[0].state == "compliant"
    assert rows[0].failing_rules == ""


def test_rules_that_do_not_mark_or_are_not_in_force_leave_the_phone_compliant(app, broadcast_phone):
    from fixtures_compliance import RULES_FOR_TESTS

    from server.services.compliance.rules import publish_version

    document = RULES_FOR_TESTS.replace(
        "on_failure: {mark: true, email_manager: true, escalate_after_days: null, suspend: false}",
        "on_failure: {mark: false, email_manager: true, escalate_after_days: null, suspend: false}")
    assert document != RULES_FOR_TESTS
    publish_version(db.session, document, Actor.system(), comment="disallowed apps: report only")
    db.session.commit()
    # disallowed_apps fails but does not mark; media_retention is not in the document at all.
    sweep_at(DAY0, {"BC1": {"disallowed_apps": "fail", "media_retention": "fail", "storage_encrypted": "pass"}})
    assert rule_state("BC1", "disallowed_apps").failing_since == DAY0  # still recorded (and e-mailed)
    assert phone("BC1").compliance_state == "compliant"


def test_many_state_changes_in_one_sweep_keep_the_audit_chain_intact(app, factory, compliance_rules):
    service = factory.service()
    for i in range(30):
        factory.device(serial=f"MANY{i:02d}", role="broadcast", state="provisioned", service_id=service.id,
                       adb_endpoint=f"127.0.0.1:{7000 + i}")
    sweep_at(DAY0, {f"MANY{i:02d}": {"disallowed_apps": "fail" if i % 2 else "pass"} for i in range(30)})
    changes = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "device.compliance_changed")
                                 .order_by(AuditEntry.id)).all()
    assert len(changes) == 30
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in zip(changes, changes[1:]))
    ok, first_bad, reason = verify_chain(db.session)
    assert ok, reason
