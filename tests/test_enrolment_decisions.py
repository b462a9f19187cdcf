"""The enrolment gate's rules, on both databases: who may approve, against which policy, with which training."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.models import Acknowledgement, AuditEntry, DeviceState, EnrolmentStatus
from server.services import audit, enrolment
from server.services.decisions import approve_enrolment, reject_enrolment
from server.services.errors import Forbidden, InvalidInput, InvalidTransition, PolicyRefused
from server.services.policy import publish_policy
from server.services.reacknowledgement import needs_reacknowledgement


def _actions(session, action):
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_manager_approval_records_acknowledgement_and_approves_device(gate):
    gate.approve()
    session = gate.session
    session.refresh(gate.request)
    assert gate.request.status == EnrolmentStatus.APPROVED.value
    assert gate.request.decided_by_id == gate.manager.id
    assert gate.request.policy_version_id == gate.policy.id
    ack = session.get(Acknowledgement, gate.request.acknowledgement_id)
    assert (ack.staff_member_id, ack.policy_version_id, ack.confirmed_by_id) == (gate.staff.id, gate.policy.id, gate.manager.id)
    session.refresh(gate.device)
    assert gate.device.state == DeviceState.APPROVED.value
    assert gate.device.staff_member_id == gate.staff.id
    assert gate.device.team_id == gate.team.id
    assert len(_actions(session, "enrolment.approved")) == 1
    assert audit.verify_chain(session)[0]


def test_requester_cannot_approve_their_own_request(gate, factory):
    # A manager who is also the requester (made the request through their own token) is refused.
    from server.services.actor import Actor

    device = factory.device()
    request, _ = enrolment.request_enrolment(gate.session, device, Actor.for_user(gate.manager), staff_member=gate.staff)
    gate.session.commit()
    with pytest.raises(Forbidden, match="someone else"):
        gate.approve(request)
    gate.session.rollback()
    gate.session.refresh(request)
    assert request.status == "pending"
    refused = _actions(gate.session, "enrolment.approval_refused")
    assert len(refused) == 1
    assert refused[0].actor_user_id == gate.manager.id
    assert refused[0].target_id == str(request.id)
    assert "someone else" in json.loads(refused[0].details)["reason"]


@pytest.mark.parametrize("who", ["other_manager", "it", "auditor", "admin"])
def test_only_the_teams_manager_can_approve(gate, factory, who):
    user = getattr(gate, who) if hasattr(gate, who) else factory.user(who)
    with pytest.raises(Forbidden):
        gate.approve(by=user)
    gate.session.rollback()
    gate.session.refresh(gate.device)
    assert gate.device.state == DeviceState.PENDING_APPROVAL.value
    # The refusal survived the rollback of the refused change.
    assert len(_actions(gate.session, "enrolment.approval_refused")) == 1
    assert audit.verify_chain(gate.session)[0]


def test_stale_policy_is_refused_after_a_new_version_is_published(gate):
    from server.services.actor import Actor

    old_sha = gate.policy.sha256
    publish_policy(gate.session, "New text of the acceptable-use paper.\n", "2026-02", Actor.system())
    gate.session.commit()
    with pytest.raises(PolicyRefused, match="not the current version"):
        gate.approve(policy_sha256=old_sha)
    gate.session.rollback()
    assert gate.session.get(type(gate.request), gate.request.id).status == "pending"


@pytest.mark.parametrize("completed_on, message", [
    (date.today() + timedelta(days=1), "future"),
    (date.today() - timedelta(days=366), "more than 365 days"),
    (None, "Enter the date"),
])
def test_training_must_be_current_and_not_in_the_future(gate, completed_on, message):
    with pytest.raises(InvalidInput, match=message) as caught:
        gate.approve(training_completed_on=completed_on)
    assert "training_completed_on" in caught.value.errors


def test_training_validity_is_a_setting(gate, app):
    import dataclasses

    app.config["PHONEGATE"] = dataclasses.replace(app.config["PHONEGATE"], training_valid_days=30)
    with pytest.raises(InvalidInput, match="30 days"):
        gate.approve(training_completed_on=date.today() - timedelta(days=31))


def test_acknowledgement_box_must_be_ticked(gate):
    with pytest.raises(InvalidInput, match="acknowledged"):
        gate.approve(acknowledged=False)


def test_inactive_staff_member_is_refused(gate):
    gate.staff.active = False
    gate.session.commit()
    with pytest.raises(PolicyRefused, match="no longer active"):
        gate.approve()


def test_decided_request_cannot_be_decided_again(gate):
    gate.approve()
    with pytest.raises(InvalidTransition, match="already approved"):
        gate.approve()


def test_acknowledgement_is_reused_for_the_same_person_and_version(gate, factory):
    from server.services.actor import Actor

    gate.approve()
    second_device = factory.device()
    request, _ = enrolment.request_enrolment(gate.session, second_device, Actor.for_user(gate.it), staff_member=gate.staff)
    gate.session.commit()
    gate.approve(request)
    acks = list(gate.session.scalars(select(Acknowledgement)))
    assert len(acks) == 1
    assert request.acknowledgement_id == acks[0].id


def test_rejection_needs_a_reason_and_the_right_manager(gate):
    with pytest.raises(InvalidInput):
        reject_enrolment(gate.session, gate.request, gate.actor(gate.manager), reason="  ")
    with pytest.raises(Forbidden):
        reject_enrolment(gate.session, gate.request, gate.actor(gate.other_manager), reason="not mine")
    gate.session.rollback()
    reject_enrolment(gate.session, gate.request, gate.actor(gate.manager), reason="Training certificate missing")
    gate.session.commit()
    gate.session.refresh(gate.device)
    assert gate.request.status == "rejected"
    assert gate.device.state == DeviceState.REJECTED.value
    entry = _actions(gate.session, "enrolment.rejected")[0]
    assert "Training" not in entry.details  # free text stays out of the audit log


def test_new_policy_version_makes_approved_phones_due_for_reacknowledgement(gate):
    from server.services.actor import Actor

    gate.approve()
    assert needs_reacknowledgement(gate.session) == []
    publish_policy(gate.session, "Second version of the paper.\n", "2026-02", Actor.system())
    gate.session.commit()
    due = needs_reacknowledgement(gate.session, gate.team)
    assert [(d.device.id, d.reason, d.acknowledged_policy_label) for d in due] == [(gate.device.id, "policy", "2026-01")]
    assert needs_reacknowledgement(gate.session, gate.other_team) == []


def test_expired_training_makes_phone_due(gate):
    gate.approve(training_completed_on=date.today() - timedelta(days=300))
    due = needs_reacknowledgement(gate.session, today=date.today() + timedelta(days=100))
    assert [d.reason for d in due] == ["training"]


def test_policy_publish_rules(app):
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.errors import Conflict
    from server.services.policy import current_policy, policy_sha256

    first = publish_policy(db.session, "Text one\n", "v1", Actor.system())
    db.session.commit()
    assert first.sha256 == policy_sha256("Text one\n")
    assert current_policy(db.session).id == first.id
    with pytest.raises(Conflict):
        publish_policy(db.session, "Other text\n", "v1", Actor.system())
    with pytest.raises(Conflict):
        publish_policy(db.session, "Text one\n", "v2", Actor.system())
    with pytest.raises(InvalidInput):
        publish_policy(db.session, "   ", "v3", Actor.system())
    second = publish_policy(db.session, "Text two\n", "v2", Actor.system())
    db.session.commit()
    assert current_policy(db.session).id == second.id


def test_only_admins_publish_policies(app, factory):
    from server.extensions import db
    from server.services.actor import Actor

    manager = factory.user("manager")
    with pytest.raises(Forbidden):
        publish_policy(db.session, "x\n", "v9", Actor.for_user(manager))
    admin = factory.user("admin")
    assert publish_policy(db.session, "x\n", "v9", Actor.for_user(admin)).published_by_id == admin.id


def test_no_policy_published_means_no_approval(app, factory):
    from server.extensions import db
    from server.services.actor import Actor

    team = factory.team()
    manager, it = factory.user("manager", team=team), factory.user("it")
    staff = factory.staff(team=team)
    request, _ = enrolment.request_enrolment(db.session, factory.device(), Actor.for_user(it), staff_member=staff)
    db.session.commit()
    with pytest.raises(PolicyRefused, match="No acceptable-use policy"):
        approve_enrolment(db.session, request, Actor.for_user(manager), policy_sha256="0" * 64, acknowledged=True,
                          training_completed_on=date.today())


def test_broadcast_phone_shows_for_every_team_in_its_service(gate, factory):
    from server.services.actor import Actor

    device = factory.device()
    request, _ = enrolment.request_enrolment(gate.session, device, Actor.for_user(gate.it), broadcast_service=gate.service)
    gate.session.commit()
    gate.approve(request, training_completed_on=None)
    publish_policy(gate.session, "Third version.\n", "2026-04", Actor.system())
    gate.session.commit()
    for team in (gate.team, gate.other_team):
        assert device.id in [d.device.id for d in needs_reacknowledgement(gate.session, team)]
    assert needs_reacknowledgement(gate.session, factory.team()) == []  # a team of another service
