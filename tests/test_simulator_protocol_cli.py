"""`phonegate simulate` as a person runs it: one `SERIAL HOST:PORT` line per phone, phones reachable, clean stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from device_agent.adb import AdbKey, connect_tcp
from device_agent.simulator.profiles import load_profile

PHONEGATE = [sys.executable, "-m", "phonegate"]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*PHONEGATE, "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_simulate_prints_phones_that_answer_and_stops_on_ctrl_c(adb_key: AdbKey, tmp_path: Path) -> None:
    keys = tmp_path / "adb_keys"
    keys.write_text(adb_key.public_line + "\n")
    process = _start("--devices", "3", "--port", "0", "--profile", "google-pixel-9", "--profile", "motorola-moto-g6",
                     "--authorized-keys", str(keys), "--latency-ms", "1")
    try:
        lines = [process.stdout.readline().split() for _ in range(3)]  # type: ignore[union-attr]
        assert all(len(line) == 2 for line in lines), lines
        serials = [serial for serial, _ in lines]
        assert len(set(serials)) == 3

        async def models() -> list[str]:
            found = []
            for _, endpoint in lines:
                session = await connect_tcp(endpoint, adb_key)
                found.append((await session.shell("getprop ro.product.model")).strip())
                await session.close()
            return found

        pixel = load_profile("google-pixel-9").properties["ro.product.model"]
        moto = load_profile("motorola-moto-g6").properties["ro.product.model"]
        assert asyncio.run(models()) == [pixel, moto, pixel]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "0"], "--devices"),
        (["--profile", "no-such-phone"], "no-such-phone"),
        (["--authorized-keys", "/nonexistent/adb_keys"], "--authorized-keys"),
        (["--port", "65535", "--devices", "2"], "above 65535"),
        (["--spread-hosts", "--host", "10.0.0.1", "--devices", "2"], "loopback"),
    ],
)
def test_bad_flags_exit_2_with_a_sentence(args: list[str], message: str) -> None:
    result = subprocess.run([*PHONEGATE, "simulate", *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_exits_2(adb_key: AdbKey) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*PHONEGATE, "simulate", "--port", str(port)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_spread_hosts_gives_each_phone_its_own_loopback_address(adb_key: AdbKey, tmp_path: Path) -> None:
    keys = tmp_path / "adb_keys"
    keys.write_text(adb_key.public_line + "\n")
    process = _start("--devices", "2", "--port", "0", "--spread-hosts", "--authorized-keys", str(keys))
    try:
        endpoints = [process.stdout.readline().split()[1] for _ in range(2)]  # type: ignore[union-attr]
        assert [endpoint.rsplit(":", 1)[0] for endpoint in endpoints] == ["127.0.0.1", "127.0.0.2"]

        async def echo(endpoint: str) -> str:
            session = await connect_tcp(endpoint, adb_key)
            try:
                return await session.shell("echo here")
            finally:
                await session.close()

        assert asyncio.run(echo(endpoints[1])) == "here\n"
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 0
