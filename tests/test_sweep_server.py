"""Sweeps against the real server (H1's live_server: waitress on loopback, SQLite and PostgreSQL) and simulated
phones: the right phones are marked, every result is stored exactly once, and results survive the server going
away mid-sweep (outbox), none lost or doubled when delivered later."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from device_agent.adb import connect_tcp
from device_agent.client import PhoneGateClient, RetryPolicy
from device_agent.collect import collect_facts
from device_agent.outbox import Outbox
from device_agent.sweep import SweepOptions, run_sweep
from device_agent.sweep_api import ComplianceApi
from device_agent.sweep_upload import deliver_pending

# Device rules only, no grace: the verdict is decided by this sweep's results alone.
TEST_POLICY = """
schema: 1
rules:
  identity: {grace_days: 0}
  min_android_version: {grace_days: 0}
  storage_encrypted: {grace_days: 0}
  secure_lock_screen: {grace_days: 0}
  not_rooted: {grace_days: 0}
  bootloader_locked: {grace_days: 0}
  approved_app_state: {grace_days: 0}
"""
RULES = 7


def _api(url: str, token: str, attempts: int = 2) -> ComplianceApi:
    retry = RetryPolicy(attempts=attempts, first_delay_s=0.05)
    return ComplianceApi(client_factory=lambda: PhoneGateClient(url, token, timeout_s=10, retry=retry))  # a client per thread


def _facts(phone, key):
    async def read():
        session = await connect_tcp(phone.endpoint, key)
        try:
            return await collect_facts(session, [])
        finally:
            await session.close()

    return asyncio.run(read())


def _publish(factory, document: str = TEST_POLICY) -> None:
    from server.services.compliance.rules import publish_version

    publish_version(factory.session, document, factory.actor, comment="test rules")
    factory.session.commit()


def _enrol(factory, phone, key, *, state: str, role: str = "individual", serial: str | None = None):
    """Inventory as enrolment would have left it: facts from the phone itself, its endpoint, a lifecycle state."""
    facts = _facts(phone, key)
    return factory.device(
        serial=serial or phone.serial, model=facts.model, build_fingerprint=facts.build_fingerprint,
        adb_endpoint=phone.endpoint, state=state, role=role,
    )


def _results(app, sweep_id: str) -> list[tuple[str, str, str]]:
    from server.extensions import db
    from server.models import ComplianceResult, Device

    with app.app_context():
        rows = db.session.execute(
            select(Device.serial, ComplianceResult.rule, ComplianceResult.outcome)
            .join(Device, Device.id == ComplianceResult.device_id)
            .where(ComplianceResult.sweep_id == sweep_id)
        ).all()
    return [tuple(row) for row in rows]


def _all_results(app) -> int:
    from server.extensions import db
    from server.models import ComplianceResult

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ComplianceResult))


@pytest.fixture
def agent_token(factory) -> str:
    plaintext, _ = factory.token(factory.user("it"), scope="agent")
    return plaintext


def test_a_mixed_fleet_marks_exactly_the_phones_it_should(live_server, factory, agent_token, phone_simulator, adb_key, tmp_path: Path) -> None:
    _publish(factory)
    pixel, pixel_b, rooted, moto, s24 = phone_simulator(
        5, profiles=["google-pixel-9", "google-pixel-9", "rooted-oneplus", "motorola-moto-g6", "samsung-galaxy-s24"]
    )
    _enrol(factory, pixel, adb_key, state="approved")  # clean, WhatsApp not installed yet
    _enrol(factory, pixel_b, adb_key, state="registered", role="broadcast")  # clean
    _enrol(factory, rooted, adb_key, state="approved")  # su, unlocked bootloader
    _enrol(factory, moto, adb_key, state="suspended")  # unencrypted, swipe lock, old Android, WhatsApp still on it
    swapped = _enrol(factory, s24, adb_key, state="registered", serial="R5CXSOMEOTHER1")  # another phone answers there
    swapped_model = swapped.model

    outbox = Outbox(tmp_path / "outbox")
    outcome = run_sweep(_api(live_server.url, agent_token), outbox, SweepOptions(key=adb_key, timeout_per_phone_s=20))

    assert outcome.plan.online
    assert outcome.plan.rules_version is not None
    assert {t.expected.serial for t in outcome.plan.targets} == {pixel.serial, pixel_b.serial, rooted.serial, moto.serial, "R5CXSOMEOTHER1"}
    assert outcome.server_summary is not None
    assert sorted(outcome.non_compliant) == sorted([rooted.serial, moto.serial, "R5CXSOMEOTHER1"])
    local = {r.serial: set(r.failing) for r in outcome.reports}
    assert local[rooted.serial] == {"not_rooted", "bootloader_locked"}
    assert local[moto.serial] == {"min_android_version", "storage_encrypted", "secure_lock_screen", "approved_app_state"}
    assert local["R5CXSOMEOTHER1"] == {"identity", "approved_app_state"}  # and s24's WhatsApp on a registered phone
    assert local[pixel.serial] == local[pixel_b.serial] == set()

    rows = _results(live_server.app, outcome.plan.sweep_id)
    assert len(rows) == 5 * RULES == len({(serial, rule) for serial, rule, _ in rows})  # each once
    assert outbox.count() == 0
    assert outcome.outbox_waiting == 0
    factory.session.refresh(swapped)
    assert swapped.model == swapped_model  # another phone's facts were not written over the inventory


class StoppableServer:
    """A second waitress server on the same app, which a test can stop mid-sweep."""

    def __init__(self, app) -> None:
        from waitress import create_server

        self.server = create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        def close_everything() -> None:
            for channel in list(self.server._map.values()):
                try:
                    channel.close()
                except OSError:
                    pass

        self.server.trigger.pull_trigger(close_everything)
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown(timeout=10)


def test_server_down_mid_sweep_loses_nothing_and_counts_nothing_twice(live_server, factory, agent_token, phone_simulator, adb_key, tmp_path: Path) -> None:
    _publish(factory)
    phones = phone_simulator(6, profiles=["google-pixel-9", "rooted-oneplus", "samsung-galaxy-s24"])
    for phone in phones:
        _enrol(factory, phone, adb_key, state="registered")
    doomed = StoppableServer(live_server.app)
    outbox = Outbox(tmp_path / "outbox")
    seen: list[str] = []

    def phone_done(report) -> None:
        seen.append(report.serial)
        if len(seen) == 2:
            deadline = time.monotonic() + 10
            while not _all_results(live_server.app) and time.monotonic() < deadline:
                time.sleep(0.05)  # the first phone's batch is on its way (uploads run beside the sweep)
            doomed.stop()  # the server goes away while the sweep is still running

    options = SweepOptions(key=adb_key, concurrency=1, timeout_per_phone_s=20, batch_results=RULES)  # a batch per phone
    outcome = run_sweep(_api(doomed.url, agent_token), outbox, options, on_phone=phone_done)
    sweep_id = outcome.plan.sweep_id
    delivered_before = _results(live_server.app, sweep_id)
    assert outcome.delivery.server_down
    assert outcome.server_summary is None
    assert 0 < len(delivered_before) < 6 * RULES
    assert outcome.outbox_waiting == outbox.count() > 0

    # One batch is delivered twice (as after a lost acknowledgement): the server keeps one copy.
    first_waiting = outbox.pending()[0]
    shutil.copy(first_waiting, first_waiting.with_name("0" + first_waiting.name))

    report = deliver_pending(_api(live_server.url, agent_token), outbox)  # the next run, server back
    assert not report.server_down
    assert outbox.count() == 0
    assert report.set_aside == []
    # At least the copied batch comes back as duplicates; a batch whose answer was cut off by the stop may too.
    assert report.duplicates >= RULES
    assert report.finish is not None
    rows = _results(live_server.app, sweep_id)
    assert len(rows) == 6 * RULES == len({(serial, rule) for serial, rule, _ in rows})
    assert {serial for serial, _, _ in rows} == {phone.serial for phone in phones}
    assert sorted(report.finish["non_compliant"]) == sorted(p.serial for p in phones if p.serial in {r.serial for r in outcome.reports if r.failing})


def test_a_sweep_against_a_dead_server_is_delivered_by_the_next_sweep(live_server, factory, agent_token, phone_simulator, adb_key, tmp_path: Path) -> None:
    from ports import free_port

    _publish(factory)
    pixel, rooted = phone_simulator(2, profiles=["google-pixel-9", "rooted-oneplus"])
    for phone in (pixel, rooted):
        _enrol(factory, phone, adb_key, state="registered")
    outbox = Outbox(tmp_path / "outbox")
    options = SweepOptions(key=adb_key, timeout_per_phone_s=20)
    offline = run_sweep(_api(f"http://127.0.0.1:{free_port()}", agent_token, attempts=1), outbox, options, [pixel.endpoint, rooted.endpoint])
    assert not offline.plan.online
    assert offline.outbox_waiting == 2  # results + finish
    assert _results(live_server.app, offline.plan.sweep_id) == []

    online = run_sweep(_api(live_server.url, agent_token), outbox, options)  # delivers the old batches first
    assert online.earlier.delivered == 2
    assert online.earlier.stored == 2 * len(offline.reports[0].results)
    assert len(_results(live_server.app, offline.plan.sweep_id)) == 2 * len(offline.reports[0].results)
    assert len(_results(live_server.app, online.plan.sweep_id)) == 2 * RULES
    assert outbox.count() == 0


def test_cli_sweep_uses_the_servers_verdict_and_exits_5(live_server, factory, agent_token, phone_simulator, adb_key, tmp_path: Path, monkeypatch, capsys) -> None:
    import json

    from phonegate.cli import main

    _publish(factory)
    good, rooted = phone_simulator(2, profiles=["google-pixel-9", "rooted-oneplus"])
    _enrol(factory, good, adb_key, state="registered")
    _enrol(factory, rooted, adb_key, state="registered")
    monkeypatch.setenv("PHONEGATE_SERVER", live_server.url)
    monkeypatch.setenv("PHONEGATE_TOKEN", agent_token)
    monkeypatch.setenv("PHONEGATE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PHONEGATE_ADB_KEY", str(adb_key.path))
    assert main(["sweep", "--json"]) == 5
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["server_reached"] is True
    assert data["non_compliant"] == [rooted.serial]
    assert data["server_summary"]["counts"]["non_compliant"] == 1
    assert data["outbox"]["waiting"] == 0
    assert f"1 phone(s) non-compliant: {rooted.serial}" in out.err
