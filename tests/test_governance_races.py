"""Two people acting on the same spot check, incident or follow-up at the same moment get exactly one result, on
both databases: real concurrent HTTP requests (two signed-in browsers, own cookies and CSRF tokens) to the real
WSGI server, released together by a barrier. The loser is told plainly, and its attempt is audited."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import requests
from fixtures_server import TEST_PASSWORD
from fixtures_web import csrf_from
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry, FollowUp, Incident, IncidentNote, SpotCheck
from server.services import incidents
from server.services.actor import Actor
from server.services.follow_ups import FollowUpDraft
from server.services.spot_checks import completion, starting

pytestmark = [pytest.mark.slow]
TRIES = 6
ALL_YES = {"no_sensitive_data": "yes", "case_record": "yes", "inactive_deleted": "yes", "media_retention": "yes",
           "service_users_told": "yes"}


def _browser(live_server, user) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/login", timeout=10)
    answer = browser.post(f"{live_server.url}/login", timeout=10, allow_redirects=False, data={
        "email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 302, answer.text[:300]
    return browser


def _token(live_server, browser: requests.Session, path: str) -> str:
    return csrf_from(browser.get(f"{live_server.url}{path}", timeout=10).text)


def _race(live_server, attempts: list[tuple[requests.Session, str, dict]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(attempts))
    answers: list = [None] * len(attempts)

    def post(index: int, browser: requests.Session, path: str, form: dict) -> None:
        barrier.wait(timeout=10)
        try:
            answers[index] = browser.post(f"{live_server.url}{path}", data=form, allow_redirects=False, timeout=30)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            answers[index] = exc

    threads = [threading.Thread(target=post, args=(i, *attempt)) for i, attempt in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for answer in answers:
        assert isinstance(answer, requests.Response), answer
    return answers


def _count(action: str, target_type: str, target_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.target_type == target_type, AuditEntry.target_id == str(target_id))) or 0


@pytest.fixture
def two_managers(web, factory):
    from server.services import passwords

    second = factory.user("manager", team=web.team, email="second.manager@example.test")
    second.password_hash = passwords.hash_password(TEST_PASSWORD)
    db.session.commit()
    return web.manager, second


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
    browsers = [_browser(live_server, manager) for manager in two_managers]
    outcomes = ("no_concerns", "incident")
    for _ in range(TRIES):
        check = starting.start_spot_check(db.session, _phone(web, factory), Actor.for_user(web.manager), smtp_settings)
        db.session.commit()
        path = f"/spot-checks/{check.id}"
        forms = [(browser, f"{path}/complete", {"csrf_token": _token(live_server, browser, path), "outcome": outcome,
                                               **{f"answer-{k}": v for k, v in ALL_YES.items()}})
                 for browser, outcome in zip(browsers, outcomes)]
        answers = _race(live_server, forms)
        db.session.expire_all()
        assert sorted(a.status_code for a in answers) == [302, 409]
        assert _count("spot_check.completed", "spot_check", check.id) == 1
        assert _count("spot_check.completion_refused", "spot_check", check.id) == 1
        loser = next(a for a in answers if a.status_code == 409)
        assert "already completed by another manager" in loser.text
        completed = db.session.get(SpotCheck, check.id)
        winner = outcomes[[a.status_code for a in answers].index(302)]
        assert completed.outcome == winner
        assert len(completed.answers) == 6


def test_two_managers_starting_a_spot_check_for_one_phone_start_one(live_server, web, factory, two_managers, smtp_settings):
    browsers = [_browser(live_server, manager) for manager in two_managers]
    bring = date.today() + timedelta(days=5)
    for _ in range(TRIES):
        phone = _phone(web, factory)
        forms = [(browser, "/spot-checks", {"csrf_token": _token(live_server, browser, "/spot-checks/new"),
                                           "device_id": str(phone.id), "bring_by-day": str(bring.day),
                                           "bring_by-month": str(bring.month), "bring_by-year": str(bring.year)})
                 for browser in browsers]
        answers = _race(live_server, forms)
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
    browsers = [_browser(live_server, person) for person in two_governance]
    for _ in range(TRIES):
        incident = _incident(web, factory, smtp_settings)
        path = f"/incidents/{incident.id}"
        forms = [(browser, f"{path}/status", {"csrf_token": _token(live_server, browser, path), "status": status,
                                             "seen": "reported", "note": f"by browser {index}"})
                 for index, (browser, status) in enumerate(zip(browsers, wanted))]
        answers = _race(live_server, forms)
        db.session.expire_all()
        assert sorted(a.status_code for a in answers) == [302, 409]
        assert _count("incident.status_changed", "incident", incident.id) == 1
        assert _count("incident.status_refused", "incident", incident.id) == 1
        notes = db.session.scalars(select(IncidentNote).where(IncidentNote.incident_id == incident.id)).all()
        assert len(notes) == 1
        winner = wanted[[a.status_code for a in answers].index(302)]
        assert db.session.get(Incident, incident.id).status == winner
        assert "while you were looking at it" in next(a for a in answers if a.status_code == 409).text


def test_a_follow_up_marked_done_twice_at_once_is_done_once(live_server, web, factory, two_managers, smtp_settings):
    browsers = [_browser(live_server, manager) for manager in two_managers]
    for _ in range(TRIES):
        check = starting.start_spot_check(db.session, _phone(web, factory), Actor.for_user(web.manager), smtp_settings)
        completion.complete_spot_check(db.session, check, Actor.for_user(web.manager), answers=ALL_YES,
                                       outcome="follow_up", notes=None, drafts=[FollowUpDraft("Re-check", date.today())])
        db.session.commit()
        follow_up = db.session.scalar(select(FollowUp).where(FollowUp.spot_check_id == check.id))
        path = f"/spot-checks/{check.id}"
        answers = _race(live_server, [(browser, f"/follow-ups/{follow_up.id}/done",
                                       {"csrf_token": _token(live_server, browser, path)}) for browser in browsers])
        db.session.expire_all()
        assert sorted(a.status_code for a in answers) == [302, 409]
        assert _count("follow_up.done", "follow_up", follow_up.id) == 1
