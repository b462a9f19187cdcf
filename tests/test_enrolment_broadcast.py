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
    assert device.state == DeviceState.APPROVED.value and device.role == "broadcast" and device.staff_member_id is None


def test_second_broadcast_phone_is_refused(gate, factory):
    first, request = _broadcast_request(gate, factory)
    gate.approve(request, training_completed_on=None)
    second, request2 = _broadcast_request(gate, factory)
    with pytest.raises(PolicyRefused, match="already has an active Broadcast phone"):
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


def test_handover_ends_the_old_designation_and_starts_the_new_one(gate, factory):
    first, request = _broadcast_request(gate, factory)
    gate.approve(request, training_completed_on=None)
    second = factory.device(role="broadcast", service_id=gate.service.id)
    with pytest.raises(InvalidInput):
        broadcast.handover(gate.session, gate.service, second, gate.actor(gate.manager), reason=" ")
    designation = broadcast.handover(gate.session, gate.service, second, gate.actor(gate.manager), reason="Old phone broken")
    gate.session.commit()
    rows = gate.session.scalars(select(BroadcastDesignation).order_by(BroadcastDesignation.id)).all()
    assert [(r.device_id, r.ended_at is None) for r in rows] == [(first.id, False), (second.id, True)]
    assert rows[0].end_reason == "Old phone broken" and rows[0].ended_by_id == gate.manager.id
    assert designation.device_id == second.id
    gate.session.refresh(first)
    assert first.state == DeviceState.SUSPENDED.value  # the old phone must stop broadcasting
    actions = [e.action for e in gate.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-4:] == ["broadcast.ended", "device.state_changed", "broadcast.designated", "broadcast.handed_over"]
    handed = gate.session.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast.handed_over")).one()
    assert json.loads(handed.details) == {"service_id": gate.service.id, "from_device_id": first.id, "to_device_id": second.id}

    # The new phone's own broadcast enrolment can now be approved (it holds the role).
    request2, _ = enrolment.request_enrolment(gate.session, second, gate.actor(gate.it), broadcast_service=gate.service)
    gate.session.commit()
    gate.approve(request2, training_completed_on=None)
    gate.session.refresh(second)
    assert second.state == DeviceState.APPROVED.value


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
    assert ended.ended_at is not None and broadcast.active_designation(gate.session, gate.service) is None
