"""Two decisions on one enrolment request at the same moment get exactly one result, on both databases.

Real concurrent HTTP requests: two signed-in browsers (requests sessions with their own cookies and CSRF tokens)
post the final step of a decision to the real WSGI server in two threads released by one barrier. Over many
tries: one decision is recorded, the phone's state agrees with it, the loser is told plainly and its attempt is
audited as a refusal.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import requests
from fixtures_server import TEST_PASSWORD
from fixtures_web import csrf_from
from sqlalchemy import func, select

from server.extensions import db
from server.models import Acknowledgement, AuditEntry, Device, EnrolmentRequest, StaffMember

TRIES = 12
TRAINED = date.today() - timedelta(days=10)


def _browser(live_server, user) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/login", timeout=10)
    answer = browser.post(f"{live_server.url}/login", timeout=10, allow_redirects=False, data={
        "email": user.email, "password": TEST_PASSWORD, "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 302, answer.text[:300]
    return browser


def _decision_form(live_server, browser: requests.Session, request_id: int, policy_sha256: str, decision: str) -> dict:
    page = browser.get(f"{live_server.url}/requests/{request_id}", timeout=10)
    return {
        "csrf_token": csrf_from(page.text), "policy_sha256": policy_sha256, "decision": decision, "acknowledged": "yes", "training_confirmed": "yes",
        "training-day": str(TRAINED.day), "training-month": str(TRAINED.month), "training-year": str(TRAINED.year),
        "reason": "Not this phone" if decision == "reject" else "", "confirm": "yes",
    }


def _race(live_server, attempts: list[tuple[requests.Session, dict]], request_id: int) -> list[requests.Response]:
    barrier = threading.Barrier(len(attempts))
    answers: list[requests.Response | BaseException] = [None] * len(attempts)  # type: ignore[list-item]

    def post(index: int, browser: requests.Session, form: dict) -> None:
        barrier.wait(timeout=10)
        try:
            answers[index] = browser.post(f"{live_server.url}/requests/{request_id}/decision", data=form,
                                          allow_redirects=False, timeout=30)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            answers[index] = exc

    threads = [threading.Thread(target=post, args=(i, browser, form)) for i, (browser, form) in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for answer in answers:
        assert isinstance(answer, requests.Response), answer
    return answers  # type: ignore[return-value]


def _count(action: str, request_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.target_type == "enrolment_request",
        AuditEntry.target_id == str(request_id))) or 0


@pytest.fixture
def managers(web, factory):
    from server.services import passwords

    second = factory.user("manager", team=web.team, email="second.manager@example.test")
    second.password_hash = passwords.hash_password(TEST_PASSWORD)
    db.session.commit()
    return web.manager, second


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["approve-approve", "approve-reject", "one manager, two tabs"])
def test_two_decisions_at_once_record_exactly_one(live_server, web, managers, kind):
    first_manager, second_manager = managers
    first = _browser(live_server, first_manager)
    second = first if kind == "one manager, two tabs" else _browser(live_server, second_manager)
    decisions = ("approve", "reject") if kind == "approve-reject" else ("approve", "approve")
    outcomes = set()
    for _ in range(TRIES):
        request = web.new_request()
        forms = [(browser, _decision_form(live_server, browser, request.id, web.policy.sha256, decision))
                 for browser, decision in zip((first, second), decisions)]
        answers = _race(live_server, forms, request.id)

        db.session.expire_all()
        decided = db.session.get(EnrolmentRequest, request.id)
        device = db.session.get(Device, decided.device_id)
        recorded = _count("enrolment.approved", request.id) + _count("enrolment.rejected", request.id)
        refused = _count("enrolment.approval_refused", request.id) + _count("enrolment.rejection_refused", request.id)
        statuses = sorted(answer.status_code for answer in answers)
        outcomes.add(decided.status)
        assert recorded == 1, f"{recorded} decisions recorded"
        assert refused == 1, f"{refused} refusals audited"
        assert statuses == [302, 409], statuses
        assert device.state == decided.status, (device.state, decided.status)  # approved/approved, rejected/rejected
        loser = next(answer for answer in answers if answer.status_code == 409)
        assert "already" in loser.text
        assert "nothing was changed" in loser.text
        holder = db.session.get(StaffMember, decided.staff_member_id)
        acks = db.session.scalar(select(func.count()).select_from(Acknowledgement).where(
            Acknowledgement.staff_member_id == holder.id)) or 0
        assert acks == (1 if decided.status == "approved" else 0)
    if kind == "approve-reject":
        assert outcomes <= {"approved", "rejected"}
