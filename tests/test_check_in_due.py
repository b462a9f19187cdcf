"""Due dates, not reachability: the checked_in rule at its boundary days, the one reminder e-mail (concurrent
scheduler runs on SQLite and PostgreSQL, real SMTP on loopback), and the site a station records."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import ComplianceResult, Device

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def _last_checked(factory, days_ago: int, **kw):  # type: ignore[no-untyped-def]
    device = factory.device(state="provisioned", **{"role": "broadcast", **kw})
    device.last_seen_at = NOW - timedelta(days=days_ago)
    db.session.commit()
    return device


@pytest.mark.parametrize(("days_ago", "outcome"), [
    (7, "pass"),   # due today
    (10, "pass"),  # third and last day of grace (overdue_grace_days: 3)
    (11, "fail"),  # past the grace: non-compliant
])
def test_checked_in_rule_at_the_boundary_days(factory, sweep_api, days_ago, outcome):  # type: ignore[no-untyped-def]
    from server.services.compliance.sweeps import finish_sweep
    from server.services.actor import Actor

    device = _last_checked(factory, days_ago)
    started = sweep_api.start()
    finish_sweep(db.session, started["sweep_id"], Actor.system(), now=NOW)
    db.session.commit()
    row = db.session.scalars(select(ComplianceResult).where(ComplianceResult.device_id == device.id,
                                                           ComplianceResult.rule == "checked_in")).one()
    assert row.outcome == outcome
    if outcome == "fail":
        assert row.observed.startswith(f"not checked in since {(NOW - timedelta(days=days_ago)).date().isoformat()}")


def test_due_dates_follow_the_rules_document():  # type: ignore[no-untyped-def]
    from server.services.compliance.check_in import DUE_SOON, OK, OVERDUE, due_of

    due = due_of(NOW - timedelta(days=1), NOW - timedelta(days=30), {"every_days": 14, "remind_days_before": 2,
                                                                   "overdue_grace_days": 0})
    assert due.due == (NOW + timedelta(days=13)).date()
    assert due.status((NOW + timedelta(days=10)).date()) == OK
    assert due.status((NOW + timedelta(days=11)).date()) == DUE_SOON
    assert due.status((NOW + timedelta(days=14)).date()) == "not_checked_in"
    assert OVERDUE != DUE_SOON


def test_reminder_sent_once_under_concurrent_scheduler_runs(app, factory, smtp_settings, smtp_server):  # type: ignore[no-untyped-def]
    from server.scheduling import SweepScheduler

    team = factory.team()
    manager = factory.user("manager", team=team)
    holder = factory.staff(team=team)
    device = _last_checked(factory, 6, team=team, role="individual", staff_member=holder)  # due tomorrow
    device.checked_in_site = "town-hall"
    db.session.commit()
    schedulers = [SweepScheduler(app, "0 */4 * * *", server_url="http://127.0.0.1:9") for _ in range(4)]
    barrier = threading.Barrier(len(schedulers))
    sent, errors = [], []

    def run(scheduler) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait(10)
            sent.append(scheduler.remind_check_ins(NOW))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(sent) == [0, 0, 0, 1]
    assert len(smtp_server.to(holder.email)) == 1
    assert len(smtp_server.to(manager.email)) == 1
    body = smtp_server.to(holder.email)[0].get_content()
    assert f"check-in station at town-hall by {(NOW + timedelta(days=1)).date().isoformat()}" in body
    assert schedulers[0].remind_check_ins(NOW + timedelta(hours=4)) == 0  # the next slot: already told
    db.session.expire_all()
    assert db.session.get(Device, device.id).check_in_reminded_for == (NOW + timedelta(days=1)).date()


def test_a_station_sighting_records_the_check_in_site(factory, sweep_api):  # type: ignore[no-untyped-def]
    from fixtures_compliance import result, sighting

    device = _last_checked(factory, 3)
    started = sweep_api.start(source="station", site="town-hall")
    seen = datetime.now(timezone.utc)
    sweep_api.results(started["sweep_id"], [result(device.serial, "identity", "pass", seen)],
                      [dict(sighting(device.serial, seen), checked_in_site="town-hall")])
    db.session.expire_all()
    assert db.session.get(Device, device.id).checked_in_site == "town-hall"


def test_team_page_shows_what_is_due_and_overdue_for_the_managers_team_only(client, web, factory):  # type: ignore[no-untyped-def]
    now = datetime.now(timezone.utc)

    def phone(serial: str, days_ago: int, team) -> None:  # type: ignore[no-untyped-def]
        device = factory.device(serial=serial, state="provisioned", role="broadcast", team_id=team.id)
        device.last_seen_at = now - timedelta(days=days_ago)
        device.checked_in_site = "town-hall"
        db.session.commit()

    phone("DUESOON1", 6, web.team)
    phone("OVERDUE1", 9, web.team)
    phone("FRESH1", 1, web.team)
    phone("OTHERTEAM1", 9, web.other_team)
    web.login(client, web.manager)
    html = client.get(f"/compliance/teams/{web.team.id}").get_data(as_text=True)
    table = html[html.index('id="check-ins"'):]
    assert "DUESOON1" in table
    assert "Due soon" in table
    assert "OVERDUE1" in table
    assert "Overdue (non-compliant from" in table
    assert "FRESH1" not in table
    assert "OTHERTEAM1" not in html
    assert "at town-hall" in table
