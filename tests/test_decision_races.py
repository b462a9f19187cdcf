"""Two decisions on one enrolment request at the same moment get exactly one result, on both databases.

Real concurrent HTTP requests: two signed-in browsers (requests sessions with their own cookies and CSRF tokens)
post the final step of a decision to the real WSGI server in two threads released by one barrier. Over many
tries: one decision is recorded, the phone's state agrees with it, the loser is told plainly and its attempt is
audited as a refusal.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests
from fixtures_web import csrf_from
from races import another_manager, at_once, audit_count, posting, signed_in
from sqlalchemy import func, select

from server.extensions import db
from server.models import Acknowledgement, Device, EnrolmentRequest, StaffMember

TRIES = 12
TRAINED = date.today() - timedelta(days=10)


def _decision_form(live_server, browser: requests.Session, request_id: int, policy_sha256: str, decision: str) -> dict:
    page = browser.get(f"{live_server.url}/requests/{request_id}", timeout=10)
    return {
        "csrf_token": csrf_from(page.text), "policy_sha256": policy_sha256, "decision": decision, "acknowledged": "yes", "training_confirmed": "yes",
        "training-day": str(TRAINED.day), "training-month": str(TRAINED.month), "training-year": str(TRAINED.year),
        "reason": "Not this phone" if decision == "reject" else "", "confirm": "yes",
    }


def _count(action: str, request_id: int) -> int:
    return audit_count(action, target_type="enrolment_request", target_id=request_id)


@pytest.fixture
def managers(web, factory):
    return web.manager, another_manager(factory, web.team, "second.manager@example.test")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["approve-approve", "approve-reject", "one manager, two tabs"])
def test_two_decisions_at_once_record_exactly_one(live_server, web, managers, kind):
    first_manager, second_manager = managers
    first = signed_in(live_server, first_manager)
    second = first if kind == "one manager, two tabs" else signed_in(live_server, second_manager)
    decisions = ("approve", "reject") if kind == "approve-reject" else ("approve", "approve")
    outcomes = set()
    for _ in range(TRIES):
        request = web.new_request()
        forms = [(browser, _decision_form(live_server, browser, request.id, web.policy.sha256, decision))
                 for browser, decision in zip((first, second), decisions)]
        answers = at_once([posting(live_server, browser, f"/requests/{request.id}/decision", form) for browser, form in forms])

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
