"""Sweeps of phones on a real adb server (Debian's and Google's): `sweep --usb` checks every attached phone, an
unauthorised one is a row with the key's fingerprint, and a server killed mid-sweep loses nothing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from device_agent.outbox import Outbox
from device_agent.sweep import SweepOptions, run_sweep
from phonegate.cli import main

pytestmark = pytest.mark.adb


@pytest.fixture
def sweep_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, adb_key, adb_server) -> Path:  # type: ignore[no-untyped-def]
    for name, value in adb_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PHONEGATE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PHONEGATE_ADB_KEY", str(adb_key.path))
    monkeypatch.delenv("PHONEGATE_TOKEN", raising=False)
    monkeypatch.setattr("device_agent.adb.adb_server._default", None)  # this test's environment, not an earlier one
    return tmp_path / "instance"


def test_sweep_usb_checks_every_attached_phone(sweep_env: Path, attached_phones, adb_server, capsys) -> None:  # type: ignore[no-untyped-def]
    good, rooted = attached_phones(2, profiles=["google-pixel-9", "rooted-oneplus"])
    (stranger,) = attached_phones(1, authorised=False)
    code = main(["sweep", "--usb", "--json", "--timeout-per-phone", "20"])
    report = json.loads(capsys.readouterr().out)
    phones = {phone["endpoint"]: phone for phone in report["phones"]}
    assert code == 5  # the rooted phone is non-compliant
    assert phones[good.endpoint]["serial"] == good.serial
    assert phones[good.endpoint]["status"] == "compliant"
    assert phones[rooted.endpoint]["status"] == "non-compliant"
    assert adb_server.key.fingerprint() in phones[stranger.endpoint]["status"]
    assert Outbox(sweep_env / "outbox").count() >= 1  # no server: the results wait in the outbox


def test_sweep_serial_of_an_unreadable_phone_is_exit_4(sweep_env: Path, attached_phones, capsys) -> None:  # type: ignore[no-untyped-def]
    (good,) = attached_phones(1)
    code = main(["sweep", "--serial", good.serial, "--serial", "GONE-PHONE", "--timeout-per-phone", "20"])
    captured = capsys.readouterr()
    assert code == 4
    assert "GONE-PHONE" in captured.err
    assert "1 compliant" in captured.out


def test_adb_server_killed_mid_sweep_reports_the_phone_and_loses_nothing(sweep_env: Path, attached_phones, adb_server, adb_key) -> None:  # type: ignore[no-untyped-def]
    fast = attached_phones(2, profiles=["google-pixel-9"])
    (slow,) = attached_phones(1, profiles=["samsung-galaxy-s24"])
    slow.phone.faults.latency_ms = 400  # still answering when the server goes
    outbox = Outbox(sweep_env / "outbox")
    done: list[str] = []
    killed = threading.Event()

    def on_phone(report) -> None:  # type: ignore[no-untyped-def]
        done.append(report.target.endpoint)
        if len(done) == len(fast) and not killed.is_set():
            adb_server.crash()
            killed.set()

    options = SweepOptions(key=adb_key, concurrency=3, timeout_per_phone_s=20)
    outcome = run_sweep(None, outbox, options, [attached.endpoint for attached in fast + [slow]], on_phone=on_phone)
    by_endpoint = {report.target.endpoint: report for report in outcome.reports}
    assert killed.is_set()
    assert [by_endpoint[attached.endpoint].error for attached in fast] == [None, None]
    assert "unreachable" in (by_endpoint[slow.endpoint].error or "")
    assert "adb server" in (by_endpoint[slow.endpoint].error or "")
    stored = {row["serial"] for path in outbox.pending() for row in outbox.read(path).results}
    assert stored == {attached.serial for attached in fast}  # every phone read before the crash is kept
    assert adb_server.pid() is None  # and the server was not restarted behind the person's back
