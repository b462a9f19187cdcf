"""The app catalogue: only verified APKs of allowed packages signed by pinned certificates get in."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from phonegate.core.errors import BadInput
from server.extensions import db
from server.models import AuditEntry, CatalogueApp
from server.services.actor import Actor
from server.services.catalogue import add_app, apk_path, current_app_for_role
from server.services.errors import Forbidden, InvalidInput, PolicyRefused
from server.settings import DEFAULT_SIGNER_PINS, WHATSAPP_SIGNER_SHA256, Settings, parse_signer_pins


def test_verified_apk_is_stored_by_sha256(pinned_app, test_apks):
    entry, created = add_app(db.session, test_apks.whatsapp, "individual", Actor.system())
    db.session.commit()
    assert created
    assert entry.package == "com.whatsapp"
    assert entry.version_code == 242201005
    assert entry.signer_sha256 == test_apks.key_a.sha256
    stored = apk_path(entry)
    assert stored.name == f"{entry.sha256}.apk"
    assert stored.parent.name == "catalogue"
    assert stored.read_bytes() == test_apks.whatsapp.read_bytes()
    again, created_again = add_app(db.session, test_apks.whatsapp, "individual", Actor.system())
    assert (again.id, created_again) == (entry.id, False)
    assert current_app_for_role(db.session, "individual").id == entry.id


def test_wrong_signer_is_refused_and_the_refusal_is_audited(pinned_app, test_apks):
    with pytest.raises(PolicyRefused, match="not pinned"):
        add_app(db.session, test_apks.wrong_signer, "individual", Actor.system())
    db.session.rollback()
    assert db.session.scalars(select(CatalogueApp)).all() == []
    refusal = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.add_refused")).one()
    assert json.loads(refusal.details)["signers"] == [test_apks.key_b.sha256]


def test_default_pins_refuse_test_keys(app, test_apks):
    # Without test pins, only WhatsApp's published certificate is accepted: a self-signed "WhatsApp" is refused.
    with pytest.raises(PolicyRefused, match="not pinned"):
        add_app(db.session, test_apks.whatsapp, "individual", Actor.system())


def test_package_must_be_allowed_for_the_role(pinned_app, test_apks):
    with pytest.raises(PolicyRefused, match="not an approved app for individual"):
        add_app(db.session, test_apks.w4b, "individual", Actor.system())
    entry, _ = add_app(db.session, test_apks.w4b, "broadcast", Actor.system())
    assert entry.role == "broadcast"
    # This refusal comes while the session holds an uncommitted write: it is recorded once that transaction ends.
    with pytest.raises(PolicyRefused, match="not an approved app"):
        add_app(db.session, test_apks.v1_only, "broadcast", Actor.system())
    db.session.rollback()
    refusals = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.add_refused")).all()
    assert [json.loads(r.details)["package"] for r in refusals] == ["com.whatsapp.w4b", "org.example.legacy"]
    from server.services.audit import verify_chain

    assert verify_chain(db.session)[0]


@pytest.mark.parametrize("name", ["tampered", "unsigned"])
def test_apks_that_fail_verification_are_refused(pinned_app, test_apks, name):
    with pytest.raises(PolicyRefused, match="failed verification"):
        add_app(db.session, getattr(test_apks, name), "individual", Actor.system())


def test_not_an_apk_is_bad_input(pinned_app, test_apks, tmp_path):
    with pytest.raises(InvalidInput):
        add_app(db.session, test_apks.not_apk, "individual", Actor.system())
    with pytest.raises(InvalidInput):
        add_app(db.session, tmp_path / "missing.apk", "individual", Actor.system())
    with pytest.raises(InvalidInput):
        add_app(db.session, test_apks.whatsapp, "manager", Actor.system())


def test_only_admins_add_apps(pinned_app, test_apks, factory):
    with pytest.raises(Forbidden):
        add_app(db.session, test_apks.whatsapp, "individual", Actor.for_user(factory.user("it")))


def test_newest_version_is_current(pinned_app, test_apks):
    add_app(db.session, test_apks.whatsapp, "individual", Actor.system())
    newer, _ = add_app(db.session, test_apks.whatsapp_newer, "individual", Actor.system())
    assert current_app_for_role(db.session, "individual").id == newer.id


def test_signer_pin_setting_parses_and_defaults():
    assert parse_signer_pins("") == DEFAULT_SIGNER_PINS
    assert DEFAULT_SIGNER_PINS["com.whatsapp"] == (WHATSAPP_SIGNER_SHA256,)
    colon = ":".join(["AB"] * 32)
    assert parse_signer_pins(f"com.whatsapp={colon}") == {"com.whatsapp": ("ab" * 32,)}
    with pytest.raises(BadInput):
        parse_signer_pins("com.whatsapp=nothex")


def test_a_bad_signer_pin_setting_stops_the_server_at_start():
    with pytest.raises(BadInput, match="PHONEGATE_SIGNER_PINS"):
        Settings.from_environ({"PHONEGATE_SIGNER_PINS": "com.whatsapp=nothex"})
