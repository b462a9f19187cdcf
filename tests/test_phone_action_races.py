"""Two people acting on one phone at the same moment get exactly one result, on both databases.

Two signed-in browsers post the phone's retire or reinstate form to the real WSGI server in two threads released by
one barrier. Each time: one action is recorded, the phone's state agrees with it, the loser is told "nothing was
changed" (409) and its attempt is audited as a refusal.
"""

from __future__ import annotations

import re

import pytest
from fixtures_web import csrf_from
from races import another_manager, at_once, audit_count, posting, signed_in
from sqlalchemy import func, select

from server.extensions import db
from server.models import Device, PhoneAction
from server.services import lifecycle
from server.services.actor import Actor

TRIES = 8
OUTCOME = {"retire": ("device.retired", "device.retire_refused", "retired"),
           "reinstate": ("device.reinstated", "device.reinstate_refused", "approved")}


@pytest.fixture
def managers(web, factory):
    return web.manager, another_manager(factory, web.team, "second.manager@example.test")


def _suspended_phone(web, factory) -> Device:
    device = factory.device(state="provisioned", role="individual", team_id=web.team.id, service_id=web.service.id,
                            staff_member_id=factory.staff(team=web.team).id)
    lifecycle.transition(db.session, device, "suspended", Actor.system(), reason="compliance: secure_lock_screen failing past grace")
    db.session.commit()
    return device


def _form(live_server, browser, device_id: int) -> dict:
    page = browser.get(f"{live_server.url}/devices/{device_id}", timeout=10)
    seen = re.search(r'name="seen_state" value="([a-z_]+)"', page.text)
    assert seen, "the form sends no seen_state"
    return {"csrf_token": csrf_from(page.text), "reason": "Back from repair, checked by IT.", "confirm": "yes",
            "seen_state": seen.group(1)}


def _count(action: str, device_id: int) -> int:
    return audit_count(action, target_type="device", target_id=device_id)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["retire-retire", "reinstate-reinstate", "retire-reinstate"])
def test_two_actions_on_one_phone_at_once_record_exactly_one(live_server, web, factory, managers, kind):
    browsers = [signed_in(live_server, manager) for manager in managers]
    actions = kind.split("-")
    for _ in range(TRIES):
        device = _suspended_phone(web, factory)
        forms = [_form(live_server, browser, device.id) for browser in browsers]
        answers = at_once([posting(live_server, browser, f"/devices/{device.id}/{action}", form)
                           for browser, action, form in zip(browsers, actions, forms)])

        db.session.expire_all()
        state = db.session.get(Device, device.id).state
        recorded = sum(_count(OUTCOME[action][0], device.id) for action in set(actions))
        refused = sum(_count(OUTCOME[action][1], device.id) for action in set(actions))
        rows = db.session.scalar(select(func.count()).select_from(PhoneAction).where(PhoneAction.device_id == device.id))
        statuses = sorted(answer.status_code for answer in answers)
        assert recorded == 1, f"{recorded} actions recorded"
        assert refused == 1, f"{refused} refusals audited"
        assert rows == 1, f"{rows} phone actions kept"
        assert statuses == [302, 409], statuses
        winner = actions[[answer.status_code for answer in answers].index(302)]
        assert state == OUTCOME[winner][2], (state, winner)
        loser = next(answer for answer in answers if answer.status_code == 409)
        assert "nothing was changed" in loser.text.lower()
