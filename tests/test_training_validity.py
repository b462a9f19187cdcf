"""Training validity is one setting and one comparison: the gate, the sweep's rule and the pages agree on the
boundary (364, 365 and 366 days ago, and a date in the future), on both databases."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import Acknowledgement, DeviceRuleState
from server.services import training
from server.services.actor import Actor
from server.services.compliance.ingest import start_sweep, store_results
from server.services.compliance.sweeps import finish_sweep
from server.services.errors import InvalidInput
from server.settings import Settings

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(("days_ago", "current"), [(0, True), (364, True), (365, True), (366, False), (-1, False)])
def test_the_one_comparison(days_ago: int, current: bool) -> None:
    assert training.is_current(TODAY - timedelta(days=days_ago), TODAY, 365) is current


def test_no_date_is_never_current() -> None:
    assert training.is_current(None, TODAY, 365) is False


def test_a_validity_of_zero_days_means_today_only() -> None:
    assert training.is_current(TODAY, TODAY, 0) is True
    assert training.is_current(TODAY - timedelta(days=1), TODAY, 0) is False


def test_the_setting_keeps_an_explicit_zero() -> None:
    assert Settings.from_environ({"PHONEGATE_TRAINING_VALID_DAYS": "0"}).training_valid_days == 0


def test_the_setting_defaults_to_365_and_refuses_a_negative() -> None:
    assert Settings.from_environ({}).training_valid_days == 365
    from phonegate.core.errors import BadInput

    with pytest.raises(BadInput, match="PHONEGATE_TRAINING_VALID_DAYS"):
        Settings.from_environ({"PHONEGATE_TRAINING_VALID_DAYS": "-1"})


@pytest.mark.parametrize("days_ago", [364, 365])
def test_the_gate_accepts_training_up_to_365_days_old(gate, days_ago: int) -> None:
    approved = gate.approve(training_completed_on=date.today() - timedelta(days=days_ago))
    assert approved.status == "approved"


def test_the_gate_refuses_training_366_days_old(gate) -> None:
    with pytest.raises(InvalidInput, match="more than 365 days"):
        gate.approve(training_completed_on=date.today() - timedelta(days=366))


def test_the_gate_refuses_a_training_date_in_the_future(gate) -> None:
    with pytest.raises(InvalidInput, match="future"):
        gate.approve(training_completed_on=date.today() + timedelta(days=1))


def _training_outcome(factory, days_ago: int) -> str:
    """The sweep's training_current rule for a phone whose holder trained `days_ago` days before the sweep."""
    team = factory.team()
    manager = factory.user("manager", team=team)
    policy = factory.policy(f"v-{uuid.uuid4().hex[:6]}")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    staff = factory.staff(team, training=now.date() - timedelta(days=days_ago))
    db.session.add(Acknowledgement(staff_member_id=staff.id, policy_version_id=policy.id, confirmed_by_id=manager.id,
                                   training_completed_on=staff.training_completed_on))
    device = factory.device(state="provisioned", team_id=team.id, staff_member_id=staff.id, adb_endpoint="127.0.0.1:1")
    db.session.commit()
    sweep, _ = start_sweep(db.session, str(uuid.uuid4()), "cli", Actor.system())
    store_results(db.session, sweep, [], [{"serial": device.serial, "facts_summary": {}, "seen_at": now}])
    finish_sweep(db.session, sweep.id, Actor.system(), now=now)
    db.session.commit()
    state = db.session.scalar(select(DeviceRuleState).where(
        DeviceRuleState.device_id == device.id, DeviceRuleState.rule == "training_current"))
    return state.last_outcome


@pytest.mark.parametrize(("days_ago", "outcome"), [(364, "pass"), (365, "pass"), (366, "fail")])
def test_the_sweep_rule_draws_the_same_line(app, factory, compliance_rules, days_ago: int, outcome: str) -> None:
    assert _training_outcome(factory, days_ago) == outcome


def test_the_sweep_rule_follows_the_setting(app, factory, compliance_rules) -> None:
    import dataclasses

    app.config["PHONEGATE"] = dataclasses.replace(app.config["PHONEGATE"], training_valid_days=30)
    assert _training_outcome(factory, 31) == "fail"


def test_the_staff_page_marks_the_same_line(client, web, factory) -> None:
    at_limit = factory.staff(team=web.team, training=date.today() - timedelta(days=365), name="Limit Example")
    past_limit = factory.staff(team=web.team, training=date.today() - timedelta(days=366), name="Past Example")
    web.sign_in(client, web.manager)
    html = client.get("/staff").get_data(as_text=True)
    row_of = {name: html[html.index(name):].split("</tr>", 1)[0] for name in (at_limit.name, past_limit.name)}
    assert "Out of date" not in row_of[at_limit.name]
    assert "Out of date" in row_of[past_limit.name]

