"""The embedded sweep scheduler: cron parsing, one sweep id per slot, two schedulers on one slot check each
phone once (real server over HTTP, simulated phones over ADB), and the Celery path's per-site queues (Redis)."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from phonegate.core.errors import BadInput
from server.extensions import db
from server.models import ComplianceResult, Device, Sweep, SweepClaim
from server.scheduling import SweepScheduler, next_slot, parse_schedule, slot_sweep_id


def test_schedule_parsing_and_slots():
    assert parse_schedule("off") is None
    assert parse_schedule("") is None
    assert parse_schedule("0 */4 * * *") == "0 */4 * * *"
    with pytest.raises(BadInput):
        parse_schedule("every four hours")
    after = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
    assert next_slot("0 */4 * * *", after) == datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    slot = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    assert slot_sweep_id(slot) == slot_sweep_id(slot.astimezone(timezone(timedelta(hours=1))))  # same instant, same id
    assert slot_sweep_id(slot) != slot_sweep_id(slot + timedelta(hours=4))


@pytest.mark.slow
def test_two_schedulers_on_one_slot_check_each_phone_once(app, factory, live_server, phone_simulator, adb_key,
                                                          compliance_rules, monkeypatch, tmp_path):
    monkeypatch.setenv("PHONEGATE_ADB_KEY", str(adb_key.path))
    phones = phone_simulator(4, profiles=["google-pixel-9"])
    for running in phones:
        factory.device(serial=running.serial, role="broadcast", state="provisioned", adb_endpoint=running.endpoint)
    slot = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    from device_agent.sweep import scheduler_agent

    schedulers = [SweepScheduler(app, "0 */4 * * *", server_url=live_server.url, agent=scheduler_agent(f"scheduler-{n}"))
                  for n in range(2)]
    outcomes, errors = [], []

    def run(scheduler: SweepScheduler) -> None:
        try:
            outcomes.append(scheduler.run_slot(slot))
        except BaseException as exc:  # noqa: BLE001 (reported in the test thread)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    db.session.expire_all()
    sweep = db.session.scalar(select(Sweep))
    assert sweep.id == slot_sweep_id(slot)
    assert sweep.finished_at is not None
    assert db.session.scalar(select(func.count()).select_from(Sweep)) == 1
    claims = db.session.scalars(select(SweepClaim)).all()
    assert len(claims) == 4  # each phone claimed (and so checked) by exactly one scheduler
    checked = db.session.scalars(select(func.count(func.distinct(ComplianceResult.device_id)))).one()
    assert checked == 4
    states = set(db.session.scalars(select(Device.compliance_state)))
    assert states <= {"compliant", "in_grace", "non_compliant"}
    assert "unknown" not in states
    assert {o.mode for o in outcomes} == {"in-process"}


@pytest.fixture
def redis_url():
    url = os.environ.get("PHONEGATE_TEST_REDIS_URL")
    if not url:
        if os.environ.get("PHONEGATE_TEST_REQUIRE_SERVICES", "") not in ("", "0"):
            pytest.fail("PHONEGATE_TEST_REDIS_URL is not set")
        pytest.skip("PHONEGATE_TEST_REDIS_URL is not set")
    return url


def test_with_a_broker_the_slot_enqueues_one_task_per_site_and_finishes_the_previous_sweep(
        app, factory, compliance_rules, redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    for queue in ("sweep.Town Hall", "sweep.Depot", "sweep.unassigned"):
        client.delete(queue)
    factory.device(serial="S1", state="provisioned", adb_endpoint="127.0.0.1:1", site="Town Hall")
    factory.device(serial="S2", state="provisioned", adb_endpoint="127.0.0.1:2", site="Depot")
    factory.device(serial="S3", state="provisioned", adb_endpoint="127.0.0.1:3")
    scheduler = SweepScheduler(app, "0 */4 * * *", server_url="http://127.0.0.1:9", broker_url=redis_url)
    first = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
    outcome = scheduler.run_slot(first)
    assert outcome.mode == "celery"
    assert outcome.sites == ("Depot", "Town Hall", "unassigned")
    assert {queue: client.llen(queue) for queue in ("sweep.Town Hall", "sweep.Depot", "sweep.unassigned")} == {
        "sweep.Town Hall": 1, "sweep.Depot": 1, "sweep.unassigned": 1}
    db.session.expire_all()
    assert db.session.get(Sweep, slot_sweep_id(first)).finished_at is None

    later = scheduler.run_slot(first + timedelta(hours=4))
    assert later.finished_earlier == (slot_sweep_id(first),)
    db.session.expire_all()
    assert db.session.get(Sweep, slot_sweep_id(first)).finished_at is not None
    for queue in ("sweep.Town Hall", "sweep.Depot", "sweep.unassigned"):
        client.delete(queue)


def test_start_honours_off_and_refuses_a_bad_schedule(app):
    from dataclasses import replace

    from server import scheduling

    settings = app.config["PHONEGATE"]
    def agent(sweep_id: str, server_url: str, token: str) -> None:
        raise AssertionError("no slot is due during this test")

    app.config["PHONEGATE"] = replace(settings, sweep_schedule="off")
    assert scheduling.start(app, server_url="http://127.0.0.1:9", agent=agent) is None
    app.config["PHONEGATE"] = replace(settings, sweep_schedule="61 * * * *")
    with pytest.raises(BadInput):
        scheduling.start(app, server_url="http://127.0.0.1:9", agent=agent)
    app.config["PHONEGATE"] = replace(settings, sweep_schedule="0 */4 * * *")
    with pytest.raises(BadInput, match="agent"):
        scheduling.start(app, server_url="http://127.0.0.1:9")  # in-process sweeps with nobody to run them
    running = scheduling.start(app, server_url="http://127.0.0.1:9", agent=agent)
    try:
        assert running is not None
        assert running._thread.is_alive()
    finally:
        running.stop()
    assert not running._thread.is_alive()
