"""Races beyond enrolment decisions (issue 9), with real concurrent HTTP requests to the real WSGI server, released
by one barrier, on both databases; exactly one result every time, the loser told plainly and audited:

- Broadcast handover: two managers hand the same service's Broadcast role to two different phones at once.
- Install grants: one grant reported twice at once; a grant issued while its predecessor is reported; two grants
  issued for one phone at once (exactly one stays usable).
- Re-confirmation: two managers re-confirm one staff member's acknowledgement of a new policy version at once.

(Two decisions on one request: test_decision_races.py.)
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
import requests
from fixtures_web import csrf_from
from races import another_manager, at_once, audit_count, signed_in
from sqlalchemy import func, select

from server.extensions import db
from server.models import BroadcastDesignation, Installation, InstallGrant
from server.services.actor import Actor

TRIES = 10
TRAINED = date.today() - timedelta(days=10)

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------------------------- Broadcast handover


def _broadcast_phone(factory, service, serial):
    from server.models import DeviceRole, DeviceState

    return factory.device(serial=serial, role=DeviceRole.BROADCAST, state=DeviceState.APPROVED, service_id=service.id)


def test_two_handovers_at_once_hand_over_exactly_once(live_server, web, factory):
    from server.services import broadcast

    other = another_manager(factory, web.team, "second.manager@example.test")
    first, second = signed_in(live_server, web.manager), signed_in(live_server, other)
    outcomes: Counter = Counter()
    for attempt in range(TRIES):
        service = web.service
        old = _broadcast_phone(factory, service, f"OLD-{attempt}")
        current = broadcast.active_designation(db.session, service)
        if current is None:
            broadcast.designate(db.session, service, old, Actor.for_user(web.manager))
        else:
            broadcast.handover(db.session, service, old, Actor.for_user(web.manager), reason="set up the next try")
        db.session.commit()
        designation = broadcast.active_designation(db.session, service)
        targets = [_broadcast_phone(factory, service, f"NEW-{attempt}-{n}") for n in (1, 2)]

        def hand_over(browser, target):
            url = f"{live_server.url}/broadcast/{service.id}"
            page = browser.get(url, timeout=10)
            form = {"csrf_token": csrf_from(page.text), "action": "handover", "device": str(target.id),
                    "reason": "The old phone was lost", "current_designation": str(designation.id)}
            return lambda: browser.post(url, data=form, allow_redirects=False, timeout=30)

        answers = at_once([hand_over(first, targets[0]), hand_over(second, targets[1])])

        db.session.expire_all()
        statuses = sorted(answer.status_code for answer in answers)
        active = db.session.scalars(select(BroadcastDesignation).where(
            BroadcastDesignation.service_id == service.id, BroadcastDesignation.ended_at.is_(None))).all()
        assert statuses == [302, 409], statuses
        assert len(active) == 1
        assert active[0].device_id in {targets[0].id, targets[1].id}
        assert audit_count("broadcast.handed_over", target_type="broadcast_designation", target_id=active[0].id) == 1
        assert audit_count("broadcast.ended", target_type="broadcast_designation", target_id=designation.id) == 1
        loser = next(answer for answer in answers if answer.status_code == 409)
        assert "changed a moment ago" in loser.text
        assert "nothing was changed" in loser.text
        outcomes[active[0].device_id == targets[0].id] += 1
    assert audit_count("broadcast.handover_refused") == TRIES


# --------------------------------------------------------------------------------------------- install grants


@pytest.fixture
def grant_api(live_server, web, factory, catalogue_app):
    """Approved phones on demand, and the provisioning API as the provisioning command calls it."""
    from server.services.decisions import approve_enrolment

    token, _ = factory.token(user=web.it, scope="provision")
    headers = {"Authorization": f"Bearer {token}"}

    def approved_phone():
        request = web.new_request()
        approve_enrolment(db.session, request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                          acknowledged=True, training_completed_on=TRAINED)
        db.session.commit()
        return request.device

    def issue(serial):
        return lambda: requests.post(f"{live_server.url}/api/v1/grants", json={"device_serial": serial},
                                     headers=headers, timeout=30)

    def report(serial, secret):
        body = {"device_serial": serial, "grant_secret": secret, "package": catalogue_app.package,
                "version_code": catalogue_app.version_code, "signer_sha256": catalogue_app.signer_sha256}
        return lambda: requests.post(f"{live_server.url}/api/v1/installations", json=body, headers=headers, timeout=30)

    return approved_phone, issue, report


def _live_grants(device_id: int) -> list[InstallGrant]:
    return db.session.scalars(select(InstallGrant).where(
        InstallGrant.device_id == device_id, InstallGrant.used_at.is_(None), InstallGrant.revoked_at.is_(None))).all()


def test_one_grant_reported_twice_at_once_is_used_exactly_once(grant_api):
    approved_phone, issue, report = grant_api
    for _ in range(TRIES):
        phone = approved_phone()
        grant = issue(phone.serial)().json()
        answers = at_once([report(phone.serial, grant["secret"]), report(phone.serial, grant["secret"])])
        db.session.expire_all()
        assert sorted(answer.status_code for answer in answers) == [201, 403]
        assert db.session.scalar(select(func.count()).select_from(Installation).where(
            Installation.grant_id == grant["grant_id"])) == 1
        loser = next(answer for answer in answers if answer.status_code == 403)
        assert "already been used" in loser.json()["message"]
        assert "nothing was recorded" in loser.json()["message"]
        assert audit_count("installation.refused", target_type="install_grant", target_id=grant["grant_id"]) == 1


def test_a_grant_issued_while_the_last_one_is_reported_gives_one_consistent_result(grant_api):
    approved_phone, issue, report = grant_api
    orders: Counter = Counter()
    for _ in range(TRIES):
        phone = approved_phone()
        old = issue(phone.serial)().json()
        issued, reported = at_once([issue(phone.serial), report(phone.serial, old["secret"])])
        db.session.expire_all()
        assert issued.status_code == 201, issued.text
        grant = db.session.get(InstallGrant, old["grant_id"])
        assert not (grant.used_at is not None and grant.revoked_at is not None)  # never both used and replaced
        if reported.status_code == 201:  # the report came first: the old grant counts, the new one is live
            orders["report first"] += 1
            assert grant.used_at is not None
        else:  # the new grant came first and replaced the old one: the report is refused and audited
            orders["grant first"] += 1
            assert reported.status_code == 403
            assert "replaced by a newer one" in reported.json()["message"]
            assert audit_count("installation.refused", target_type="install_grant", target_id=grant.id) == 1
        assert [g.id for g in _live_grants(phone.id)] == [issued.json()["grant_id"]]
    assert sum(orders.values()) == TRIES


def test_two_grants_issued_at_once_leave_exactly_one_usable(grant_api):
    approved_phone, issue, _ = grant_api
    for _ in range(TRIES):
        phone = approved_phone()
        answers = at_once([issue(phone.serial), issue(phone.serial)])
        db.session.expire_all()
        assert [answer.status_code for answer in answers] == [201, 201]
        live = _live_grants(phone.id)
        assert len(live) == 1
        assert audit_count("grant.revoked") >= 1


# --------------------------------------------------------------------------------------------- re-confirmation


def test_two_reconfirmations_at_once_record_exactly_one(live_server, web, factory):
    from server.models import Acknowledgement
    from server.services.decisions import approve_enrolment

    approve_enrolment(db.session, web.request, Actor.for_user(web.manager), policy_sha256=web.policy.sha256,
                      acknowledged=True, training_completed_on=TRAINED - timedelta(days=5))
    db.session.commit()
    other = another_manager(factory, web.team, "second.manager@example.test")
    first, second = signed_in(live_server, web.manager), signed_in(live_server, other)
    url = f"{live_server.url}/staff/{web.staff.id}/reconfirm"
    for attempt in range(TRIES):
        policy = factory.policy(f"2027-{attempt + 1:02d}")  # a new version: a re-confirmation is due again

        def confirm(browser):
            page = browser.get(url, timeout=10)
            form = {"csrf_token": csrf_from(page.text), "policy_sha256": policy.sha256, "acknowledged": "yes", "training_confirmed": "yes",
                    "training-day": str(TRAINED.day), "training-month": str(TRAINED.month),
                    "training-year": str(TRAINED.year), "confirm": "yes"}
            return lambda: browser.post(url, data=form, allow_redirects=False, timeout=30)

        answers = at_once([confirm(first), confirm(second)])
        db.session.expire_all()
        assert sorted(answer.status_code for answer in answers) == [302, 409]
        acks = db.session.scalar(select(func.count()).select_from(Acknowledgement).where(
            Acknowledgement.staff_member_id == web.staff.id, Acknowledgement.policy_version_id == policy.id))
        assert acks == 1
        loser = next(answer for answer in answers if answer.status_code == 409)
        assert "already confirmed" in loser.text
        assert "nothing was changed" in loser.text
    assert audit_count("acknowledgement.reconfirmed") == TRIES
    assert audit_count("acknowledgement.reconfirmation_refused") == TRIES
