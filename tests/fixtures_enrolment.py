"""Fixtures for the enrolment gate: a team with a manager, a staff member, IT, a current policy and a pending request.

    gate          SimpleNamespace: service, team, manager, other_manager (another team, same service), it (user),
                  staff, policy (current), device (pending_approval), request (pending, made by `it`),
                  actor(user) -> Actor, approve(request=None, by=None, **kw), session.
    pinned_app    the app fixture with signer pins set to the test APKs' key A (test_apks.key_a.sha256).
    catalogue_app a catalogue entry for test_apks.whatsapp (individual role), added through the real service.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from types import SimpleNamespace

import pytest


def pins_for(key_sha256: str) -> str:
    return f"com.whatsapp={key_sha256};com.whatsapp.w4b={key_sha256}"


@pytest.fixture
def pinned_app(app, test_apks):
    """Make the running app pin test key A for WhatsApp and WhatsApp Business (instead of the real certificate)."""
    from server.settings import parse_signer_pins

    settings = app.config["PHONEGATE"]
    app.config["PHONEGATE"] = dataclasses.replace(settings, signer_pins=parse_signer_pins(pins_for(test_apks.key_a.sha256)))
    return app


@pytest.fixture
def gate(app, factory):
    from server.extensions import db
    from server.services import enrolment
    from server.services.actor import Actor
    from server.services.decisions import approve_enrolment

    service = factory.service()
    team = factory.team(service=service)
    other_team = factory.team(service=service)
    manager = factory.user("manager", team=team)
    other_manager = factory.user("manager", team=other_team)
    it = factory.user("it")
    staff = factory.staff(team=team, training=date.today() - timedelta(days=30))
    policy = factory.policy("2026-01")
    device = factory.device()
    request, _ = enrolment.request_enrolment(db.session, device, Actor.for_user(it), staff_member=staff)
    db.session.commit()

    def approve(req=None, by=None, **kw):
        kw.setdefault("policy_sha256", policy.sha256)
        kw.setdefault("acknowledged", True)
        kw.setdefault("training_completed_on", date.today() - timedelta(days=10))
        result = approve_enrolment(db.session, req or request, Actor.for_user(by or manager), **kw)
        db.session.commit()
        return result

    return SimpleNamespace(service=service, team=team, other_team=other_team, manager=manager, other_manager=other_manager,
                           it=it, staff=staff, policy=policy, device=device, request=request, session=db.session,
                           actor=Actor.for_user, approve=approve)


@pytest.fixture
def catalogue_app(pinned_app, test_apks):
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    entry, _ = add_app(db.session, test_apks.whatsapp, "individual", Actor.system())
    db.session.commit()
    return entry
