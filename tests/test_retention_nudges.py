"""Retention nudges: the media-retention rule's failure says what to do (enter it in the case record, then
delete), the team manager's e-mail says it too, and the holder is told once per failure (not every sweep) at a
real SMTP server on loopback; the spot-check checklist records that it was done."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from device_agent.checks.base import DeviceExpectation
from device_agent.checks.media import MediaRetention
from device_agent.facts import DeviceFacts, MediaFile
from phonegate.core import device_rules
from server.extensions import db
from server.models import HolderNotice
from server.services.actor import Actor
from server.services.compliance.ingest import start_sweep, store_results
from server.services.compliance.rules import default_document, publish_version
from server.services.compliance.sweeps import finish_sweep
from server.services.spot_checks.checklist import ITEMS
from server.settings import current_settings

NOW = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
RULE = device_rules.MEDIA_RETENTION.rule


def test_the_failure_says_what_to_do_in_order():
    facts = DeviceFacts(media_files=[MediaFile("/sdcard/WhatsApp/Media/WhatsApp Images/a.jpg", NOW - timedelta(days=90))])
    result = MediaRetention().evaluate(facts, DeviceExpectation(), {"max_age_days": 30}, NOW)
    assert result.outcome == "fail"
    assert result.observed.index("case record") < result.observed.index("then delete")


def test_the_checklist_records_that_it_was_done():
    assert "entered in the case record, then deleted" in ITEMS["media_retention"].statement


def _sweep(when: datetime, outcome: str, serial: str = "NUDGE1") -> dict:
    sweep, _ = start_sweep(db.session, str(uuid.uuid4()), "cli", Actor.system())
    observed = "3 media file(s) older than 30 days (oldest 90)" if outcome == "fail" else "fine"
    store_results(db.session, sweep, [{"serial": serial, "rule": RULE, "outcome": outcome, "severity": "medium",
                                       "observed": observed, "evidence": {}, "checked_at": when}],
                  [{"serial": serial, "facts_summary": {}, "seen_at": when}])
    summary = finish_sweep(db.session, sweep.id, Actor.system(), now=when, settings=current_settings())
    db.session.commit()
    return summary


@pytest.fixture
def held_phone(app, web, factory, smtp_settings):
    publish_version(db.session, default_document(), Actor.system())
    db.session.commit()
    holder = factory.staff(team=web.team, name="Robin Holder", email="robin@example.test")
    return factory.device(serial="NUDGE1", state="provisioned", role="individual", team_id=web.team.id,
                          service_id=web.service.id, staff_member_id=holder.id, adb_endpoint="127.0.0.1:1")


def test_the_holder_and_the_manager_are_told_once_per_failure(held_phone, web, smtp_server):
    summary = _sweep(NOW, "fail")
    assert summary["actions"]["holder_emails"] == 1
    holder_mail = smtp_server.to("robin@example.test")
    assert len(holder_mail) == 1
    body = holder_mail[0].get_content()
    assert "What to do: Enter the conversations" in body
    assert "then delete them" in body
    manager_mail = smtp_server.to(web.manager.email)
    assert "What to do: Enter the conversations" in manager_mail[0].get_content()

    _sweep(NOW + timedelta(hours=4), "fail")  # still failing: not told again
    assert len(smtp_server.to("robin@example.test")) == 1
    _sweep(NOW + timedelta(hours=8), "pass")
    _sweep(NOW + timedelta(hours=12), "fail")  # a new failure: told again
    assert len(smtp_server.to("robin@example.test")) == 2
    assert db.session.scalar(select(func.count()).select_from(HolderNotice)) == 2


def test_a_relay_that_refuses_means_the_holder_is_told_next_sweep(held_phone, app, smtp_settings, smtp_server):
    from dataclasses import replace

    from ports import free_port

    from server.settings import SmtpSettings

    app.config["PHONEGATE"] = replace(smtp_settings, smtp=SmtpSettings(host="127.0.0.1", port=free_port()))
    _sweep(NOW, "fail")
    assert db.session.scalar(select(func.count()).select_from(HolderNotice)) == 0
    app.config["PHONEGATE"] = smtp_settings
    _sweep(NOW + timedelta(hours=4), "fail")
    assert len(smtp_server.to("robin@example.test")) == 1


def test_without_email_holder_in_the_rules_nobody_but_the_manager_is_told(app, web, factory, smtp_settings, smtp_server):
    document = default_document().replace("suspend: false, email_holder: true}", "suspend: false}")
    publish_version(db.session, document, Actor.system())
    db.session.commit()
    holder = factory.staff(team=web.team, email="quiet@example.test")
    factory.device(serial="NUDGE1", state="provisioned", role="individual", team_id=web.team.id,
                   service_id=web.service.id, staff_member_id=holder.id, adb_endpoint="127.0.0.1:1")
    _sweep(NOW, "fail")
    assert smtp_server.to("quiet@example.test") == []
    assert len(smtp_server.to(web.manager.email)) == 1


def test_an_unknown_on_failure_key_is_still_refused():
    from phonegate.core.rules import RulesInvalid, parse_rules
    from server.services.compliance.server_rules import KNOWN_RULES

    with pytest.raises(RulesInvalid, match="on_failure.email_holders"):
        parse_rules("schema: 1\nrules:\n  media_retention:\n    on_failure: {email_holders: true}\n", KNOWN_RULES)
