"""`phonegate station` as a real subprocess: a real adb server (Debian's 29.0.6 and Google's 34.0.1), simulated
phones attached to it with `adb connect` (the same path a USB phone takes) that trust only the adb server's key,
the real WSGI server and database. Phones are plugged in and pulled out while the station runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import pytest

from server.models import DeviceState
from test_provision_adb_server import _provision, staffed  # noqa: F401 - shared fixtures
from test_provision_e2e import PHONEGATE, URL, _device, big_apk, provisioning  # noqa: F401,F811 - shared fixtures

pytestmark = [pytest.mark.adb, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]
SITE = "town-hall"


class RunningStation:
    """The station's output, read line by line as it comes (stdout is a pipe: plain lines)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: str, *, after: int = 0, timeout_s: float = 60.0) -> str:
        """The first line from index `after` on that matches `pattern`; fails with the whole output otherwise."""
        wanted = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if wanted.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    pytest.fail(f"no line matching {pattern!r}; the station said:\n" + "\n".join(self.lines))
                self._changed.wait(min(left, 0.5))

    @property
    def mark(self) -> int:
        with self._changed:
            return len(self.lines)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self.close()
        return code

    def close(self) -> None:
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def station_token(factory, web):  # type: ignore[no-untyped-def]
    token, _ = factory.token(user=web.it, scope="station")
    return token


@pytest.fixture
def run_station(staffed, adb_server, station_token, tmp_path):  # type: ignore[no-untyped-def]
    started: list[RunningStation] = []

    def start(*extra: str, server_url: str | None = None, site: str = SITE, env_extra: dict | None = None) -> RunningStation:
        env = dict(staffed.env, **adb_server.env, PHONEGATE_TOKEN=station_token, PHONEGATE_INSTANCE=str(tmp_path / "station"),
                   PHONEGATE_SWEEP_TIMEOUT_S="20", **(env_extra or {}))
        if server_url is not None:
            env["PHONEGATE_SERVER"] = server_url
        process = subprocess.Popen([PHONEGATE, "station", "--site", site, *extra], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        running = RunningStation(process)
        started.append(running)
        running.wait_for("waiting for phones")
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(10)
        running.close()


def _approved(staffed, adb_server, attached) -> None:  # type: ignore[no-untyped-def]
    """Enrolled with `provision` and approved on the manager's page (the station installs from there)."""
    first = _provision(staffed, adb_server, "--serial", attached.adb_serial)
    staffed.approve(int(URL.search(first.stdout + first.stderr).group(2)))
    assert _device(attached.serial).state == DeviceState.APPROVED.value


def _packages(adb_server, attached) -> str:  # type: ignore[no-untyped-def]
    return adb_server.run("-s", attached.adb_serial, "shell", "pm list packages").stdout.decode()


def test_hot_plug_new_phone_registered_as_needing_enrolment_and_unplugging_is_followed(run_station, adb_server, attached_phones):  # type: ignore[no-untyped-def]
    station = run_station("--sweep-every", "0")
    (phone,) = attached_phones(1)
    line = station.wait_for(rf"{phone.serial}.*needs enrolment \(run provision --serial {phone.serial}")
    assert "registered" in line
    assert _device(phone.serial).state == DeviceState.REGISTERED.value
    mark = station.mark
    adb_server.disconnect(phone.adb_serial)
    station.wait_for(rf"{re.escape(phone.adb_serial)}: unplugged", after=mark)
    assert station.stop() == 0
    assert station.lines[-1] == "station: stopped"


def test_unauthorised_phone_among_authorised_ones_is_told_to_tap_allow(run_station, adb_server, attached_phones):  # type: ignore[no-untyped-def]
    station = run_station("--sweep-every", "0")
    good = attached_phones(2)
    (stranger,) = attached_phones(1, authorised=False)
    line = station.wait_for(rf"{re.escape(stranger.adb_serial)}.*Allow USB debugging")
    assert adb_server.key.fingerprint() in line
    for phone in good:
        station.wait_for(rf"{phone.serial}.*needs enrolment")
    assert station.stop() == 0


def test_approved_phone_gets_its_app_then_is_checked_and_posted(staffed, run_station, adb_server, attached_phones):  # type: ignore[no-untyped-def]
    (phone,) = attached_phones(1)
    _approved(staffed, adb_server, phone)
    adb_server.disconnect(phone.adb_serial)
    station = run_station("--sweep-every", "0")
    assert adb_server.connect(phone.adb_serial) == "device"  # plugged in at the station
    line = station.wait_for(rf"{phone.serial}.*checked and posted", timeout_s=120)
    assert staffed.staff.email in line
    device = _device(phone.serial)
    assert device.state == DeviceState.PROVISIONED.value
    assert device.checked_in_site == SITE
    assert "package:com.whatsapp" in _packages(adb_server, phone)
    assert station.stop() == 0


def test_phone_pulled_mid_install_then_plugged_back_the_station_finishes(staffed, run_station, adb_server, attached_phones, big_apk, pinned_app):  # type: ignore[no-untyped-def]  # noqa: F811
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    add_app(db.session, big_apk, "individual", Actor.system())  # 2 MiB: a drop halfway lands inside the APK
    db.session.commit()
    (phone,) = attached_phones(1)
    _approved(staffed, adb_server, phone)
    station = run_station("--sweep-every", "0")
    phone.phone.faults.drop_after_bytes = big_apk.stat().st_size // 2  # the cable is pulled halfway through
    adb_server.disconnect(phone.adb_serial)
    assert adb_server.connect(phone.adb_serial) == "device"
    station.wait_for(rf"{phone.serial}.*install stopped", timeout_s=120)
    assert _device(phone.serial).state == DeviceState.APPROVED.value

    phone.phone.faults.drop_after_bytes = None
    mark = station.mark
    adb_server.disconnect(phone.adb_serial)
    assert adb_server.connect(phone.adb_serial) == "device"  # plugged back in
    station.wait_for(rf"{phone.serial}.*checked and posted", after=mark, timeout_s=120)
    assert _device(phone.serial).state == DeviceState.PROVISIONED.value
    assert station.stop() == 0


def test_server_down_the_check_waits_in_the_outbox(run_station, adb_server, attached_phones, tmp_path, factory):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ports import free_port
    from server.extensions import db
    from server.models import ComplianceResult, Device

    (phone,) = attached_phones(1)
    factory.device(serial=phone.serial, state="provisioned", role="broadcast")  # enrolled earlier
    station = run_station("--sweep-every", "0", server_url=f"http://127.0.0.1:{free_port()}")
    station.wait_for(rf"{phone.serial}.*results kept in the outbox", timeout_s=90)
    assert station.stop() == 0
    from device_agent.outbox import Outbox

    outbox = Outbox(tmp_path / "station" / "outbox")
    serials = {row["serial"] for path in outbox.pending() for row in outbox.read(path).results}
    assert serials == {phone.serial}

    adb_server.disconnect(phone.adb_serial)  # unplugged: the next station delivers the outbox by itself
    again = run_station("--sweep-every", "0")  # the server answers again
    again.wait_for(r"delivered \d+ batch\(es\) from the outbox")
    assert again.stop() == 0
    assert outbox.count() == 0
    results = db.session.scalars(select(ComplianceResult).join(Device).where(Device.serial == phone.serial)).all()
    assert len(results) > 0


def test_scheduled_sweep_survives_the_adb_server_killed_mid_sweep(run_station, adb_server, attached_phones):  # type: ignore[no-untyped-def]
    station = run_station("--sweep-every", "0.03")  # about every 2 s
    phones = attached_phones(3)
    for phone in phones:
        station.wait_for(rf"{phone.serial}.*needs enrolment")
    station.wait_for(r"scheduled sweep: 3 phone\(s\) checked")
    mark = station.mark
    adb_server.crash()
    station.wait_for(r"adb server .*(stopped|would not)", after=mark)
    # The sweep that was running, or the next one, reports; the station keeps going.
    station.wait_for(r"scheduled sweep: \d+ phone\(s\) checked", after=mark, timeout_s=60)
    assert station.process.poll() is None
    adb_server.start()
    mark = station.mark
    for phone in phones:
        assert adb_server.connect(phone.adb_serial) == "device"
    for phone in phones:  # followed again once the adb server is back
        station.wait_for(rf"{phone.serial}.*needs enrolment", after=mark, timeout_s=60)
    assert station.stop() == 0


@pytest.mark.slow
def test_with_a_broker_the_station_is_the_celery_worker_of_its_site(run_station, factory, phone_simulator, station_token,
                                                                    live_server):  # type: ignore[no-untyped-def]
    import uuid

    from sqlalchemy import func, select

    from device_agent.client import PhoneGateClient
    from device_agent.sweep_api import ComplianceApi
    from device_agent.tasks import enqueue_site, make_celery
    from server.extensions import db
    from server.models import ComplianceResult

    url = os.environ.get("PHONEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    site = f"site-{uuid.uuid4().hex[:8]}"  # a fresh queue
    phones = phone_simulator(2)
    for phone in phones:
        factory.device(serial=phone.serial, adb_endpoint=phone.endpoint, site=site, state="registered")
    station = run_station("--sweep-every", "0", site=site, env_extra={"PHONEGATE_BROKER_URL": url})
    broker = make_celery(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = broker.control.ping(timeout=1.0) or []
            if any(name.startswith(f"station-{site}@") for reply in replies for name in reply):
                break
        else:
            pytest.fail("the station's worker did not come up:\n" + "\n".join(station.lines))
        sweep_id = str(uuid.uuid4())
        api = ComplianceApi(PhoneGateClient(live_server.url, station_token))
        api.start_sweep(sweep_id, "scheduler")
        enqueue_site(sweep_id, site, app=broker)
        stored = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored == 0:
            time.sleep(0.3)
            with live_server.app.app_context():
                stored = db.session.scalar(select(func.count(func.distinct(ComplianceResult.device_id)))
                                           .where(ComplianceResult.sweep_id == sweep_id))
        time.sleep(1.0)
        with live_server.app.app_context():
            stored = db.session.scalar(select(func.count(func.distinct(ComplianceResult.device_id)))
                                       .where(ComplianceResult.sweep_id == sweep_id))
    finally:
        broker.close()
    assert stored == len(phones), "\n".join(station.lines)
    assert station.stop() == 0


@pytest.mark.slow
def test_sixteen_phones_plugged_in_at_once(run_station, attached_phones):  # type: ignore[no-untyped-def]
    station = run_station("--sweep-every", "0")
    phones = attached_phones(16)
    for phone in phones:
        station.wait_for(rf"{phone.serial}.*needs enrolment", timeout_s=120)
    assert station.stop() == 0
