"""Information incidents: reported on the page, the information-security mailbox mailed at once (a real SMTP server
on loopback) with the reference number, a lost or stolen phone suspended in the same transaction, the status moved
by information governance only, and each person seeing what they should."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry, BroadcastDesignation, Device, Incident
from server.services import incidents
from server.services.actor import Actor
from server.services.errors import Forbidden, InvalidInput, InvalidTransition
from server.settings import Settings

MAILBOX = "information-security@council.example"


@pytest.fixture
def mailbox(app, smtp_settings):
    settings = replace(smtp_settings, incident_mailbox=MAILBOX)
    app.config["PHONEGATE"] = settings
    return settings


@pytest.fixture
def phone(web, factory):
    holder = factory.staff(team=web.team, name="Robin Holder")
    return factory.device(serial="LOSTPHONE1", state="provisioned", role="individual", team_id=web.team.id,
                          service_id=web.service.id, staff_member_id=holder.id, manufacturer="samsung", model="SM-S921B")


def _form(web, client, **fields) -> dict:
    today = date.today()
    return {"csrf_token": web.csrf(client, "/incidents/new"), "occurred_on-day": str(today.day),
            "occurred_on-month": str(today.month), "occurred_on-year": str(today.year),
            "description": "Left on the bus this morning.", **fields}


def _audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_phones_report_link_fills_in_the_phone_and_its_holder(client, web, phone, mailbox):
    web.sign_in(client, web.manager)
    page = client.get(f"/incidents/new?device_id={phone.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "LOSTPHONE1" in html
    assert f'value="{phone.id}"' in html
    assert f'<option value="{phone.staff_member_id}" selected>' in html
    assert 'value="lost_or_stolen" checked' in html
    assert "Do not paste messages" in html


def test_a_lost_phone_is_suspended_and_the_mailbox_told_at_once(client, web, phone, mailbox, smtp_server):
    web.sign_in(client, web.manager)
    answer = client.post("/incidents", data=_form(web, client, kind="lost_or_stolen", device_id=str(phone.id),
                                                  staff_id=str(phone.staff_member_id), occurred_time="08:15"))
    assert answer.status_code == 302
    incident = db.session.scalar(select(Incident))
    assert db.session.get(Device, phone.id).state == "suspended"
    assert incident.phone_suspended is True
    mail = smtp_server.to(MAILBOX)
    assert len(mail) == 1
    assert incident.reference in mail[0]["Subject"]
    body = mail[0].get_content()
    assert "LOSTPHONE1" in body
    assert "Left on the bus" in body
    assert "suspended" in body
    assert "Robin Holder" not in body  # the holder's name stays behind the link
    assert incident.mailbox_notified_at is not None
    flashed = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Incident {incident.reference} reported. The phone&#39;s approval is suspended." in flashed
    change = next(e for e in _audits("device.state_changed") if '"to":"suspended"' in e.details)
    assert incident.reference in change.details
    assert change.actor_user_id == web.manager.id


def test_a_lost_phone_report_needs_the_phone(client, web, mailbox, smtp_server):
    web.sign_in(client, web.manager)
    answer = client.post("/incidents", data=_form(web, client, kind="lost_or_stolen"))
    assert answer.status_code == 400
    assert "Choose the phone that is lost or stolen" in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    assert smtp_server.messages == []


def test_a_phone_named_by_serial_on_the_form_is_found(client, web, phone, mailbox):
    web.sign_in(client, web.it)
    answer = client.post("/incidents", data=_form(web, client, kind="unapproved_app", phone="LOSTPHONE1"))
    assert answer.status_code == 302
    incident = db.session.scalar(select(Incident))
    assert incident.device_id == phone.id
    assert incident.staff_member_id == phone.staff_member_id  # the holder, from the phone
    assert db.session.get(Device, phone.id).state == "provisioned"  # only a lost phone is suspended


@pytest.mark.parametrize("fields, field", [
    ({"kind": "other", "description": ""}, "Describe what happened"),
    ({"kind": "nonsense"}, "Choose what kind"),
    ({"kind": "other", "occurred_time": "25:00"}, "hours and minutes"),
    ({"kind": "other", "phone": "NOSUCHPHONE"}, "No phone you can see"),
    ({"kind": "other", "occurred_on-day": "31", "occurred_on-month": "2"}, "must be a real date"),
])
def test_a_bad_report_is_refused_and_nothing_is_recorded(client, web, mailbox, smtp_server, fields, field):
    web.sign_in(client, web.manager)
    answer = client.post("/incidents", data=_form(web, client, **fields))
    assert answer.status_code == 400
    assert field in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_a_date_in_the_future_is_refused(app, web, mailbox):
    report = incidents.IncidentReport(kind="other", description="x", occurred_on=date.today() + timedelta(days=1))
    with pytest.raises(InvalidInput):
        incidents.report_incident(db.session, Actor.for_user(web.manager), mailbox, report)


def test_a_manager_cannot_report_about_another_teams_phone(app, web, factory, mailbox):
    theirs = factory.device(serial="THEIRS1", state="provisioned", role="individual", team_id=web.other_team.id,
                            service_id=web.service.id, staff_member_id=factory.staff(team=web.other_team).id)
    report = incidents.IncidentReport(kind="lost_or_stolen", description="x", occurred_on=date.today(), device=theirs)
    with pytest.raises(Forbidden):
        incidents.report_incident(db.session, Actor.for_user(web.manager), mailbox, report)
    db.session.rollback()
    assert db.session.get(Device, theirs.id).state == "provisioned"
    assert len(_audits("incident.report_refused")) == 1


def test_without_a_mailbox_the_incident_is_recorded_and_can_be_sent_later(client, web, phone, app, smtp_settings, smtp_server):
    web.sign_in(client, web.manager)
    client.post("/incidents", data=_form(web, client, kind="wrong_recipient", device_id=str(phone.id)))
    incident = db.session.scalar(select(Incident))
    assert incident.mailbox_notified_at is None
    assert "has not been e-mailed" in client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    app.config["PHONEGATE"] = replace(smtp_settings, incident_mailbox=MAILBOX)
    client.post(f"/incidents/{incident.id}/notify", data={"csrf_token": web.csrf(client, f"/incidents/{incident.id}")})
    assert db.session.get(Incident, incident.id).mailbox_notified_at is not None
    assert len(smtp_server.to(MAILBOX)) == 1


def _reported(web, phone, settings, kind="personal_data_sent") -> Incident:
    report = incidents.IncidentReport(kind=kind, description="A date of birth was sent.", occurred_on=date.today(),
                                      device=phone)
    incident = incidents.report_incident(db.session, Actor.for_user(web.manager), settings, report)
    db.session.commit()
    return incident


def test_information_governance_acknowledges_then_closes_with_notes(client, web, phone, mailbox):
    incident = _reported(web, phone, mailbox)
    web.sign_in(client, web.auditor)
    page = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "Change the status" in page
    token = web.csrf(client, f"/incidents/{incident.id}")
    assert client.post(f"/incidents/{incident.id}/status", data={
        "csrf_token": token, "status": "acknowledged", "seen": "reported", "note": "Called the reporter"}).status_code == 302
    assert client.post(f"/incidents/{incident.id}/status", data={
        "csrf_token": token, "status": "closed", "seen": "acknowledged"}).status_code == 302
    closed = db.session.get(Incident, incident.id)
    assert closed.status == "closed"
    assert [(n.status_from, n.status_to) for n in closed.notes] == [("reported", "acknowledged"), ("acknowledged", "closed")]
    changes = _audits("incident.status_changed")
    assert all("Called" not in e.details for e in changes)  # notes are kept on the incident, not in the audit log


@pytest.mark.parametrize("role", ["manager", "it"])
def test_managers_and_it_cannot_move_an_incident_and_are_audited(client, web, phone, mailbox, role):
    incident = _reported(web, phone, mailbox)
    web.sign_in(client, getattr(web, role))
    answer = client.post(f"/incidents/{incident.id}/status", data={
        "csrf_token": web.csrf(client), "status": "closed", "seen": "reported"})
    assert answer.status_code in (403, 404)
    assert db.session.get(Incident, incident.id).status == "reported"
    assert len(_audits("incident.status_refused")) == 1


def test_a_status_seen_out_of_date_is_refused(app, web, phone, mailbox):
    incident = _reported(web, phone, mailbox)
    incidents.change_status(db.session, incident, Actor.for_user(web.auditor), to="acknowledged", seen="reported")
    db.session.commit()
    with pytest.raises(InvalidTransition, match="while you were looking"):
        incidents.change_status(db.session, incident, Actor.for_user(web.admin), to="closed", seen="reported")
    db.session.rollback()
    with pytest.raises(InvalidTransition, match="cannot become"):
        incidents.change_status(db.session, incident, Actor.for_user(web.admin), to="reported", seen="acknowledged")


def test_a_manager_sees_their_teams_incidents_and_governance_sees_all(client, web, factory, phone, mailbox):
    mine = _reported(web, phone, mailbox)
    theirs_phone = factory.device(serial="THEIRS2", state="provisioned", role="individual", team_id=web.other_team.id,
                                  service_id=web.service.id, staff_member_id=factory.staff(team=web.other_team).id)
    report = incidents.IncidentReport(kind="other", description="x", occurred_on=date.today(), device=theirs_phone)
    theirs = incidents.report_incident(db.session, Actor.for_user(web.other_manager), mailbox, report)
    db.session.commit()
    web.sign_in(client, web.manager)
    listing = client.get("/incidents?status=all").get_data(as_text=True)
    assert mine.reference in listing
    assert theirs.reference not in listing
    assert client.get(f"/incidents/{theirs.id}").status_code == 404
    for role in ("auditor", "admin"):
        web.sign_in(client, getattr(web, role))
        listing = client.get("/incidents?status=all").get_data(as_text=True)
        assert theirs.reference in listing, role
        assert mine.reference in listing, role
    web.sign_in(client, web.it)
    assert mine.reference not in client.get("/incidents?status=all").get_data(as_text=True)  # IT: what it reported


def test_reporting_a_phone_already_suspended_changes_nothing_but_is_noted(app, web, factory, mailbox):
    suspended = factory.device(serial="SUSP1", state="suspended", role="individual", team_id=web.team.id,
                               service_id=web.service.id)
    incident = _reported(web, suspended, mailbox, kind="lost_or_stolen")
    assert incident.phone_suspended is False
    assert len(_audits("incident.phone_not_suspended")) == 1


@pytest.mark.parametrize("value", ["two@x@example.test", "a b@example.test", "x@", "@example.test", "a@b.test,c@d.test"])
def test_a_mailbox_setting_that_is_not_one_address_stops_the_start(value):
    from phonegate.core.errors import BadInput

    with pytest.raises(BadInput, match="PHONEGATE_INCIDENT_MAILBOX"):
        Settings.from_environ({"PHONEGATE_INCIDENT_MAILBOX": value, "PHONEGATE_INSTANCE": "/tmp"})


def test_the_mailbox_setting_is_read(tmp_path):
    settings = Settings.from_environ({"PHONEGATE_INCIDENT_MAILBOX": MAILBOX, "PHONEGATE_INSTANCE": str(tmp_path)})
    assert settings.incident_mailbox == MAILBOX


def test_a_lost_broadcast_phone_stops_being_the_services_broadcast_phone(app, web, factory, mailbox, smtp_server):
    from server.services import broadcast

    device = factory.device(serial="BCLOST1", state="provisioned", role="broadcast", service_id=web.service.id)
    broadcast.designate(db.session, web.service, device, Actor.for_user(web.manager))
    db.session.commit()
    report = incidents.IncidentReport(kind="lost_or_stolen", description="Left on the bus", occurred_on=date.today(),
                                      device=device)
    incident = incidents.report_incident(db.session, Actor.for_user(web.manager), mailbox, report)
    db.session.commit()
    assert broadcast.active_designation(db.session, web.service) is None
    ended = _audits("broadcast.ended")
    assert len(ended) == 1
    designation = db.session.scalar(select(BroadcastDesignation).where(BroadcastDesignation.device_id == device.id))
    assert incident.reference in designation.end_reason
