"""Debian's real `adb` client (29.0.6) against the simulated phones: what IT staff would type must just work."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from fixtures_phones import legacy_android_profile

pytestmark = pytest.mark.adb


def test_connect_shows_device_and_shell_exit_codes(adb_client, phone_simulator) -> None:  # type: ignore[no-untyped-def]
    phone = phone_simulator(1)[0]
    connected = adb_client.run("connect", phone.endpoint)
    assert b"connected to" in connected.stdout
    assert adb_client.wait_for_state(phone.endpoint, "device") == "device"
    model = adb_client.run("-s", phone.endpoint, "shell", "getprop", "ro.product.model")
    assert model.stdout.decode().strip() == phone.phone.properties["ro.product.model"]
    assert adb_client.run("-s", phone.endpoint, "shell", "exit 3").returncode == 3
    failing = adb_client.run("-s", phone.endpoint, "shell", "ls /definitely/missing")
    assert failing.returncode != 0
    assert failing.stderr  # stderr kept apart from stdout with shell v2


def test_unknown_key_is_unauthorized_until_allow(adb_client, phone_simulator) -> None:  # type: ignore[no-untyped-def]
    phone = phone_simulator(1, authorised=False)[0]
    assert adb_client.connect(phone.endpoint, state="unauthorized") == "unauthorized"
    assert phone.waiting_for_allow()
    assert phone.allow() == 1
    assert adb_client.wait_for_state(phone.endpoint, "device") == "device"
    assert adb_client.run("-s", phone.endpoint, "shell", "echo", "allowed").stdout == b"allowed\n"


def test_push_pull_round_trip_and_ls(adb_client, phone_simulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    phone = phone_simulator(1)[0]
    assert adb_client.connect(phone.endpoint) == "device"
    original = tmp_path / "photo.bin"
    original.write_bytes(os.urandom(2_500_000))
    pushed = adb_client.run("-s", phone.endpoint, "push", str(original), "/sdcard/Download/photo.bin")
    assert pushed.returncode == 0, pushed.stderr
    pulled = adb_client.run("-s", phone.endpoint, "pull", "/sdcard/Download/photo.bin", str(tmp_path / "back.bin"))
    assert pulled.returncode == 0, pulled.stderr
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "back.bin") == digest(original)
    listing = adb_client.run("-s", phone.endpoint, "ls", "/sdcard/Download")
    assert listing.returncode == 0
    assert any(line.split()[-1] == "photo.bin" and int(line.split()[1], 16) == 2_500_000 for line in listing.stdout.decode().splitlines())
    missing = adb_client.run("-s", phone.endpoint, "pull", "/sdcard/nothing-here", str(tmp_path / "x"))
    assert missing.returncode != 0


@pytest.mark.parametrize("profile", ["google-pixel-9", "motorola-moto-g6", "legacy"])  # abb_exec, `exec:cmd`, push + pm
def test_adb_install_then_pm_lists_the_package(adb_client, phone_simulator, small_signed_apk: Path, profile: str) -> None:  # type: ignore[no-untyped-def]
    phone = phone_simulator(1, profiles=[legacy_android_profile() if profile == "legacy" else profile])[0]
    assert adb_client.connect(phone.endpoint) == "device"
    installed = adb_client.run("-s", phone.endpoint, "install", str(small_signed_apk))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert b"Success" in installed.stdout
    packages = adb_client.run("-s", phone.endpoint, "shell", "pm", "list", "packages").stdout.decode().split()
    assert "package:org.phonegate.testapp" in packages


def test_adb_install_of_garbage_reports_the_failure(adb_client, phone_simulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    phone = phone_simulator(1)[0]
    assert adb_client.connect(phone.endpoint) == "device"
    bogus = tmp_path / "bogus.apk"
    bogus.write_bytes(b"this is not a zip file" * 100)
    result = adb_client.run("-s", phone.endpoint, "install", str(bogus))
    assert result.returncode != 0
    assert b"INSTALL_PARSE_FAILED_NOT_APK" in result.stdout + result.stderr
