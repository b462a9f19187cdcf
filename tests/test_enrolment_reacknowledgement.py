"""Re-confirming an acknowledgement after a new policy version: no new enrolment request, no phone state change."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from server.models import Acknowledgement, AuditEntry, DeviceRuleState, EnrolmentRequest
from server.services.errors import Forbidden, InvalidInput, PolicyRefused
from server.services.reacknowledgement import needs_reacknowledgement, reacknowledgement_due
from server.services.reconfirmation import reacknowledge
from server.settings import current_settings

TRAINED = date.today() - timedelta(days=5)


def _approved_then_new_version(gate, factory):
    """The gate's phone approved against 2026-01, then 2026-06 published: re-acknowledgement is due."""
    gate.approve()
    newer = factory.policy("2026-06")
    assert [d.reason for d in needs_reacknowledgement(gate.session, gate.team)] == ["policy"]
    return newer


def _reacknowledge(gate, policy, by=None, **kw):
    kw.setdefault("policy_sha256", policy.sha256)
    kw.setdefault("acknowledged", True)
    kw.setdefault("training_completed_on", TRAINED)
    return reacknowledge(gate.session, gate.staff, gate.actor(by or gate.manager), **kw)


def _audited(gate, action: str) -> list[AuditEntry]:
    gate.session.expire_all()
    return gate.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def test_reconfirming_clears_the_due_state_without_touching_the_phone(gate, factory):
    newer = _approved_then_new_version(gate, factory)
    requests_before = gate.session.scalar(select(func.count()).select_from(EnrolmentRequest))
    ack = _reacknowledge(gate, newer)
    gate.session.commit()

    assert ack.policy_version_id == newer.id
    assert ack.training_completed_on == TRAINED
    assert needs_reacknowledgement(gate.session, gate.team) == []
    gate.session.refresh(gate.device)
    assert gate.device.state == "approved"  # not back to pending_approval
    assert reacknowledgement_due(gate.session, gate.device) is None
    assert gate.session.scalar(select(func.count()).select_from(EnrolmentRequest)) == requests_before
    entry = _audited(gate, "acknowledgement.reconfirmed")[-1]
    details = json.loads(entry.details)
    assert details["policy_version_id"] == newer.id
    assert details["device_ids"] == [gate.device.id]
    assert entry.actor_user_id == gate.manager.id


def test_reconfirming_renews_expired_training(gate, factory):
    gate.approve()
    later = date.today() + timedelta(days=400)  # the 2026-01 acknowledgement's training has expired by then
    assert [d.reason for d in needs_reacknowledgement(gate.session, today=later)] == ["training"]
    _reacknowledge(gate, gate.policy, training_completed_on=date.today())
    gate.session.commit()
    assert needs_reacknowledgement(gate.session, today=later - timedelta(days=60)) == []
    assert gate.session.scalar(select(func.count()).select_from(Acknowledgement)) == 1  # renewed, not duplicated


@pytest.mark.parametrize("who", ["other_manager", "it", "auditor", "admin"])
def test_only_a_manager_of_the_staff_members_team_may_reconfirm(gate, factory, who):
    newer = _approved_then_new_version(gate, factory)
    user = getattr(gate, who, None) or factory.user(who)
    with pytest.raises(Forbidden):
        _reacknowledge(gate, newer, by=user)
    gate.session.rollback()
    assert gate.session.scalar(select(Acknowledgement).where(Acknowledgement.policy_version_id == newer.id)) is None
    refused = _audited(gate, "acknowledgement.reconfirmation_refused")
    assert len(refused) == 1
    assert refused[0].actor_user_id == user.id
    assert refused[0].target_type == "staff_member"
    assert refused[0].target_id == str(gate.staff.id)


def test_stale_policy_missing_box_and_bad_training_are_refused_and_audited(gate, factory):
    newer = _approved_then_new_version(gate, factory)
    cases = [
        (PolicyRefused, {"policy_sha256": gate.policy.sha256}, r"not the current version \(2026-06\)"),
        (InvalidInput, {"acknowledged": False}, "acknowledged"),
        (InvalidInput, {"training_completed_on": date.today() + timedelta(days=1)}, "in the future"),
        (InvalidInput, {"training_completed_on": date.today() - timedelta(days=400)}, "more than 365 days ago"),
        (InvalidInput, {"training_completed_on": None}, "Enter the date"),
    ]
    for error, overrides, message in cases:
        with pytest.raises(error, match=message):
            _reacknowledge(gate, newer, **overrides)
        gate.session.rollback()
    assert len(_audited(gate, "acknowledgement.reconfirmation_refused")) == len(cases)
    assert [d.reason for d in needs_reacknowledgement(gate.session, gate.team)] == ["policy"]


def test_inactive_staff_member_cannot_be_reconfirmed(gate, factory):
    newer = _approved_then_new_version(gate, factory)
    gate.staff.active = False
    gate.session.commit()
    with pytest.raises(PolicyRefused, match="no longer active"):
        _reacknowledge(gate, newer)
    gate.session.rollback()


def test_a_new_grant_is_allowed_again_after_reconfirming(gate, factory, catalogue_app):
    from server.services.grants import installability_problem

    newer = _approved_then_new_version(gate, factory)
    assert "re-acknowledgement due" in installability_problem(gate.session, gate.device, catalogue_app)
    _reacknowledge(gate, newer)
    gate.session.commit()
    assert installability_problem(gate.session, gate.device, catalogue_app) is None


def test_compliance_rule_acknowledgement_current_passes_after_reconfirming(gate, factory, compliance_rules):
    from server.services.actor import Actor
    from server.services.compliance.ingest import start_sweep, store_results
    from server.services.compliance.sweeps import finish_sweep

    def sweep(when: datetime) -> str:
        run, _ = start_sweep(gate.session, str(uuid.uuid4()), "cli", Actor.system())
        store_results(gate.session, run, [], [{"serial": gate.device.serial, "facts_summary": {}, "seen_at": when}])
        finish_sweep(gate.session, run.id, Actor.system(), now=when, settings=current_settings())
        gate.session.commit()
        gate.session.expire_all()
        return gate.session.scalar(select(DeviceRuleState.last_outcome).where(
            DeviceRuleState.device_id == gate.device.id, DeviceRuleState.rule == "acknowledgement_current"))

    newer = _approved_then_new_version(gate, factory)
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    assert sweep(now) == "fail"
    _reacknowledge(gate, newer)
    gate.session.commit()
    assert sweep(now + timedelta(hours=1)) == "pass"
    gate.session.refresh(gate.device)
    assert gate.device.state == "approved"
