"""Refusals cannot grow the audit log without limit (issue 9): per caller and window, the first N refusals are
written, later ones are counted in one summary entry; each caller has its own budget; a request without a valid
API token writes no audit entry at all. Real requests through the Flask client, on both databases."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEntry
from server.services.refusal_budget import SUMMARY_ACTION

LIMIT = 3
WINDOW_S = 1


@pytest.fixture
def small_budget(app):
    settings = app.config["PHONEGATE"]
    app.config["PHONEGATE"] = dataclasses.replace(settings, refusal_audit_limit=LIMIT,
                                                  refusal_audit_window_seconds=WINDOW_S)
    return app


def _entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _refused_grant(client, headers, serial):
    answer = client.post("/api/v1/grants", json={"device_serial": serial}, headers=headers)
    assert answer.status_code == 403  # the phone is not approved: refused (and audited, within the budget)


def test_a_caller_repeating_a_refused_request_writes_a_few_entries_then_one_summary(small_budget, client, factory):
    device = factory.device(serial="NOT-APPROVED")
    token, api_token = factory.token(factory.user("it"), "provision")
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(20):
        _refused_grant(client, headers, device.serial)
    assert len(_entries("grant.refused")) == LIMIT
    assert _entries(SUMMARY_ACTION) == []

    time.sleep(WINDOW_S + 0.2)
    _refused_grant(client, headers, device.serial)  # the next window: the summary is written with it
    (summary,) = _entries(SUMMARY_ACTION)
    details = json.loads(summary.details)
    assert summary.actor == f"token:{api_token.id}"
    assert details["suppressed"] == 20 - LIMIT
    assert details["actions"] == {"grant.refused": 20 - LIMIT}
    assert len(_entries("grant.refused")) == LIMIT + 1


def test_each_caller_has_its_own_budget(small_budget, client, factory):
    device = factory.device(serial="NOT-APPROVED")
    callers = [factory.token(factory.user("it"), "provision")[0] for _ in range(2)]
    for token in callers:
        for _ in range(LIMIT + 4):
            _refused_grant(client, {"Authorization": f"Bearer {token}"}, device.serial)
    refusals = _entries("grant.refused")
    assert len(refusals) == 2 * LIMIT
    assert len({entry.actor for entry in refusals}) == 2


def test_requests_without_a_valid_token_write_no_audit_entry(client, factory):
    factory.device(serial="SOME-PHONE")
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    for headers in ({}, {"Authorization": "Bearer pgt_" + "x" * 43}, {"Authorization": "Basic abc"}):
        for path in ("/api/v1/devices", "/api/v1/grants", "/api/v1/sweeps/00000000-0000-0000-0000-000000000009/results"):
            for _ in range(10):
                assert client.post(path, json={"device_serial": "SOME-PHONE"}, headers=headers).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_the_audit_chain_stays_intact_with_summaries(small_budget, client, factory):
    from server.services.audit import verify_chain

    device = factory.device(serial="NOT-APPROVED")
    token, _ = factory.token(factory.user("it"), "provision")
    for _ in range(LIMIT + 5):
        _refused_grant(client, {"Authorization": f"Bearer {token}"}, device.serial)
    time.sleep(WINDOW_S + 0.2)
    _refused_grant(client, {"Authorization": f"Bearer {token}"}, device.serial)
    intact, broken, _ = verify_chain(db.session)
    assert intact, broken
