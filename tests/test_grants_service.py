"""Single-use install grants: issued only for approved phones, bound to phone and APK, consumed once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.models import AuditEntry, DeviceState, InstallGrant, Installation, utcnow
from server.services import grants
from server.services.errors import Forbidden, InvalidInput, PolicyRefused
from server.services.policy import publish_policy


def _observed(app, **kw):
    values = {"package": app.package, "version_code": app.version_code, "signer_sha256": app.signer_sha256, **kw}
    return grants.Observed(**values)


def test_no_grant_before_approval_whatever_the_client_says(gate, catalogue_app):
    with pytest.raises(PolicyRefused, match="only after a manager approves"):
        grants.issue_grant(gate.session, gate.device, catalogue_app, gate.actor(gate.it))
    gate.session.rollback()
    refused = gate.session.scalars(select(AuditEntry).where(AuditEntry.action == "grant.refused")).one()
    assert refused.target_id == str(gate.device.id)
    assert gate.session.scalars(select(InstallGrant)).all() == []


def test_grant_install_report_cycle(gate, catalogue_app):
    gate.approve()
    grant, secret = grants.issue_grant(gate.session, gate.device, catalogue_app, gate.actor(gate.it))
    gate.session.commit()
    assert grant.secret_hash != secret
    assert len(secret) >= 40
    assert grant.apk_sha256 == catalogue_app.sha256
    assert grant.expires_at > utcnow()
    assert grant.device_id == gate.device.id
    installation = grants.report_installation(gate.session, secret, _observed(catalogue_app), gate.actor(gate.it), reported_serial=gate.device.serial)
    gate.session.commit()
    gate.session.refresh(gate.device)
    assert gate.device.state == DeviceState.PROVISIONED.value
    assert installation.grant_id == grant.id
    assert grant.used_at is not None

    with pytest.raises(PolicyRefused, match="already been used"):
        grants.report_installation(gate.session, secret, _observed(catalogue_app), gate.actor(gate.it), reported_serial=gate.device.serial)
    gate.session.rollback()
    assert len(gate.session.scalars(select(Installation)).all()) == 1


def test_database_allows_one_installation_per_grant(gate, catalogue_app):
    from sqlalchemy.exc import IntegrityError

    gate.approve()
    grant, secret = grants.issue_grant(gate.session, gate.device, catalogue_app, gate.actor(gate.it))
    grants.report_installation(gate.session, secret, _observed(catalogue_app), gate.actor(gate.it), reported_serial=gate.device.serial)
    gate.session.commit()
    gate.session.add(Installation(grant_id=grant.id, device_id=gate.device.id, package="com.whatsapp", version_code=1,
                                  signer_sha256="0" * 64, reported_by_id=gate.it.id))
    with pytest.raises(IntegrityError):
        gate.session.commit()
    gate.session.rollback()


@pytest.mark.parametrize("field, value, message", [
    ("package", "com.whatsapp.w4b", "grant is for com.whatsapp"),
    ("version_code", 1, "version 1"),
    ("signer_sha256", "ab" * 32, "signer"),
])
def test_report_must_match_the_grants_apk(gate, catalogue_app, field, value, message):
    gate.approve()
    _grant, secret = grants.issue_grant(gate.session, gate.device, catalogue_app, gate.actor(gate.it))
    gate.session.commit()
    with pytest.raises(PolicyRefused, match=message):
        grants.report_installation(gate.session, secret, _observed(catalogue_app, **{field: value}), gate.actor(gate.it), reported_serial=gate.device.serial)


def test_expired_and_superseded_grants_are_refused(gate, catalogue_app):
    gate.approve()
    actor = gate.actor(gate.it)
    old, old_secret = grants.issue_grant(gate.session, gate.device, catalogue_app, actor, now=utcnow() - timedelta(hours=2))
    gate.session.commit()
    with pytest.raises(PolicyRefused, match="expired"):
        grants.report_installation(gate.session, old_secret, _observed(catalogue_app), actor, reported_serial=gate.device.serial)
    gate.session.rollback()
    _new, new_secret = grants.issue_grant(gate.session, gate.device, catalogue_app, actor)
    gate.session.commit()
    gate.session.refresh(old)
    assert old.revoked_at is not None
    with pytest.raises(PolicyRefused):
        grants.report_installation(gate.session, old_secret, _observed(catalogue_app), actor, reported_serial=gate.device.serial)
    gate.session.rollback()
    grants.report_installation(gate.session, new_secret, _observed(catalogue_app), actor, reported_serial=gate.device.serial)


def test_unknown_secret_and_wrong_roles(gate, catalogue_app, factory):
    gate.approve()
    with pytest.raises(PolicyRefused, match="not known"):
        grants.report_installation(gate.session, "x" * 43, _observed(catalogue_app), gate.actor(gate.it), reported_serial=gate.device.serial)
    for user in (gate.manager, factory.user("auditor")):
        with pytest.raises(Forbidden):
            grants.issue_grant(gate.session, gate.device, catalogue_app, gate.actor(user))
        gate.session.rollback()


def test_new_policy_blocks_new_grants_until_reconfirmed(gate, catalogue_app):
    from server.services.actor import Actor

    gate.approve()
    publish_policy(gate.session, "A newer paper.\n", "2026-03", Actor.system())
    gate.session.commit()
    with pytest.raises(PolicyRefused, match="re-acknowledgement due"):
        grants.issue_grant(gate.session, gate.device, catalogue_app, gate.actor(gate.it))


def test_grant_for_another_roles_app_is_refused(gate, pinned_app, test_apks):
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    broadcast_app, _ = add_app(db.session, test_apks.w4b, "broadcast", Actor.system())
    db.session.commit()
    gate.approve()
    with pytest.raises(PolicyRefused, match="for broadcast phones"):
        grants.issue_grant(gate.session, gate.device, broadcast_app, gate.actor(gate.it))


def test_unauthorised_install_is_recorded(gate):
    result = grants.report_unauthorised_install(gate.session, gate.device, grants.Observed("com.whatsapp", 1, None),
                                                gate.actor(gate.it))
    gate.session.commit()
    entry = gate.session.get(AuditEntry, result["audit_entry_id"])
    assert entry.action == "device.unauthorised_install"
    assert entry.target_id == str(gate.device.id)
    with pytest.raises(InvalidInput):
        grants.report_unauthorised_install(gate.session, gate.device, grants.Observed("", 1, None), gate.actor(gate.it))
