"""Rules the database itself enforces, on SQLite and PostgreSQL alike: each is broken directly through the
session (bypassing the services) and must be refused with IntegrityError."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from server.extensions import db
from server.models import (
    BroadcastDesignation,
    CatalogueApp,
    Device,
    EnrolmentRequest,
    InstallGrant,
    Installation,
    utcnow,
)


def _refused(*objects) -> None:
    db.session.add_all(objects)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_serial_is_unique(app, factory):
    factory.device(serial="R58N12345")
    _refused(Device(serial="R58N12345"))


def test_one_active_broadcast_phone_per_service(app, factory):
    service = factory.service()
    first = factory.device(role="broadcast")
    second = factory.device(role="broadcast")
    db.session.add(BroadcastDesignation(service_id=service.id, device_id=first.id))
    db.session.commit()
    _refused(BroadcastDesignation(service_id=service.id, device_id=second.id))


def test_an_ended_designation_frees_the_service_for_a_handover(app, factory):
    service = factory.service()
    first = factory.device(role="broadcast")
    second = factory.device(role="broadcast")
    old = BroadcastDesignation(service_id=service.id, device_id=first.id)
    db.session.add(old)
    db.session.commit()
    old.ended_at = utcnow()
    db.session.add(BroadcastDesignation(service_id=service.id, device_id=second.id))
    db.session.commit()  # the partial index only counts rows with ended_at IS NULL
    assert db.session.scalar(db.select(db.func.count(BroadcastDesignation.id))) == 2


def test_a_phone_is_the_active_broadcast_phone_of_one_service_only(app, factory):
    phone = factory.device(role="broadcast")
    db.session.add(BroadcastDesignation(service_id=factory.service().id, device_id=phone.id))
    db.session.commit()
    _refused(BroadcastDesignation(service_id=factory.service().id, device_id=phone.id))


def test_a_broadcast_phone_has_no_individual_holder(app, factory):
    staff = factory.staff()
    _refused(Device(serial="B1", role="broadcast", staff_member_id=staff.id))


def test_a_held_phone_cannot_be_turned_into_a_broadcast_phone(app, factory):
    staff = factory.staff()
    phone = factory.device(staff_member_id=staff.id)
    phone.role = "broadcast"
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def _grant(factory, requester):
    phone = factory.device(state="approved")
    app_row = CatalogueApp(package="com.whatsapp", version_code=1, signer_sha256="a" * 64, sha256="b" * 64,
                           size=1, role="individual", filename="x.apk")
    db.session.add(app_row)
    db.session.flush()
    grant = InstallGrant(secret_hash="c" * 64, device_id=phone.id, catalogue_app_id=app_row.id, apk_sha256="b" * 64,
                         issued_to_id=requester.id, expires_at=utcnow() + timedelta(minutes=10))
    db.session.add(grant)
    db.session.commit()
    return phone, grant


def test_a_grant_is_used_at_most_once(app, factory):
    it = factory.user("it")
    phone, grant = _grant(factory, it)

    def installation():
        return Installation(grant_id=grant.id, device_id=phone.id, package="com.whatsapp", version_code=1,
                            signer_sha256="a" * 64, reported_by_id=it.id)

    db.session.add(installation())
    db.session.commit()
    _refused(installation())


def test_one_open_enrolment_request_per_phone(app, factory):
    it = factory.user("it")
    staff = factory.staff()
    phone = factory.device()

    def pending():
        return EnrolmentRequest(device_id=phone.id, role="individual", staff_member_id=staff.id,
                                team_id=staff.team_id, service_id=staff.team.service_id, requested_by_id=it.id,
                                status="pending")

    db.session.add(pending())
    db.session.commit()
    _refused(pending())


def test_nobody_decides_their_own_request(app, factory):
    manager = factory.user("manager")
    staff = factory.staff(team=manager.team)
    phone = factory.device()
    _refused(EnrolmentRequest(device_id=phone.id, role="individual", staff_member_id=staff.id, team_id=staff.team_id,
                              service_id=staff.team.service_id, requested_by_id=manager.id, status="approved",
                              decided_by_id=manager.id, decided_at=utcnow()))


@pytest.mark.parametrize("field, value", [("state", "lost"), ("role", "shared"), ("compliance_state", "fine")])
def test_unknown_states_and_roles_are_refused(app, factory, field, value):
    phone = factory.device()
    setattr(phone, field, value)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_foreign_keys_are_enforced(app):
    _refused(Device(serial="F1", team_id=999))


def test_an_audit_entry_cannot_reuse_a_predecessor(app, factory):
    from server.models import AuditEntry

    factory.service()  # one audited entry: the chain's head
    head = db.session.scalar(db.select(AuditEntry))
    _refused(AuditEntry(actor="cli", action="forged", details="{}", prev_hash=head.prev_hash, entry_hash="f" * 64))


def test_naive_datetimes_are_refused(app, factory):
    phone = factory.device()
    phone.last_seen_at = datetime(2026, 1, 1, 12, 0)  # no time zone: which one was meant?
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_datetimes_come_back_aware_utc(app, factory):
    phone = factory.device()
    db.session.expire_all()
    assert db.session.get(Device, phone.id).created_at.utcoffset() == timedelta(0)
