"""PhoneSession through a real adb server (Debian's 29.0.6 and Google's 34.0.1, every test on both): the phones
trust only the server's key, so nothing here can pass through a direct connection."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from device_agent.adb import AdbKey, DeviceUnauthorised, DeviceUnreachable, InstallFailed, connect, connect_tcp, session
from device_agent.adb.adb_server import AdbServer
from device_agent.adb.errors import AdbCommandFailed, AdbServerUnavailable
from device_agent.adb.host_protocol import ServerAddress
from device_agent.collect import DEFAULT_CATALOGUE, collect_facts
from ports import free_port

pytestmark = pytest.mark.adb


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_devices_lists_every_phone_with_state_model_and_transport(adb_server, attached_phones) -> None:  # type: ignore[no-untyped-def]
    pixels = attached_phones(2, profiles=["google-pixel-9"])
    (stranger,) = attached_phones(1, authorised=False)
    server = adb_server.client()

    async def scenario():  # type: ignore[no-untyped-def]
        return await server.version(), await server.devices()

    version, devices = run(scenario())
    by_serial = {phone.serial: phone for phone in devices}
    assert version >= 41
    assert sorted(by_serial) == sorted([p.adb_serial for p in pixels] + [stranger.adb_serial])
    assert by_serial[pixels[0].adb_serial].state == "device"
    assert by_serial[pixels[0].adb_serial].model == "Pixel_9"  # adb's spelling: spaces become _
    assert by_serial[pixels[0].adb_serial].product == pixels[0].phone.properties["ro.product.name"]
    assert by_serial[stranger.adb_serial].state == "unauthorized"
    assert len({phone.transport_id for phone in devices}) == 3


def test_track_devices_reports_arrivals_state_changes_and_removals(adb_server, attached_phones) -> None:  # type: ignore[no-untyped-def]
    (first,) = attached_phones(1)
    server = adb_server.client()
    seen: list[tuple[str, str, str]] = []

    async def until(*wanted: tuple[str, str, str]) -> None:
        while not set(wanted) & set(seen):
            await asyncio.sleep(0.05)

    async def scenario() -> str:
        async def follow() -> None:
            async for event in server.track_devices():
                seen.append((event.kind, event.phone.serial, event.phone.state))

        follower = asyncio.ensure_future(follow())
        try:
            await asyncio.wait_for(until(("arrived", first.adb_serial, "device")), 10)
            (second,) = await asyncio.to_thread(attached_phones, 1)  # plugged in while the tracker runs
            await asyncio.wait_for(until(("changed", second.adb_serial, "device"), ("arrived", second.adb_serial, "device")), 10)
            await asyncio.to_thread(adb_server.disconnect, second.adb_serial)  # and pulled out again
            await asyncio.wait_for(_removed(second.adb_serial), 10)
            return second.adb_serial
        finally:
            follower.cancel()

    async def _removed(serial: str) -> None:
        while not any(kind == "removed" and who == serial for kind, who, _ in seen):
            await asyncio.sleep(0.05)

    newcomer = run(scenario())
    assert seen[0] == ("arrived", first.adb_serial, "device")
    arrival = next(index for index, (kind, who, _) in enumerate(seen) if who == newcomer and kind == "arrived")
    removal = next(index for index, (kind, who, _) in enumerate(seen) if who == newcomer and kind == "removed")
    assert arrival < removal
    assert not any(kind == "removed" and who == first.adb_serial for kind, who, _ in seen)


def test_facts_through_the_server_equal_direct_tcp_facts(adb_server, attached_phones) -> None:  # type: ignore[no-untyped-def]
    phones = attached_phones(3, profiles=["google-pixel-9", "samsung-galaxy-s24", "motorola-moto-g6"])
    server = adb_server.client()

    async def both(attached):  # type: ignore[no-untyped-def]
        # The direct reference signs with the adb server's key: the only key these phones trust.
        async with session(attached.endpoint, adb_server.key, server=server) as through:
            via_server = await collect_facts(through, DEFAULT_CATALOGUE)
        direct = await connect_tcp(attached.adb_serial, adb_server.key)
        try:
            via_tcp = await collect_facts(direct, DEFAULT_CATALOGUE)
        finally:
            await direct.close()
        return via_server.to_json(), via_tcp.to_json()

    for attached in phones:
        via_server, via_tcp = run(both(attached))
        via_server.pop("collected_at", None)
        via_tcp.pop("collected_at", None)
        assert via_server == via_tcp, attached.phone.profile.name
        assert via_server["serial"] == attached.serial


def test_shell_exit_codes_stderr_and_banner(adb_server, attached_phones, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)

    async def scenario():  # type: ignore[no-untyped-def]
        async with session(attached.endpoint, adb_key, server=adb_server.client()) as phone:
            result = await phone.run("echo out; echo err >&2; exit 7")
            ok = await phone.run("true")
            return phone.features, phone.banner, result, ok, await phone.shell("getprop ro.serialno")

    features, banner, result, ok, serial = run(scenario())
    assert features == attached.phone.features()
    assert banner["ro.product.model"] == "Pixel_9"
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 7)
    assert ok.exit_code == 0
    assert serial.strip() == attached.serial


@pytest.mark.parametrize("profile", ["google-pixel-9", "motorola-moto-g6"])  # abb_exec / exec:cmd streamed
def test_streamed_install_with_progress(adb_server, attached_phones, adb_key, small_signed_apk: Path, profile: str) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1, profiles=[profile])
    progress: list[int] = []

    async def scenario() -> str:
        async with session(attached.endpoint, adb_key, server=adb_server.client()) as phone:
            await phone.install(small_signed_apk, progress=lambda done, total: progress.append(done))
            return await phone.shell("pm list packages")

    assert "package:org.phonegate.testapp" in run(scenario()).split()
    assert progress[-1] == small_signed_apk.stat().st_size
    assert progress == sorted(progress)


def test_install_failure_is_explained_through_the_server(adb_server, attached_phones, adb_key, small_signed_apk: Path) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)
    attached.phone.faults.install_failure = "INSTALL_FAILED_INSUFFICIENT_STORAGE"

    async def scenario() -> None:
        async with session(attached.endpoint, adb_key, server=adb_server.client()) as phone:
            await phone.install(small_signed_apk)

    with pytest.raises(InstallFailed) as caught:
        run(scenario())
    assert caught.value.code == "INSTALL_FAILED_INSUFFICIENT_STORAGE"


def test_push_pull_and_stat_round_trip(adb_server, attached_phones, adb_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)
    original = tmp_path / "report.bin"
    original.write_bytes(os.urandom(1_500_000))
    pushed: list[int] = []
    pulled: list[int] = []

    async def scenario():  # type: ignore[no-untyped-def]
        async with session(attached.endpoint, adb_key, server=adb_server.client()) as phone:
            await phone.push(original, "/sdcard/Download/report.bin", progress=lambda done, total: pushed.append(done))
            info = await phone.stat("/sdcard/Download/report.bin")
            missing = await phone.stat("/sdcard/Download/nothing")
            await phone.pull("/sdcard/Download/report.bin", tmp_path / "back.bin", progress=lambda done, total: pulled.append(done))
            with pytest.raises(AdbCommandFailed):
                await phone.pull("/sdcard/Download/nothing", tmp_path / "none.bin")
            return info, missing

    info, missing = run(scenario())
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "back.bin") == digest(original)
    assert info.size == 1_500_000
    assert info.exists
    assert not missing.exists
    assert pushed[-1] == 1_500_000
    assert pulled[-1] == 1_500_000
    assert not (tmp_path / "none.bin").exists()


def test_unauthorised_phone_names_the_adb_servers_key(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    (stranger,) = attached_phones(1, authorised=False)
    started = time.monotonic()
    with pytest.raises(DeviceUnauthorised) as caught:
        run(connect(stranger.endpoint, adb_key, server=adb_server.client(), auth_timeout_s=0.5))
    assert time.monotonic() - started < 10
    assert caught.value.fingerprint == adb_server.key.fingerprint()
    assert adb_key.fingerprint() not in str(caught.value)  # PhoneGate's own key is not the one the phone asks about
    assert "adb server's key" in str(caught.value)
    assert caught.value.exit_code == 4


def test_unauthorised_phone_is_waited_for_until_allow(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    (stranger,) = attached_phones(1, authorised=False)
    prompts: list[str | None] = []

    async def scenario() -> str:
        async def tap_allow_later() -> None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(stranger.running.allow)

        tapper = asyncio.ensure_future(tap_allow_later())
        phone = await connect(stranger.endpoint, adb_key, server=adb_server.client(), auth_timeout_s=15,
                              on_prompt=lambda exc: prompts.append(exc.fingerprint))
        await tapper
        try:
            return await phone.shell("echo allowed")
        finally:
            await phone.close()

    assert run(scenario()) == "allowed\n"
    assert prompts == [adb_server.key.fingerprint()]


def test_offline_and_unknown_phones_are_unreachable(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    (silent,) = attached_phones(1, state="offline")
    server = adb_server.client()
    with pytest.raises(DeviceUnreachable, match="is offline") as offline:
        run(connect(silent.endpoint, adb_key, server=server, connect_timeout_s=0.5))
    assert offline.value.exit_code == 4
    with pytest.raises(DeviceUnreachable, match="does not know the phone NO-SUCH-PHONE"):
        run(connect("adb:NO-SUCH-PHONE", adb_key, server=server))


def test_a_reconnected_phone_is_noticed_between_two_calls(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)

    async def scenario() -> str:
        phone = await connect(attached.endpoint, adb_key, server=adb_server.client())
        try:
            assert (await phone.shell("echo first")) == "first\n"
            await asyncio.to_thread(adb_server.disconnect, attached.adb_serial)
            await asyncio.to_thread(adb_server.connect, attached.adb_serial)  # same serial, new transport
            with pytest.raises(DeviceUnreachable) as caught:
                await phone.shell("echo second")
            return str(caught.value)
        finally:
            await phone.close()

    assert "plugged in again" in run(scenario())


def test_old_servers_host_transport_works_too(adb_server, attached_phones, adb_key) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)
    server = adb_server.client()
    server.use_tport = False  # what a server older than 1.0.41 gets

    async def scenario():  # type: ignore[no-untyped-def]
        async with session(attached.endpoint, adb_key, server=server) as phone:
            return await phone.run("echo legacy; exit 2")

    result = run(scenario())
    assert (result.stdout, result.exit_code) == ("legacy\n", 2)


def test_no_server_and_no_adb_on_path_is_unavailable(adb_key, tmp_path: Path) -> None:
    port = free_port()
    server = AdbServer.from_environment({"PATH": str(tmp_path), "HOME": str(tmp_path), "ANDROID_ADB_SERVER_PORT": str(port)})
    with pytest.raises(AdbServerUnavailable) as caught:
        run(server.devices())
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "not on PATH" in str(caught.value)
    assert caught.value.exit_code == 4


def test_no_server_answering_starts_it_once(adb_server_binary: Path, tmp_path: Path, _adb_server_key_files: Path) -> None:
    from fixtures_adb_server import AdbServerProcess

    stopped = AdbServerProcess(adb_server_binary, tmp_path / "home", _adb_server_key_files)  # never started
    server = stopped.client()
    assert server.adb_path == str(adb_server_binary)
    try:
        assert run(server.version()) >= 41  # nothing answered: `adb start-server` was run, then asked again
        assert stopped.pid() is not None
        stopped.crash()
        with pytest.raises(AdbServerUnavailable, match="stopped answering"):
            run(server.devices())  # once: a server that answered and stopped is not restarted behind one's back
        assert stopped.pid() is None
    finally:
        stopped.kill_server()


def test_server_address_from_adb_server_socket(adb_server, attached_phones) -> None:  # type: ignore[no-untyped-def]
    attached_phones(1)
    env = {key: value for key, value in adb_server.env.items() if key != "ANDROID_ADB_SERVER_PORT"}
    env["ADB_SERVER_SOCKET"] = f"tcp:127.0.0.1:{adb_server.port}"
    server = AdbServer.from_environment(env)
    assert server.address == ServerAddress("127.0.0.1", adb_server.port, "ADB_SERVER_SOCKET")
    assert len(run(server.devices())) == 1


@pytest.mark.slow
def test_sixteen_phones_at_once(adb_server, attached_phones, adb_key, small_signed_apk: Path) -> None:  # type: ignore[no-untyped-def]
    phones = attached_phones(16, profiles=["google-pixel-9", "samsung-galaxy-s24", "motorola-moto-g6"])
    server = adb_server.client()

    async def one(attached):  # type: ignore[no-untyped-def]
        async with session(attached.endpoint, adb_key, server=server) as phone:
            facts = await collect_facts(phone, DEFAULT_CATALOGUE)
            await phone.install(small_signed_apk)
            listed = await phone.shell("pm list packages org.phonegate.testapp")
            return facts.serial, listed.strip()

    async def everyone():  # type: ignore[no-untyped-def]
        return await asyncio.gather(*(one(attached) for attached in phones))

    results = run(everyone())
    assert [serial for serial, _ in results] == [attached.serial for attached in phones]
    assert {listed for _, listed in results} == {"package:org.phonegate.testapp"}


def test_phone_pulled_mid_install_is_unreachable_and_a_second_try_installs(adb_server, attached_phones, adb_key, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fixtures_phones import build_signed_apk

    (attached,) = attached_phones(1)
    apk = build_signed_apk(tmp_path / "apk", "org.phonegate.pulled", asset_bytes=3_000_000)
    server = adb_server.client()
    attached.phone.faults.drop_after_bytes = 1_000_000

    async def install() -> None:
        async with session(attached.endpoint, adb_key, server=server) as phone:
            await phone.install(apk)

    with pytest.raises(DeviceUnreachable, match="was lost while installing"):
        run(install())
    attached.phone.faults.drop_after_bytes = None
    assert adb_server.connect(attached.adb_serial) == "device"  # plugged back in (adb may already have reconnected)
    run(install())
    assert "package:org.phonegate.pulled" in adb_server.run("-s", attached.adb_serial, "shell", "pm list packages").stdout.decode()
