"""Failure sentences: install failures in plain English, missing local files as bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from device_agent.adb import AdbKey, InstallFailed, connect_tcp
from device_agent.adb.errors import LocalFileError


def test_install_failure_codes_become_plain_english() -> None:
    failure = InstallFailed.from_output("Failure [INSTALL_FAILED_VERSION_DOWNGRADE: Downgrade detected: 3 < 5]\n")
    assert failure.code == "INSTALL_FAILED_VERSION_DOWNGRADE"
    assert failure.detail == "Downgrade detected: 3 < 5"
    assert "newer version of the app is already installed" in str(failure)


def test_an_install_failure_is_a_phone_problem() -> None:
    assert InstallFailed("INSTALL_FAILED_INSUFFICIENT_STORAGE").exit_code == 4  # the README's code for the phone's side


@pytest.mark.parametrize("output", ["", "\x00\xff garbage", "Failure [", "Error: -S needs the APK size\n", "Failure [lower_case]"])
def test_unparseable_install_output_still_gives_a_failure(output: str) -> None:
    failure = InstallFailed.from_output(output)
    assert failure.code.startswith("INSTALL_")
    assert str(failure).startswith("The app could not be installed")


def test_missing_local_file_is_bad_input(phone_simulator, adb_key: AdbKey, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]

    async def scenario() -> None:
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            with pytest.raises(LocalFileError) as missing:
                await session.install(tmp_path / "nope.apk")
            assert missing.value.exit_code == 2
            with pytest.raises(LocalFileError):
                await session.push(tmp_path, "/data/local/tmp/dir")  # a folder is not a file
            assert await session.shell("echo still usable") == "still usable\n"
        finally:
            await session.close()

    asyncio.run(scenario())


def test_key_in_an_unwritable_place_is_bad_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from device_agent.adb.errors import AdbKeyError

    with pytest.raises(AdbKeyError):
        AdbKey.load_or_create(blocker / "adbkey")  # parent is a file


def test_one_device_unreachable_class_for_every_way_of_reaching_a_phone() -> None:
    import device_agent.adb
    from device_agent.adb.errors import AdbServerUnavailable, AdbTimeout, DeviceUnauthorised
    from phonegate.core import errors

    assert device_agent.adb.DeviceUnreachable is errors.DeviceUnreachable
    assert issubclass(AdbTimeout, errors.DeviceUnreachable)
    assert issubclass(AdbServerUnavailable, errors.DeviceUnreachable)
    assert issubclass(DeviceUnauthorised, errors.DeviceUnauthorised)
