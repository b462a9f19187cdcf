"""PhoneSession (adb-shell underneath) against simulated phones: connect, shell, push, install, authorisation."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from device_agent.adb import (
    AdbKey,
    DeviceUnauthorised,
    DeviceUnreachable,
    InstallFailed,
    ShellResult,
    connect_tcp,
    session,
    wait_for_authorisation,
)
from device_agent.adb.errors import BadEndpoint
from fixtures_phones import legacy_android_profile


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_connect_reads_banner_and_runs_shell_with_nodelay(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]

    async def scenario() -> tuple:
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            nodelay = session._backend.transport.nodelay()
            output = await session.shell("getprop ro.product.model; echo second")
            return session.banner, session.features, output, nodelay
        finally:
            await session.close()

    banner, features, output, nodelay = run(scenario())
    assert banner["ro.product.model"] == running.phone.properties["ro.product.model"]
    assert features == running.phone.features()
    assert output == running.phone.properties["ro.product.model"] + "\nsecond\n"
    assert nodelay


def test_push_writes_the_exact_bytes_and_reports_progress(phone_simulator, adb_key: AdbKey, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]
    local = tmp_path / "report.bin"
    local.write_bytes(os.urandom(700_000))
    seen: list[tuple[int, int]] = []

    async def scenario() -> None:
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            await session.push(local, "/data/local/tmp/report.bin", progress=lambda done, total: seen.append((done, total)))
        finally:
            await session.close()

    run(scenario())
    stored = running.phone.read_file("/data/local/tmp/report.bin")
    assert stored is not None
    assert hashlib.sha256(stored).digest() == hashlib.sha256(local.read_bytes()).digest()
    assert seen
    assert seen[-1] == (700_000, 700_000)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


@pytest.mark.parametrize("profile", ["google-pixel-9", "motorola-moto-g6", "legacy"])
def test_install_streamed_or_legacy_puts_the_package_on_the_phone(  # type: ignore[no-untyped-def]
    phone_simulator, adb_key: AdbKey, small_signed_apk: Path, profile: str
) -> None:
    running = phone_simulator(1, profiles=[legacy_android_profile() if profile == "legacy" else profile])[0]
    progress: list[int] = []

    async def scenario() -> tuple[str, str]:
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            await session.install(small_signed_apk, progress=lambda done, total: progress.append(done))
            return await session.shell("pm list packages"), await session.shell("ls /data/local/tmp")
        finally:
            await session.close()

    packages, leftovers = run(scenario())
    assert "package:org.phonegate.testapp" in packages.split()
    assert progress[-1] == small_signed_apk.stat().st_size
    assert ".apk" not in leftovers  # the legacy path removes its copy


def test_install_failure_is_explained(phone_simulator, adb_key: AdbKey, small_signed_apk: Path) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]
    running.phone.faults.install_failure = "INSTALL_FAILED_INSUFFICIENT_STORAGE"

    async def scenario() -> None:
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            await session.install(small_signed_apk)
        finally:
            await session.close()

    with pytest.raises(InstallFailed) as caught:
        run(scenario())
    assert caught.value.code == "INSTALL_FAILED_INSUFFICIENT_STORAGE"
    assert "not have enough free storage" in str(caught.value)


def test_unknown_key_raises_unauthorised_with_the_fingerprint(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1, authorised=False)[0]
    with pytest.raises(DeviceUnauthorised) as caught:
        run(connect_tcp(running.endpoint, adb_key, auth_timeout_s=0.5))
    message = str(caught.value)
    assert adb_key.fingerprint() in message
    assert "tap Allow" in message
    assert "Always allow from this computer" in message
    assert caught.value.exit_code == 4


def test_wait_for_authorisation_succeeds_once_allow_is_tapped(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1, authorised=False)[0]
    prompts: list[str] = []

    def person_taps_allow() -> None:
        for _ in range(100):
            if running.waiting_for_allow():
                running.allow()
                return
            threading.Event().wait(0.05)

    tapper = threading.Thread(target=person_taps_allow)
    tapper.start()

    async def scenario() -> str:
        session = await wait_for_authorisation(
            running.endpoint, adb_key, deadline_s=20, on_waiting=lambda exc: prompts.append(exc.fingerprint)
        )
        try:
            return await session.shell("echo in")
        finally:
            await session.close()

    assert run(scenario()) == "in\n"
    tapper.join()
    assert prompts == [adb_key.fingerprint()]  # told once, while the prompt was showing


def test_nothing_listening_is_unreachable_and_bad_endpoint_is_bad_input(adb_key: AdbKey) -> None:
    from ports import free_port

    port = free_port()  # nothing listens there
    with pytest.raises(DeviceUnreachable) as caught:
        run(connect_tcp(f"127.0.0.1:{port}", adb_key, connect_timeout_s=2))
    assert "Nothing is listening" in str(caught.value)
    with pytest.raises(BadEndpoint):
        run(connect_tcp("127.0.0.1:notaport", adb_key))


@pytest.mark.parametrize("profile", ["google-pixel-9", "motorola-moto-g6"])  # skips checksums / Android 8 keeps them
def test_session_speaks_the_version_the_phone_negotiates(phone_simulator, adb_key: AdbKey, tmp_path: Path, profile: str) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1, profiles=[profile])[0]
    local = tmp_path / "data.bin"
    local.write_bytes(os.urandom(300_000))

    async def scenario() -> bool:
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            await session.push(local, "/data/local/tmp/data.bin")  # an old phone drops the link on a bad checksum
            return session._backend.device._io_manager.send_checksums
        finally:
            await session.close()

    sends_checksums = run(scenario())
    assert sends_checksums == (running.phone.sdk < 28)
    assert running.phone.read_file("/data/local/tmp/data.bin") == local.read_bytes()


def test_stock_adb_shell_client_works_against_the_simulator(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    # adb-shell unmodified: protocol version 0x01000000, and it verifies every checksum the phone sends.
    from adb_shell.adb_device_async import AdbDeviceTcpAsync

    running = phone_simulator(1)[0]
    host, port = running.endpoint.rsplit(":", 1)

    async def scenario() -> str:
        device = AdbDeviceTcpAsync(host, int(port), default_transport_timeout_s=5)
        await device.connect(rsa_keys=[adb_key], auth_timeout_s=2)
        try:
            return await device.shell("echo stock")
        finally:
            await device.close()

    assert run(scenario()) == "stock\n"


def test_wait_for_authorisation_gives_up_at_its_deadline(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1, authorised=False)[0]
    started = time.monotonic()
    with pytest.raises(DeviceUnauthorised):
        run(wait_for_authorisation(running.endpoint, adb_key, deadline_s=0.5))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("profile", ["google-pixel-9", "legacy"])
def test_run_reports_stderr_and_exit_code_where_the_phone_can(phone_simulator, adb_key: AdbKey, profile: str) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1, profiles=[legacy_android_profile() if profile == "legacy" else profile])[0]

    async def scenario() -> ShellResult:
        async with session(running.endpoint, adb_key) as phone:
            return await phone.run("echo out; echo err >&2; exit 7")

    result = run(scenario())
    if profile == "legacy":  # Android 6: no shell v2, stderr mixed in and no exit code
        assert result.exit_code is None
        assert "out" in result.stdout
        assert "err" in result.stdout
    else:
        assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 7)


def test_many_phones_at_once(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    # Provisioning and sweeps talk to many phones concurrently from one event loop.
    phones = phone_simulator(40, profiles=["google-pixel-9", "samsung-galaxy-s24", "motorola-moto-g6"])

    async def one(endpoint: str) -> str:
        async with session(endpoint, adb_key) as phone:
            return (await phone.shell("getprop ro.serialno")).strip()

    async def everyone() -> list[str]:
        return await asyncio.gather(*(one(running.endpoint) for running in phones))

    assert run(everyone()) == [running.serial for running in phones]


def test_pull_and_stat_on_a_direct_connection(phone_simulator, adb_key: AdbKey, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]
    original = tmp_path / "up.bin"
    original.write_bytes(os.urandom(200_000))
    seen: list[int] = []

    async def scenario():  # type: ignore[no-untyped-def]
        async with session(running.endpoint, adb_key) as phone:
            await phone.push(original, "/sdcard/Download/up.bin")
            await phone.pull("/sdcard/Download/up.bin", tmp_path / "down.bin", progress=lambda done, total: seen.append(done))
            return await phone.stat("/sdcard/Download/up.bin")

    info = run(scenario())
    assert (tmp_path / "down.bin").read_bytes() == original.read_bytes()
    assert info.size == 200_000
    assert seen[-1] == 200_000
