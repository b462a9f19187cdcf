"""Choosing phones (`--tcp`, `--serial`, `--usb`) as people run it: the installed console script, a real adb server
(Debian's and Google's), simulated phones that trust only that server's key."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from device_agent.phones import choose_phones, phone_options

pytestmark = pytest.mark.adb
PHONEGATE = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "phonegate"


def phonegate(adb_server, adb_key, *args: str, env: dict[str, str] | None = None, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    environment = dict(env if env is not None else adb_server.env, PHONEGATE_ADB_KEY=str(adb_key.path))
    return subprocess.run([str(PHONEGATE), *args], env=environment, capture_output=True, text=True, timeout=timeout_s)


def test_usb_means_every_phone_and_json_is_a_list(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    phones = attached_phones(2, profiles=["google-pixel-9", "samsung-galaxy-s24"])
    result = phonegate(adb_server, adb_key, "inspect", "--usb", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert sorted(entry["serial"] for entry in listed) == sorted(attached.serial for attached in phones)
    assert sorted(entry["endpoint"] for entry in listed) == sorted(attached.endpoint for attached in phones)
    assert sorted(entry["model"] for entry in listed) == sorted(attached.phone.properties["ro.product.model"] for attached in phones)


def test_an_unauthorised_phone_is_reported_with_the_fingerprint_and_the_others_go_on(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    good = attached_phones(2)
    (stranger,) = attached_phones(1, authorised=False)
    result = phonegate(adb_server, adb_key, "inspect", "--usb", "--json", "--auth-timeout", "0")
    assert result.returncode == 4, result.stderr
    assert sorted(entry["serial"] for entry in json.loads(result.stdout)) == sorted(attached.serial for attached in good)
    lines = result.stderr.splitlines()
    complaint = [line for line in lines if stranger.adb_serial in line]
    assert len(complaint) == 1
    assert adb_server.key.fingerprint() in complaint[0]
    assert "~/.android/adbkey" in complaint[0] or str(adb_server.home) in complaint[0]
    assert "Traceback" not in result.stderr


def test_an_offline_phone_gets_its_own_line(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    (good,) = attached_phones(1)
    (silent,) = attached_phones(1, state="offline")
    result = phonegate(adb_server, adb_key, "inspect", "--usb")
    assert result.returncode == 4, result.stderr
    assert f"serial {good.serial}" in result.stdout
    assert any(silent.adb_serial in line and "offline" in line for line in result.stderr.splitlines())


def test_serial_by_adb_serial_and_by_the_phones_own_serial_number(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    first, second, third = attached_phones(3)
    by_adb = phonegate(adb_server, adb_key, "inspect", "--serial", first.adb_serial, "--json")
    assert by_adb.returncode == 0, by_adb.stderr
    assert json.loads(by_adb.stdout)["serial"] == first.serial  # one phone named: one object
    by_own = phonegate(adb_server, adb_key, "inspect", "--serial", second.serial, "--serial", third.adb_serial, "--json")
    assert by_own.returncode == 0, by_own.stderr
    assert [entry["serial"] for entry in json.loads(by_own.stdout)] == [second.serial, third.serial]


def test_a_serial_no_phone_answers_to_is_exit_4_naming_what_the_server_has(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)
    result = phonegate(adb_server, adb_key, "inspect", "--serial", "NOT-PLUGGED-IN")
    assert result.returncode == 4
    assert "NOT-PLUGGED-IN" in result.stderr
    assert attached.adb_serial in result.stderr
    assert result.stderr.count("\n") == 1


def test_tcp_and_adb_phones_together(adb_server, attached_phones, phone_simulator, adb_key) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)
    (direct,) = phone_simulator(1)  # trusts PhoneGate's own key, reached without the adb server
    result = phonegate(adb_server, adb_key, "inspect", "--tcp", direct.endpoint, "--serial", attached.serial, "--json")
    assert result.returncode == 0, result.stderr
    assert [entry["serial"] for entry in json.loads(result.stdout)] == [direct.serial, attached.serial]


def test_no_adb_server_and_no_adb_falls_back_to_libusb(adb_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ports import free_port

    empty = tmp_path / "bin"  # no `adb` anywhere (the venv's bin has adbx's `adb`)
    empty.mkdir()
    env = {"PATH": str(empty), "HOME": str(tmp_path), "ANDROID_ADB_SERVER_PORT": str(free_port())}
    result = phonegate(None, adb_key, "inspect", "--usb", env=env)
    assert result.returncode == 4
    assert "No phone over USB" in result.stderr  # libusb looked (there is no phone on this machine's USB)


def test_choose_phones_reads_serial_numbers_for_the_sweep(adb_server, attached_phones) -> None:  # type: ignore[no-untyped-def]
    phones = attached_phones(2)
    chosen = asyncio.run(choose_phones(phone_options((), (), True), adb_server.client(), identify=True))
    assert chosen.serial_numbers == {attached.endpoint: attached.serial for attached in phones}
