"""One Broadcast phone per service: approval designates it, a second one is refused, handover is explicit."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from server.models import AuditEntry, BroadcastDesignation, DeviceState
from server.services import broadcast, enrolment
from server.services.errors import Forbidden, InvalidInput, PolicyRefused


def _broadcast_request(gate, factory):
    device = factory.device()
    request, _ = enrolment.request_enrolment(gate.session, device, gate.actor(gate.it), broadcast_service=gate.service)
    gate.session.commit()
    return device, request


def test_approving_a_broadcast_request_designates_the_phone(gate, factory):
    device, request = _broadcast_request(gate, factory)
    gate.approve(request, by=gate.other_manager, training_completed_on=None)  # any manager in the service
    designation = broadcast.active_designation(gate.session, gate.service)
    assert designation.device_id == device.id
    gate.session.refresh(device)
    assert device.state == DeviceState.APPROVED.value
    assert device.role == "broadcast"
    assert device.staff_member_id is None


def test_second_broadcast_phone_is_refused(gate, factory):
    first, request = _broadcast_request(gate, factory)
    gate.approve(request, training_completed_on=None)
    second, request2 = _broadcast_request(gate, factory)
    with pytest.raises(PolicyRefused, match="already has an active Broadcast phone .*explicit handover"):
        gate.approve(request2, training_completed_on=None)
    gate.session.rollback()
    gate.session.refresh(second)
    assert second.state == DeviceState.PENDING_APPROVAL.value
    refused = gate.session.scalars(select(AuditEntry).where(AuditEntry.action == "enrolment.approval_refused")).all()
    assert len(refused) == 1


def test_database_refuses_a_second_active_designation_whatever_the_code_does(gate, factory):
    from sqlalchemy.exc import IntegrityError

    a, b = factory.device(role="broadcast"), factory.device(role="broadcast")
    gate.session.add(BroadcastDesignation(service_id=gate.service.id, device_id=a.id))
    gate.session.commit()
    gate.session.add(BroadcastDesignation(service_id=gate.service.id, device_id=b.id))
    with pytest.raises(IntegrityError):
        gate.session.commit()
    gate.session.rollback()


def test_approving_with_handover_ends_the_old_designation_and_suspends_the_old_phone(gate, factory):
    """The real way a new phone takes over: IT enrols it for Broadcast, a manager approves it with the handover."""
    first, request = _broadcast_request(gate, factory)
    gate.approve(request, training_completed_on=None)
    second, request2 = _broadcast_request(gate, factory)  # a fresh phone: not yet holding the Broadcast role
    assert second.role == "individual"

    with pytest.raises(InvalidInput, match="reason"):
        gate.approve(request2, training_completed_on=None, handover=True, handover_reason=" ")
    gate.session.rollback()
    gate.approve(request2, by=gate.other_manager, training_completed_on=None, handover=True,
                 handover_reason="Old phone broken")

    rows = gate.session.scalars(select(BroadcastDesignation).order_by(BroadcastDesignation.id)).all()
    assert [(r.device_id, r.ended_at is None) for r in rows] == [(first.id, False), (second.id, True)]
    assert rows[0].end_reason == "Old phone broken"
    assert rows[0].ended_by_id == gate.other_manager.id
    assert rows[1].designated_by_id == gate.other_manager.id
    gate.session.refresh(first)
    gate.session.refresh(second)
    assert first.state == DeviceState.SUSPENDED.value  # the old phone must stop broadcasting
    assert (second.state, second.role, second.service_id) == (DeviceState.APPROVED.value, "broadcast", gate.service.id)
    assert request2.status == "approved"
    actions = [e.action for e in gate.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-6:] == ["broadcast.ended", "device.state_changed", "broadcast.designated", "broadcast.handed_over",
                            "device.state_changed", "enrolment.approved"]
    handed = gate.session.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast.handed_over")).one()
    assert json.loads(handed.details) == {"service_id": gate.service.id, "from_device_id": first.id, "to_device_id": second.id}
    approved = gate.session.scalars(select(AuditEntry).where(AuditEntry.action == "enrolment.approved")
                                    .order_by(AuditEntry.id.desc())).first()
    assert json.loads(approved.details)["handover"] is True


def test_a_refused_handover_approval_changes_nothing(gate, factory):
    """A refused approval with the handover flag (wrong person, stale policy) leaves the old designation alone."""
    first, request = _broadcast_request(gate, factory)
    gate.approve(request, training_completed_on=None)
    second, request2 = _broadcast_request(gate, factory)
    with pytest.raises(Forbidden):
        gate.approve(request2, by=gate.it, training_completed_on=None, handover=True, handover_reason="new phone")
    gate.session.rollback()
    with pytest.raises(PolicyRefused, match="not the current version"):
        gate.approve(request2, training_completed_on=None, handover=True, handover_reason="new phone",
                     policy_sha256="0" * 64)
    gate.session.rollback()
    assert broadcast.active_designation(gate.session, gate.service).device_id == first.id
    gate.session.refresh(first)
    gate.session.refresh(second)
    assert (first.state, second.state) == (DeviceState.APPROVED.value, DeviceState.PENDING_APPROVAL.value)


def test_handover_between_phones_already_holding_the_role(gate, factory):
    """broadcast.handover stays for a phone already enrolled as a Broadcast phone (built directly here)."""
    first, request = _broadcast_request(gate, factory)
    gate.approve(request, training_completed_on=None)
    second = factory.device(role="broadcast", service_id=gate.service.id, state="approved")
    with pytest.raises(InvalidInput):
        broadcast.handover(gate.session, gate.service, second, gate.actor(gate.manager), reason=" ")
    designation = broadcast.handover(gate.session, gate.service, second, gate.actor(gate.manager), reason="Old phone broken")
    gate.session.commit()
    assert designation.device_id == second.id
    assert broadcast.active_designation(gate.session, gate.service).id == designation.id
    gate.session.refresh(first)
    assert first.state == DeviceState.SUSPENDED.value


def test_only_managers_in_the_service_change_the_broadcast_phone(gate, factory):
    outsider = factory.user("manager")  # a manager of a team in another service
    device = factory.device(role="broadcast")
    for user in (outsider, gate.it, factory.user("auditor"), factory.user("admin")):
        with pytest.raises(Forbidden):
            broadcast.designate(gate.session, gate.service, device, gate.actor(user))
        gate.session.rollback()
    assert broadcast.active_designation(gate.session, gate.service) is None


def test_individual_phone_cannot_be_designated(gate):
    with pytest.raises(PolicyRefused, match="Broadcast role"):
        broadcast.designate(gate.session, gate.service, gate.device, gate.actor(gate.manager))


def test_end_designation(gate, factory):
    device = factory.device(role="broadcast")
    broadcast.designate(gate.session, gate.service, device, gate.actor(gate.manager))
    gate.session.commit()
    ended = broadcast.end(gate.session, gate.service, gate.actor(gate.manager), reason="Service stopped broadcasting")
    gate.session.commit()
    assert ended.ended_at is not None
    assert broadcast.active_designation(gate.session, gate.service) is None
