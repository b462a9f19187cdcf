"""Phones misbehave: slow links, hung adbd, pulled cables, a person who never taps Allow. Each ends in one
clear PhoneGate error within its time limit, never a hang or an adb-shell traceback."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from device_agent.adb import AdbKey, AdbTimeout, DeviceUnauthorised, DeviceUnreachable, connect_tcp


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def test_latency_slows_every_packet_but_answers_stay_right(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]
    running.phone.faults.latency_ms = 60

    async def scenario() -> str:
        session = await connect_tcp(running.endpoint, adb_key)
        try:
            return await session.shell("echo slow")
        finally:
            await session.close()

    started = time.monotonic()
    assert run(scenario()) == "slow\n"
    # AUTH, CNXN, OKAY, WRTE, CLSE: at least five delayed packets
    assert time.monotonic() - started >= 5 * 0.06


def test_hung_phone_times_out_within_the_read_limit(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]
    running.phone.faults.hang = True
    started = time.monotonic()
    with pytest.raises(AdbTimeout) as caught:
        run(connect_tcp(running.endpoint, adb_key, connect_timeout_s=1, read_timeout_s=0.5, auth_timeout_s=0.5))
    assert time.monotonic() - started < 5
    assert running.endpoint in str(caught.value)


def test_slow_command_hits_its_timeout_and_the_session_says_so(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]

    async def scenario() -> None:
        session = await connect_tcp(running.endpoint, adb_key)
        running.phone.faults.latency_ms = 400
        try:
            with pytest.raises(AdbTimeout, match="timeout_s=0.2"):
                await session.shell("echo late", timeout_s=0.2)
            with pytest.raises(DeviceUnreachable, match="lost earlier"):
                await session.shell("echo again")
        finally:
            await session.close()

    run(scenario())


def test_cable_pulled_mid_push_is_a_clean_unreachable_error(phone_simulator, adb_key: AdbKey, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(3_000_000))

    async def scenario() -> None:
        session = await connect_tcp(running.endpoint, adb_key)
        running.phone.faults.drop_after_bytes = 500_000
        try:
            await session.push(local, "/data/local/tmp/big.bin")
        finally:
            await session.close()

    started = time.monotonic()
    with pytest.raises(DeviceUnreachable) as caught:
        run(scenario())
    assert time.monotonic() - started < 5
    assert "lost" in str(caught.value)
    assert running.phone.read_file("/data/local/tmp/big.bin") is None  # nothing half-written


def test_cable_pulled_mid_install_is_a_clean_unreachable_error(phone_simulator, adb_key: AdbKey, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1)[0]
    apk = tmp_path / "big.apk"
    apk.write_bytes(os.urandom(3_000_000))

    async def scenario() -> None:
        session = await connect_tcp(running.endpoint, adb_key)
        running.phone.faults.drop_after_bytes = 1_000_000
        try:
            await session.install(apk)
        finally:
            await session.close()

    with pytest.raises(DeviceUnreachable):
        run(scenario())


def test_phone_that_never_allows_is_unauthorised_even_for_a_known_key(phone_simulator, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    running = phone_simulator(1, authorised=True)[0]
    running.phone.faults.refuse_auth = True
    with pytest.raises(DeviceUnauthorised) as caught:
        run(connect_tcp(running.endpoint, adb_key, auth_timeout_s=0.3))
    assert adb_key.fingerprint() in str(caught.value)
