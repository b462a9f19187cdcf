"""The device lifecycle: only ALLOWED_TRANSITIONS, each move audited, a refused move changes nothing."""

from __future__ import annotations

import pytest

from server.extensions import db
from server.models import ALLOWED_TRANSITIONS, AuditEntry, DeviceState
from server.services import lifecycle
from server.services.actor import Actor
from server.services.errors import InvalidTransition

def test_the_lifecycle_table_is_what_the_rules_say():
    S = DeviceState
    assert ALLOWED_TRANSITIONS[S.RETIRED] == frozenset()  # retired is final
    assert S.PROVISIONED not in ALLOWED_TRANSITIONS[S.REGISTERED]  # no install without approval
    assert S.PROVISIONED not in ALLOWED_TRANSITIONS[S.PENDING_APPROVAL]
    assert S.APPROVED not in ALLOWED_TRANSITIONS[S.REGISTERED]
    assert S.APPROVED not in ALLOWED_TRANSITIONS[S.REJECTED]  # a rejected phone must be asked for again
    assert S.PROVISIONED not in ALLOWED_TRANSITIONS[S.SUSPENDED]


@pytest.mark.parametrize("old", list(DeviceState), ids=[state.value for state in DeviceState])
def test_every_move_is_allowed_or_refused_as_the_table_says(app, factory, old):
    for new in DeviceState:
        if new == old:
            continue
        phone = factory.device(state=old)
        entries_before = db.session.scalar(db.select(db.func.count(AuditEntry.id)))
        if new in ALLOWED_TRANSITIONS[old]:
            lifecycle.transition(db.session, phone, new, Actor.system(), reason="test")
            db.session.commit()
            db.session.expire_all()
            assert phone.state == new.value
            entry = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
            assert entry.action == "device.state_changed"
            assert entry.target_id == str(phone.id)
            assert f'"from":"{old.value}"' in entry.details
            assert f'"to":"{new.value}"' in entry.details
        else:
            with pytest.raises(InvalidTransition):
                lifecycle.transition(db.session, phone, new, Actor.system())
            db.session.rollback()
            assert phone.state == old.value, f"{old.value}->{new.value} changed the device"
            assert db.session.scalar(db.select(db.func.count(AuditEntry.id))) == entries_before
