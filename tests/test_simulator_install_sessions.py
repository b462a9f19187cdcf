"""Install sessions on the simulated phone (pm install-create / install-write / install-commit / install-abandon),
first through its shell, then as `adb install-multiple` drives them: Debian's adb 29 (`exec:cmd package`, or
`exec:pm` on an Android 8 phone) and Google's adb 34 from adbx (`abb_exec:package\\0install-write\\0...`)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from device_agent.simulator.phone import VirtualPhone


def run(phone: VirtualPhone, command: str) -> tuple[str, str, int]:
    outcome = phone.run_shell(command)
    return outcome.stdout.decode(), outcome.stderr.decode(), outcome.exit_code


def create(phone: VirtualPhone, options: str = "-r") -> int:
    out, err, code = run(phone, f"pm install-create {options}")
    match = re.fullmatch(r"Success: created install session \[(\d+)\]\n", out)
    assert match is not None, (out, err, code)
    return int(match.group(1))


def write(phone: VirtualPhone, session: int, apk: Path, name: str | None = None) -> tuple[str, str, int]:
    """As a person would over `adb shell`: push the file, then pipe it into install-write."""
    remote = f"/data/local/tmp/{apk.name}"
    assert phone.write_file(remote, apk.read_bytes(), 0o644, 0) is None
    return run(phone, f"cat {remote} | pm install-write -S {apk.stat().st_size} {session} {name or apk.name} -")


@pytest.fixture
def pixel() -> VirtualPhone:
    return VirtualPhone.from_profile("google-pixel-9", serial="SESSION01")


def test_a_session_installs_base_and_splits(pixel: VirtualPhone, split_apks: SimpleNamespace) -> None:
    session = create(pixel)
    for apk in (split_apks.base, split_apks.split_xxhdpi, split_apks.split_en):
        assert write(pixel, session, apk) == (f"Success: streamed {apk.stat().st_size} bytes\n", "", 0)
    assert run(pixel, f"pm install-commit {session}") == ("Success\n", "", 0)
    paths = run(pixel, f"pm path {split_apks.package}")[0].splitlines()
    assert [line.rsplit("/", 1)[-1] for line in paths] == ["base.apk", "split_config.xxhdpi.apk", "split_config.en.apk"]
    assert "    splits=[base, config.xxhdpi, config.en]" in run(pixel, f"dumpsys package {split_apks.package}")[0].splitlines()
    assert pixel.package_db.packages[split_apks.package].version_code == split_apks.version_code


def test_install_write_from_a_file_on_the_phone_and_order_does_not_matter(pixel: VirtualPhone, split_apks) -> None:
    session = create(pixel, "-S 99999")
    for apk in (split_apks.split_xxhdpi, split_apks.base):
        pixel.write_file(f"/data/local/tmp/{apk.name}", apk.read_bytes(), 0o644, 0)
        assert run(pixel, f"cmd package install-write {session} {apk.stem} /data/local/tmp/{apk.name}")[2] == 0
    assert run(pixel, f"cmd package install-commit {session}") == ("Success\n", "", 0)


@pytest.mark.parametrize(("files", "message"), [
    (("base", "split_newer"), "version code 8 inconsistent with 7"),
    (("base", "split_other_package"), "package org.phonegate.otherapp inconsistent with org.phonegate.splitapp"),
    (("base", "split_other_signer"), "signatures are inconsistent"),
    (("split_xxhdpi", "split_en"), "Full install must include a base package"),
    (("base", "second_base"), "Split null was defined multiple times"),
    ((), "No packages staged"),
])
def test_a_set_that_disagrees_is_refused_as_android_refuses_it(pixel: VirtualPhone, split_apks, files, message: str) -> None:
    session = create(pixel)
    for name in files:
        assert write(pixel, session, getattr(split_apks, name))[2] == 0
    out, err, code = run(pixel, f"pm install-commit {session}")
    assert out.startswith("Failure [INSTALL_FAILED_INVALID_APK: "), out
    assert message in out
    assert code == 1
    assert split_apks.package not in pixel.package_db.packages
    assert run(pixel, f"pm install-commit {session}")[2] == 255  # a committed session is gone, even a failed one


def test_the_failure_names_the_staged_file(pixel: VirtualPhone, split_apks) -> None:
    session = create(pixel)
    write(pixel, session, split_apks.base)
    write(pixel, session, split_apks.split_newer, name="feature.apk")
    assert f"/data/app/vmdl{session}.tmp/feature.apk version code" in run(pixel, f"pm install-commit {session}")[0]


def test_abandon_and_unknown_sessions(pixel: VirtualPhone, split_apks) -> None:
    session = create(pixel)
    write(pixel, session, split_apks.base)
    assert run(pixel, f"pm install-abandon {session}") == ("Success\n", "", 0)
    out, err, code = run(pixel, f"pm install-commit {session}")
    assert (out, code) == ("", 255)
    assert f"java.lang.SecurityException: Caller has no access to session {session}" in err
    assert "Caller has no access to session 12" in write(pixel, 12, split_apks.base)[1]
    assert split_apks.package not in pixel.package_db.packages


@pytest.mark.parametrize(("command", "message"), [
    ("pm install-write -S 10 SESSION ../base.apk -", "Invalid name: ../base.apk"),
    ("pm install-write -S 10 abc base.apk -", 'For input string: "abc"'),
    ("pm install-write -S 999999 SESSION base.apk /data/local/tmp/missing.apk", "Unable to open file"),
    ("pm install-write SESSION", "usage: install-write"),
    ("pm install-commit", "usage: install-commit"),
])
def test_bad_install_write_arguments_are_refused(pixel: VirtualPhone, command: str, message: str) -> None:
    session = create(pixel)
    out, err, code = run(pixel, command.replace("SESSION", str(session)))
    assert message in err
    assert code != 0


def test_short_data_is_refused(pixel: VirtualPhone, split_apks) -> None:
    session = create(pixel)
    pixel.write_file("/data/local/tmp/x.apk", split_apks.base.read_bytes()[:100], 0o644, 0)
    out, err, code = run(pixel, f"cat /data/local/tmp/x.apk | pm install-write -S 5000 {session} base.apk -")
    assert "only 100 of 5000 bytes arrived" in err
    assert code == 1


def test_a_single_install_replaces_the_splits(pixel: VirtualPhone, split_apks) -> None:
    session = create(pixel)
    write(pixel, session, split_apks.base)
    write(pixel, session, split_apks.split_xxhdpi)
    assert run(pixel, f"pm install-commit {session}")[2] == 0
    assert pixel.install_apk(split_apks.base.read_bytes(), ["-r"]) == "Success"
    assert pixel.package_db.packages[split_apks.package].splits == []


# ---- the real clients -------------------------------------------------------------------------------------------
CLIENTS = [("debian", "google-pixel-9"), ("debian", "motorola-moto-g6"), ("adbx", "google-pixel-9")]


@pytest.mark.adb
@pytest.mark.parametrize(("client", "profile"), CLIENTS, ids=[f"{c}-{p}" for c, p in CLIENTS])
def test_adb_install_multiple_installs_the_set(adb_servers, phone_simulator, tmp_path: Path, split_apks, client: str,
                                               profile: str) -> None:
    server = adb_servers(client)
    phone = trusting(phone_simulator, tmp_path, server, profile)
    assert server.connect(phone.endpoint) == "device"
    result = server.run("-s", phone.endpoint, "install-multiple", str(split_apks.base), str(split_apks.split_xxhdpi),
                        str(split_apks.split_en))
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"Success" in result.stdout
    listed = server.run("-s", phone.endpoint, "shell", "pm", "path", split_apks.package).stdout.decode().split()
    assert [line.rsplit("/", 1)[-1] for line in listed] == ["base.apk", "split_config.xxhdpi.apk", "split_config.en.apk"]


@pytest.mark.adb
@pytest.mark.parametrize("client", ["debian", "adbx"])
def test_adb_install_multiple_of_a_mismatched_set_fails_and_installs_nothing(adb_servers, phone_simulator, tmp_path: Path,
                                                                             split_apks, client: str) -> None:
    server = adb_servers(client)
    phone = trusting(phone_simulator, tmp_path, server, "google-pixel-9")
    assert server.connect(phone.endpoint) == "device"
    result = server.run("-s", phone.endpoint, "install-multiple", str(split_apks.base), str(split_apks.split_newer))
    assert result.returncode != 0
    assert b"INSTALL_FAILED_INVALID_APK" in result.stdout + result.stderr
    assert split_apks.package not in phone.phone.package_db.packages
    assert phone.phone.installer.sessions == {}  # adb committed, Android dropped the failed session


def trusting(phone_simulator, tmp_path: Path, server, profile: str):  # type: ignore[no-untyped-def]
    """One phone whose adb_keys lists only this adb server's key."""
    (phone,) = phone_simulator(1, profiles=[profile], authorised=False)
    keys = phone.simulated.keys.path
    keys.write_text(server.key.public_line + "\n")
    return phone


@pytest.mark.adb
def test_adb_shell_install_with_stdin_arrives_in_shell_v2_packets(adb_servers, phone_simulator, tmp_path: Path,
                                                                  small_signed_apk: Path) -> None:
    server = adb_servers("debian")
    phone = trusting(phone_simulator, tmp_path, server, "google-pixel-9")
    assert server.connect(phone.endpoint) == "device"
    size = small_signed_apk.stat().st_size
    with small_signed_apk.open("rb") as apk:
        result = subprocess.run([server.binary, "-s", phone.endpoint, "shell", f"cmd package install -S {size}"], stdin=apk,
                                env=server.env, capture_output=True, timeout=60, check=False)
    assert result.stdout == b"Success\n"
    assert result.returncode == 0
    assert "org.phonegate.testapp" in phone.phone.package_db.packages


def test_install_write_without_room_is_refused_and_the_session_stays_open(split_apks) -> None:
    # PackageInstallerSession.openWriteInternal reserves -S bytes first; PackageManagerService.freeStorage then
    # throws "Failed to free N on storage device at /data" (AOSP's words). The session stays until abandoned.
    phone = VirtualPhone.from_profile("google-pixel-9", serial="SESSION02")
    phone.profile = dataclasses.replace(phone.profile, storage_free_mb=1)
    session = create(phone)
    assert write(phone, session, split_apks.base)[2] == 0
    out, err, code = write(phone, session, split_apks.split_big)
    size = split_apks.split_big.stat().st_size
    assert err == ("Exception occurred while executing 'install-write':\n"
                   f"java.io.IOException: Failed to free {size} on storage device at /data\n")
    assert session in phone.installer.sessions
    assert run(phone, f"pm install-abandon {session}") == ("Success\n", "", 0)
    assert phone.installer.sessions == {}
