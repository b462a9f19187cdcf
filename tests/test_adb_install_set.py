"""PhoneSession.install_set: a base APK and its splits in one package install session (install-create, install-write
per file streamed, install-commit; install-abandon after a failure), the same code over direct TCP and through a real
adb server, on phones with abb_exec, with `cmd` only, and with neither (Android 6: `pm`)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fixtures_phones import legacy_android_profile

from device_agent.adb import InstallFailed, connect_tcp, session


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def _installed(phone, package):  # type: ignore[no-untyped-def]
    return phone.package_db.packages.get(package)


async def _install_over_tcp(running, adb_key, files, progress=None):  # type: ignore[no-untyped-def]
    phone = await connect_tcp(running.endpoint, adb_key)
    try:
        await phone.install_set(files, progress=progress)
    finally:
        await phone.close()


@pytest.mark.parametrize("profile", ["google-pixel-9", "motorola-moto-g6", "legacy"])  # abb_exec, exec:cmd, exec:pm
def test_a_set_is_installed_in_one_session_over_tcp(phone_simulator, adb_key, split_apks, profile) -> None:  # type: ignore[no-untyped-def]
    (running,) = phone_simulator(1, profiles=[legacy_android_profile() if profile == "legacy" else profile])
    run(_install_over_tcp(running, adb_key, [split_apks.base, split_apks.split_xxhdpi, split_apks.split_en]))
    assert sorted(_installed(running.phone, split_apks.package).splits) == ["config.en", "config.xxhdpi"]


def test_progress_runs_over_the_whole_set(phone_simulator, adb_key, split_apks) -> None:  # type: ignore[no-untyped-def]
    (running,) = phone_simulator(1)
    files = [split_apks.base, split_apks.split_big]
    seen: list[tuple[int, int]] = []
    run(_install_over_tcp(running, adb_key, files, progress=lambda done, total: seen.append((done, total))))
    total = sum(f.stat().st_size for f in files)
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_one_file_is_an_ordinary_install(phone_simulator, adb_key, small_signed_apk) -> None:  # type: ignore[no-untyped-def]
    (running,) = phone_simulator(1)
    run(_install_over_tcp(running, adb_key, [small_signed_apk]))
    assert _installed(running.phone, "org.phonegate.testapp") is not None


def test_the_phone_refuses_a_set_with_a_split_of_another_signer(phone_simulator, adb_key, split_apks) -> None:  # type: ignore[no-untyped-def]
    (running,) = phone_simulator(1)
    with pytest.raises(InstallFailed, match="signatures are inconsistent") as caught:
        run(_install_over_tcp(running, adb_key, [split_apks.base, split_apks.split_other_signer]))
    assert caught.value.code == "INSTALL_FAILED_INVALID_APK"
    assert _installed(running.phone, split_apks.package) is None


@pytest.fixture
def little_storage_phone(phone_simulator):  # type: ignore[no-untyped-def]
    """A phone with 1 MiB free: the base APK fits, the 2 MiB split does not (install-write -S reserves the space)."""
    (running,) = phone_simulator(1)
    running.phone.profile = dataclasses.replace(running.phone.profile, storage_free_mb=1)
    return running


def test_a_failure_mid_set_abandons_the_session(little_storage_phone, adb_key, split_apks) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InstallFailed, match="Failed to free"):
        run(_install_over_tcp(little_storage_phone, adb_key, [split_apks.base, split_apks.split_big, split_apks.split_en]))
    assert little_storage_phone.phone.installer.sessions == {}


def test_a_failure_mid_set_installs_nothing(little_storage_phone, adb_key, split_apks) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InstallFailed):
        run(_install_over_tcp(little_storage_phone, adb_key, [split_apks.base, split_apks.split_big]))
    assert _installed(little_storage_phone.phone, split_apks.package) is None


@pytest.mark.adb
@pytest.mark.parametrize("profile", ["google-pixel-9", "motorola-moto-g6"])
def test_a_set_is_installed_through_the_adb_server(adb_server, attached_phones, adb_key, split_apks, profile) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1, profiles=[profile])

    async def scenario() -> None:
        async with session(attached.endpoint, adb_key, server=adb_server.client()) as phone:
            await phone.install_set([split_apks.base, split_apks.split_big, split_apks.split_en])

    run(scenario())
    assert sorted(_installed(attached.phone, split_apks.package).splits) == ["config.arm64_v8a", "config.en"]


@pytest.mark.adb
def test_a_failure_mid_set_through_the_adb_server_abandons_the_session(adb_server, attached_phones, adb_key, split_apks) -> None:  # type: ignore[no-untyped-def]
    (attached,) = attached_phones(1)
    attached.phone.profile = dataclasses.replace(attached.phone.profile, storage_free_mb=1)

    async def scenario() -> None:
        async with session(attached.endpoint, adb_key, server=adb_server.client()) as phone:
            await phone.install_set([split_apks.base, split_apks.split_big])

    with pytest.raises(InstallFailed, match="Failed to free"):
        run(scenario())
    assert attached.phone.installer.sessions == {}
