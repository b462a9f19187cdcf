"""Two people acting on the same spot check, incident or follow-up at the same moment get exactly one result, on
both databases: real concurrent HTTP requests (two signed-in browsers, own cookies and CSRF tokens) to the real
WSGI server, released together by a barrier. The loser is told plainly, and its attempt is audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests
from fixtures_server import TEST_PASSWORD
from fixtures_web import csrf_from
from races import another_manager, at_once, audit_count, posting, signed_in
from sqlalchemy import func, select

from server.extensions import db
from server.models import FollowUp, Incident, IncidentNote, SpotCheck
from server.services import incidents
from server.services.actor import Actor
from server.services.follow_ups import FollowUpDraft
from server.services.spot_checks import completion, starting

pytestmark = [pytest.mark.slow]
TRIES = 6
ALL_YES = {"no_sensitive_data": "yes", "case_record": "yes", "inactive_deleted": "yes", "media_retention": "yes",
           "service_users_told": "yes"}


def _token(live_server, browser: requests.Session, path: str) -> str:
    return csrf_from(browser.get(f"{live_server.url}{path}", timeout=10).text)


@pytest.fixture
def two_managers(web, factory):
    return web.manager, another_manager(factory, web.team, "second.manager@example.test")


@pytest.fixture
def two_governance(web, factory):
    from server.services import passwords

    second = factory.user("auditor", email="second.auditor@example.test")
    second.password_hash = passwords.hash_password(TEST_PASSWORD)
    db.session.commit()
    return web.auditor, second


def _phone(web, factory):
    holder = factory.staff(team=web.team)
    return factory.device(state="provisioned", role="individual", team_id=web.team.id, service_id=web.service.id,
                          staff_member_id=holder.id)


def test_two_managers_completing_one_spot_check_record_one(live_server, web, factory, two_managers, smtp_settings):
    browsers = [signed_in(live_server, manager) for manager in two_managers]
    outcomes = ("no_concerns", "incident")
    for _ in range(TRIES):
        check = starting.start_spot_check(db.session, _phone(web, factory), Actor.for_user(web.manager), smtp_settings)
        db.session.commit()
        path = f"/spot-checks/{check.id}"
        forms = [(browser, f"{path}/complete", {"csrf_token": _token(live_server, browser, path), "outcome": outcome,
                                               **{f"answer-{k}": v for k, v in ALL_YES.items()}})
                 for browser, outcome in zip(browsers, outcomes)]
        answers = at_once([posting(live_server, *attempt) for attempt in forms])
        db.session.expire_all()
        assert sorted(a.status_code for a in answers) == [302, 409]
        assert audit_count("spot_check.completed", target_type="spot_check", target_id=check.id) == 1
        assert audit_count("spot_check.completion_refused", target_type="spot_check", target_id=check.id) == 1
        loser = next(a for a in answers if a.status_code == 409)
        assert "already completed by another manager" in loser.text
        completed = db.session.get(SpotCheck, check.id)
        winner = outcomes[[a.status_code for a in answers].index(302)]
        assert completed.outcome == winner
        assert len(completed.answers) == 6


def test_two_managers_starting_a_spot_check_for_one_phone_start_one(live_server, web, factory, two_managers, smtp_settings):
    browsers = [signed_in(live_server, manager) for manager in two_managers]
    bring = date.today() + timedelta(days=5)
    for _ in range(TRIES):
        phone = _phone(web, factory)
        forms = [(browser, "/spot-checks", {"csrf_token": _token(live_server, browser, "/spot-checks/new"),
                                           "device_id": str(phone.id), "bring_by-day": str(bring.day),
                                           "bring_by-month": str(bring.month), "bring_by-year": str(bring.year)})
                 for browser in browsers]
        answers = at_once([posting(live_server, *attempt) for attempt in forms])
        db.session.expire_all()
        assert sorted(a.status_code for a in answers) == [302, 409]
        assert db.session.scalar(select(func.count()).select_from(SpotCheck).where(SpotCheck.device_id == phone.id)) == 1
        assert "already has an open spot check" in next(a for a in answers if a.status_code == 409).text


def _incident(web, factory, settings) -> Incident:
    report = incidents.IncidentReport(kind="other", description="Sent to the wrong group", occurred_on=date.today(),
                                      device=_phone(web, factory))
    incident = incidents.report_incident(db.session, Actor.for_user(web.manager), settings, report)
    db.session.commit()
    return incident


@pytest.mark.parametrize("wanted", [("closed", "closed"), ("acknowledged", "closed")], ids=["close-close", "acknowledge-close"])
def test_two_status_changes_at_once_record_one(live_server, web, factory, two_governance, smtp_settings, wanted):
    browsers = [signed_in(live_server, person) for person in two_governance]
    for _ in range(TRIES):
        incident = _incident(web, factory, smtp_settings)
        path = f"/incidents/{incident.id}"
        forms = [(browser, f"{path}/status", {"csrf_token": _token(live_server, browser, path), "status": status,
                                             "seen": "reported", "note": f"by browser {index}"})
                 for index, (browser, status) in enumerate(zip(browsers, wanted))]
        answers = at_once([posting(live_server, *attempt) for attempt in forms])
        db.session.expire_all()
        assert sorted(a.status_code for a in answers) == [302, 409]
        assert audit_count("incident.status_changed", target_type="incident", target_id=incident.id) == 1
        assert audit_count("incident.status_refused", target_type="incident", target_id=incident.id) == 1
        notes = db.session.scalars(select(IncidentNote).where(IncidentNote.incident_id == incident.id)).all()
        assert len(notes) == 1
        winner = wanted[[a.status_code for a in answers].index(302)]
        assert db.session.get(Incident, incident.id).status == winner
        assert "while you were looking at it" in next(a for a in answers if a.status_code == 409).text


def test_a_follow_up_marked_done_twice_at_once_is_done_once(live_server, web, factory, two_managers, smtp_settings):
    browsers = [signed_in(live_server, manager) for manager in two_managers]
    for _ in range(TRIES):
        check = starting.start_spot_check(db.session, _phone(web, factory), Actor.for_user(web.manager), smtp_settings)
        completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers=ALL_YES,
                                       outcome="follow_up", notes=None, drafts=[FollowUpDraft("Re-check", date.today())])
        db.session.commit()
        follow_up = db.session.scalar(select(FollowUp).where(FollowUp.spot_check_id == check.id))
        path = f"/spot-checks/{check.id}"
        answers = at_once([posting(live_server, browser, f"/follow-ups/{follow_up.id}/done",
                                   {"csrf_token": _token(live_server, browser, path)}) for browser in browsers])
        db.session.expire_all()
        assert sorted(a.status_code for a in answers) == [302, 409]
        assert audit_count("follow_up.done", target_type="follow_up", target_id=follow_up.id) == 1
