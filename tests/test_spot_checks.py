"""Spot checks on the server: starting one (the holder is e-mailed at a real SMTP server on loopback), the team's
random sample (deterministic for a seed, once per period), the checklist and its follow-ups, the quarterly
report, and who may see and do what (refusals audited)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry, FollowUp, SpotCheck, SpotCheckSample
from server.services.actor import Actor
from server.services.errors import Conflict, Forbidden, InvalidInput, PolicyRefused
from server.services.follow_ups import FollowUpDraft
from server.services.spot_checks import completion, starting
from server.services.spot_checks.reports import last_quarters, per_team_per_quarter


def _phone(factory, web, staff=None, **kw):
    staff = staff or factory.staff(team=web.team)
    return factory.device(state="provisioned", role="individual", team_id=web.team.id, service_id=web.service.id,
                          staff_member_id=staff.id, manufacturer="samsung", model="SM-S921B", **kw)


def _audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


ALL_YES = {"no_sensitive_data": "yes", "case_record": "yes", "inactive_deleted": "yes", "media_retention": "yes",
           "service_users_told": "yes"}


def test_starting_a_spot_check_mails_the_holder(app, web, factory, smtp_server, smtp_settings):
    staff = factory.staff(team=web.team, name="Robin Holder", email="robin@example.test")
    phone = _phone(factory, web, staff=staff, serial="SPOT0001")
    check = starting.start_spot_check(db.session, phone, Actor.for_user(web.manager), smtp_settings,
                                      bring_by=date.today() + timedelta(days=7))
    db.session.commit()
    mail = smtp_server.to("robin@example.test")
    assert len(mail) == 1
    body = mail[0].get_content()
    assert "SPOT0001" in body
    assert f"{(date.today() + timedelta(days=7)):%B %Y}" in mail[0]["Subject"]
    assert "then delete" in body  # the retention nudge: case record first, then delete
    assert check.holder_notified_at is not None
    started = _audits("spot_check.started")
    assert started[0].details.find("robin") == -1  # ids only


def test_a_relay_that_is_down_leaves_the_holder_not_notified(app, web, factory, smtp_settings, smtp_server):
    from dataclasses import replace

    from ports import free_port

    from server.settings import SmtpSettings

    down = replace(smtp_settings, smtp=SmtpSettings(host="127.0.0.1", port=free_port()))
    check = starting.start_spot_check(db.session, _phone(factory, web), Actor.for_user(web.manager), down)
    db.session.commit()
    assert check.holder_notified_at is None
    assert _audits("spot_check.holder_notified") == []


@pytest.mark.parametrize("role", ["other_manager", "it", "auditor", "admin"])
def test_only_the_team_manager_starts_a_spot_check(app, web, factory, smtp_settings, role):
    phone = _phone(factory, web)
    with pytest.raises(Forbidden):
        starting.start_spot_check(db.session, phone, Actor.for_user(getattr(web, role)), smtp_settings)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 0
    assert len(_audits("spot_check.start_refused")) == 1


def test_one_open_spot_check_per_phone_and_only_phones_in_use(app, web, factory, smtp_settings):
    phone = _phone(factory, web)
    starting.start_spot_check(db.session, phone, Actor.for_user(web.manager), smtp_settings)
    db.session.commit()
    with pytest.raises(Conflict, match="already has an open spot check"):
        starting.start_spot_check(db.session, phone, Actor.for_user(web.manager), smtp_settings)
    db.session.rollback()
    pending = factory.device(state="pending_approval", team_id=web.team.id, role="individual")
    with pytest.raises(PolicyRefused, match="in use"):
        starting.start_spot_check(db.session, pending, Actor.for_user(web.manager), smtp_settings)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SpotCheck)) == 1


def test_a_bring_by_date_in_the_past_is_refused(app, web, factory, smtp_settings):
    with pytest.raises(InvalidInput):
        starting.start_spot_check(db.session, _phone(factory, web), Actor.for_user(web.manager), smtp_settings,
                                  bring_by=date.today() - timedelta(days=1))


def test_the_sample_is_the_rules_rate_rounded_up_and_the_same_for_a_seed(app, web, factory, smtp_settings, smtp_server):
    phones = [_phone(factory, web) for _ in range(12)]
    factory.device(state="retired", team_id=web.team.id, role="individual")  # not in use: never drawn
    sample, checks = starting.draw_sample(db.session, web.team, Actor.for_user(web.manager), smtp_settings, seed=42)
    db.session.commit()
    assert sample.population == 12
    assert len(checks) == 2  # 10 % of 12, rounded up
    expected = starting.choose(sorted(phones, key=lambda p: p.id), 2, 42)
    assert [check.device_id for check in checks] == [device.id for device in expected]
    assert len(smtp_server.messages) == 2
    drawn = _audits("spot_check.sample_drawn")
    assert '"seed":42' in drawn[0].details


def test_a_team_sample_is_drawn_once_per_period(app, web, factory, smtp_settings):
    _phone(factory, web)
    starting.draw_sample(db.session, web.team, Actor.for_user(web.manager), smtp_settings, seed=1)
    db.session.commit()
    with pytest.raises(Conflict, match="already drawn"):
        starting.draw_sample(db.session, web.team, Actor.for_user(web.manager), smtp_settings, seed=2)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SpotCheckSample)) == 1


def test_the_sampling_rate_comes_from_the_rules_document(app, web, factory, smtp_settings):
    from server.services.compliance.rules import default_document, publish_version

    publish_version(db.session, default_document().replace("sample_rate_percent: 10", "sample_rate_percent: 50"),
                    Actor.system())
    db.session.commit()
    for _ in range(4):
        _phone(factory, web)
    _, checks = starting.draw_sample(db.session, web.team, Actor.for_user(web.manager), smtp_settings, seed=7)
    assert len(checks) == 2


def test_another_teams_manager_cannot_draw_this_teams_sample(app, web, factory, smtp_settings):
    _phone(factory, web)
    with pytest.raises(Forbidden):
        starting.draw_sample(db.session, web.team, Actor.for_user(web.other_manager), smtp_settings)
    db.session.rollback()
    assert len(_audits("spot_check.sample_refused")) == 1


def _started(web, factory, smtp_settings):
    check = starting.start_spot_check(db.session, _phone(factory, web), Actor.for_user(web.manager), smtp_settings)
    db.session.commit()
    return check


def test_completing_records_answers_outcome_and_follow_ups(app, web, factory, smtp_settings):
    check = _started(web, factory, smtp_settings)
    due = date.today() + timedelta(days=14)
    completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers={**ALL_YES, "inactive_deleted": "no"},
                                   outcome="follow_up", notes="Old chats still there",
                                   drafts=[FollowUpDraft("Delete the inactive chats", due)])
    db.session.commit()
    assert check.status == "completed"
    assert {a.item: a.answer for a in check.answers}["broadcast_only"] == "not_applicable"
    follow_up = db.session.scalar(select(FollowUp))
    assert follow_up.due_on == due
    completed = _audits("spot_check.completed")[0]
    assert "Old chats" not in completed.details  # the manager's words stay on the record, not in the audit log


@pytest.mark.parametrize("answers, outcome, drafts, field", [
    ({**ALL_YES, "case_record": ""}, "no_concerns", [], "answers.case_record"),
    ({**ALL_YES, "case_record": "maybe"}, "no_concerns", [], "answers.case_record"),
    ({**ALL_YES, "case_record": "no"}, "no_concerns", [], "outcome"),
    (ALL_YES, "follow_up", [], "follow_ups"),
    (ALL_YES, "fine", [], "outcome"),
])
def test_a_checklist_that_does_not_add_up_is_refused(app, web, factory, smtp_settings, answers, outcome, drafts, field):
    check = _started(web, factory, smtp_settings)
    with pytest.raises(InvalidInput) as refused:
        completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers=answers, outcome=outcome,
                                       notes=None, drafts=drafts)
    assert field in refused.value.errors
    db.session.rollback()
    assert db.session.get(SpotCheck, check.id).status == "requested"


def test_a_completed_spot_check_cannot_be_completed_again(app, web, factory, smtp_settings):
    check = _started(web, factory, smtp_settings)
    completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers=ALL_YES, outcome="no_concerns",
                                   notes=None, drafts=[])
    db.session.commit()
    from server.services.errors import InvalidTransition

    with pytest.raises(InvalidTransition, match="already completed by you"):
        completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers=ALL_YES,
                                       outcome="no_concerns", notes=None, drafts=[])
    db.session.rollback()
    assert len(_audits("spot_check.completion_refused")) == 1


def test_the_report_counts_spot_checks_per_team_and_quarter(app, web, factory, smtp_settings):
    first = _started(web, factory, smtp_settings)
    _started(web, factory, smtp_settings)
    completion.complete_spot_check(db.session, first, Actor.for_user(web.manager), answers=ALL_YES,
                                   outcome="no_concerns", notes=None, drafts=[])
    old = _started(web, factory, smtp_settings)
    old.started_at = datetime.now(timezone.utc) - timedelta(days=400)  # before the report's window
    db.session.commit()
    quarters, rows = per_team_per_quarter(db.session, web.manager, date.today())
    assert quarters == last_quarters(date.today())
    mine = next(row for row in rows if row.team_id == web.team.id)
    figures = mine.quarters[quarters[-1]]
    assert (figures.started, figures.completed, figures.with_concerns) == (2, 1, 0)
    assert [row.team_id for row in rows] == [web.team.id]  # a manager's report is their own team's


def test_last_quarters_cross_the_year():
    assert last_quarters(date(2026, 2, 1)) == ["2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"]


# --------------------------------------------------------------------------------------------- pages


def test_a_manager_starts_and_completes_a_spot_check_on_the_pages(client, web, factory, smtp_settings, smtp_server):
    phone = _phone(factory, web, serial="SPOTWEB1")
    web.sign_in(client, web.manager)
    page = client.get(f"/spot-checks/new?device_id={phone.id}")
    assert page.status_code == 200
    bring = date.today() + timedelta(days=5)
    answer = client.post("/spot-checks", data={"csrf_token": web.csrf(client, "/spot-checks/new"), "device_id": str(phone.id),
                                               "bring_by-day": str(bring.day), "bring_by-month": str(bring.month),
                                               "bring_by-year": str(bring.year)})
    assert answer.status_code == 302
    check = db.session.scalar(select(SpotCheck))
    detail = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "was e-mailed to bring it by" in detail
    assert "has not been plugged in yet" in detail
    form = {"csrf_token": web.csrf(client, f"/spot-checks/{check.id}"), "outcome": "follow_up",
            **{f"answer-{key}": value for key, value in ALL_YES.items()},
            "follow_up-0-action": "Delete old exports", "follow_up-0-due-day": str(bring.day),
            "follow_up-0-due-month": str(bring.month), "follow_up-0-due-year": str(bring.year)}
    done = client.post(f"/spot-checks/{check.id}/complete", data=form)
    assert done.status_code == 302
    assert db.session.get(SpotCheck, check.id).status == "completed"
    assert "Delete old exports" in client.get(f"/spot-checks/{check.id}").get_data(as_text=True)


def test_the_checklist_page_explains_what_is_missing(client, web, factory, smtp_settings):
    check = _started(web, factory, smtp_settings)
    web.sign_in(client, web.manager)
    answer = client.post(f"/spot-checks/{check.id}/complete", data={
        "csrf_token": web.csrf(client, f"/spot-checks/{check.id}"), "outcome": "no_concerns",
        "follow_up-0-action": "Something", "follow_up-0-due-day": "31", "follow_up-0-due-month": "2",
        "follow_up-0-due-year": "2027"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "govuk-error-summary" in html
    assert "must be a real date" in html


def test_overdue_follow_ups_show_on_the_dashboard(client, web, factory, smtp_settings):
    check = _started(web, factory, smtp_settings)
    completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers=ALL_YES, outcome="follow_up",
                                   notes=None, drafts=[FollowUpDraft("Re-check the phone", date.today())])
    db.session.commit()
    web.sign_in(client, web.manager)
    assert "Overdue follow-ups" not in client.get("/").get_data(as_text=True)
    follow_up = db.session.scalar(select(FollowUp))
    follow_up.due_on = date.today() - timedelta(days=3)  # three days pass
    db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Overdue follow-ups" in html
    assert "Re-check the phone" in html
    web.sign_in(client, web.other_manager)
    assert "Overdue follow-ups" not in client.get("/").get_data(as_text=True)
    web.sign_in(client, web.auditor)
    assert "Re-check the phone" in client.get("/").get_data(as_text=True)


def test_marking_a_follow_up_done_is_the_managers_and_happens_once(client, web, factory, smtp_settings):
    check = _started(web, factory, smtp_settings)
    completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers=ALL_YES, outcome="follow_up",
                                   notes=None, drafts=[FollowUpDraft("Re-check", date.today())])
    db.session.commit()
    follow_up = db.session.scalar(select(FollowUp))
    web.sign_in(client, web.auditor)
    assert client.post(f"/follow-ups/{follow_up.id}/done", data={"csrf_token": web.csrf(client)}).status_code == 403
    web.sign_in(client, web.manager)
    assert client.post(f"/follow-ups/{follow_up.id}/done", data={"csrf_token": web.csrf(client)}).status_code == 302
    assert client.post(f"/follow-ups/{follow_up.id}/done", data={"csrf_token": web.csrf(client)}).status_code == 409
    assert db.session.get(FollowUp, follow_up.id).done_by_id == web.manager.id
    assert len(_audits("follow_up.done_refused")) == 2


def test_a_manager_sees_only_their_teams_spot_checks_and_governance_sees_all(client, web, factory, smtp_settings):
    mine = _started(web, factory, smtp_settings)
    other_phone = factory.device(state="provisioned", role="individual", team_id=web.other_team.id,
                                 service_id=web.service.id, staff_member_id=factory.staff(team=web.other_team).id,
                                 serial="OTHERTEAM1")
    theirs = starting.start_spot_check(db.session, other_phone, Actor.for_user(web.other_manager), smtp_settings)
    db.session.commit()
    web.sign_in(client, web.manager)
    listing = client.get("/spot-checks?status=all").get_data(as_text=True)
    assert f"Spot check {mine.id}<" in listing
    assert "OTHERTEAM1" not in listing
    assert client.get(f"/spot-checks/{theirs.id}").status_code == 404
    for role in ("auditor", "admin"):
        web.sign_in(client, getattr(web, role))
        listing = client.get("/spot-checks?status=all").get_data(as_text=True)
        assert "OTHERTEAM1" in listing, role
        assert client.get(f"/spot-checks/{theirs.id}").status_code == 200
    web.sign_in(client, web.it)
    assert client.get("/spot-checks").status_code == 403


def test_the_report_page_and_the_list_render(client, web, factory, smtp_settings):
    _started(web, factory, smtp_settings)
    web.sign_in(client, web.manager)
    assert client.get("/spot-checks/report").status_code == 200
    page = client.get("/spot-checks").get_data(as_text=True)
    assert "Draw the sample for" in page


def test_a_broadcast_phone_is_spot_checked_by_its_services_managers(client, web, factory, smtp_settings, smtp_server):
    """The Broadcast phone belongs to the service: any of its teams' managers calls it in; nobody is e-mailed
    (it has no holder); a manager of another service sees nothing of it."""
    broadcast = factory.device(serial="BCSPOT1", state="provisioned", role="broadcast", service_id=web.service.id)
    check = starting.start_spot_check(db.session, broadcast, Actor.for_user(web.other_manager), smtp_settings)
    db.session.commit()
    assert (check.team_id, check.service_id, check.staff_member_id) == (None, web.service.id, None)
    assert smtp_server.messages == []
    completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers={
        "no_sensitive_data": "yes", "inactive_deleted": "yes", "media_retention": "yes", "broadcast_only": "yes"},
        outcome="no_concerns", notes=None, drafts=[])
    db.session.commit()
    assert {a.item: a.answer for a in check.answers}["case_record"] == "not_applicable"
    elsewhere = factory.user("manager", team=factory.team(service=factory.service()))
    elsewhere.password_hash = web.manager.password_hash  # a password, so the session counts (argon2 is slow)
    db.session.commit()
    web.sign_in(client, elsewhere)
    assert client.get(f"/spot-checks/{check.id}").status_code == 404


@pytest.mark.parametrize("role", ["it", "auditor", "admin"])
def test_a_sample_drawn_by_someone_without_a_team_is_refused_and_audited(client, web, role):
    web.sign_in(client, getattr(web, role))
    assert client.post("/spot-checks/sample", data={"csrf_token": web.csrf(client)}).status_code == 403
    assert len(_audits("spot_check.sample_refused")) == 1
