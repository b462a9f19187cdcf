"""Fixtures for phones behind a real adb server: Debian's 29.0.6 and Google's 34.0.1 (PyPI `adbx`), each test on
its own.

- `adb_server`: a private adb server (parametrized over both binaries): its own free port
  (ANDROID_ADB_SERVER_PORT), its own HOME with its own key, which is NOT PhoneGate's key (`adb_key`); mDNS,
  the emulator port scan and USB scanning off, so it only ever talks to loopback phones it is told about.
- `attached_phones(count, profiles=..., authorised=True)`: simulated phones that trust ONLY that adb server's key
  (authorised=False: no key at all), attached with `adb connect`, which inside PhoneGate is the same path a USB
  phone takes. A test cannot pass through a direct connection: PhoneGate's own key is refused by every phone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures_phones import DEFAULT_PROFILE, AdbCommands, RunningPhone
from ports import free_port

from device_agent.adb.adb_server import AdbServer
from device_agent.adb.keys import AdbKey
from device_agent.simulator.phone import VirtualPhone
from device_agent.simulator.server import SimulatorThread


def google_adb() -> Path:
    """Google's adb 34.0.1, shipped inside the `adbx` package (the `test` extra)."""
    import adbx

    return Path(adbx.__file__).resolve().parent / "bin" / "platform-tools" / "adb"


def debian_adb() -> Path:
    found = shutil.which("adb")
    if found is None:
        pytest.fail("Debian's adb is not installed (apt-get install adb); `make system-deps` installs it")
    return Path(found)


ADB_SERVERS = {"debian-29.0.6": debian_adb, "google-34.0.1": google_adb}


class AdbServerProcess(AdbCommands):
    """One private adb server and the `adb` client of the same binary."""

    def __init__(self, binary: Path, home: Path, key_files: Path) -> None:
        android = home / ".android"
        android.mkdir(parents=True, exist_ok=True)
        shutil.copy(key_files, android / "adbkey")
        shutil.copy(str(key_files) + ".pub", android / "adbkey.pub")
        (android / "adbkey").chmod(0o600)
        self.binary = binary
        self.home = home
        self.key = AdbKey.load(android / "adbkey")
        self.port = free_port()
        self.env = {
            "PATH": f"{binary.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home),
            "ANDROID_ADB_SERVER_PORT": str(self.port),
            "TMPDIR": tempfile.gettempdir(),
            # loopback only: no mDNS discovery, no scan of the emulator ports 5555-5585, no USB devices
            "ADB_MDNS": "0",
            "ADB_EMU": "0",
            "ADB_USB": "0",
        }

    def client(self, **options: Any) -> AdbServer:
        """PhoneGate's client for this server, as `phonegate` would build it from this environment."""
        return AdbServer.from_environment(self.env, **options)

    def run(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, timeout=timeout_s, check=False)

    def start(self) -> AdbServerProcess:
        started = self.run("start-server", timeout_s=30)
        assert started.returncode == 0, started.stderr
        return self


    def pid(self) -> int | None:
        """The server process (`adb -L tcp:PORT fork-server server ...`), found in /proc."""
        needle = f"tcp:{self.port}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"fork-server" in words and any(needle in word for word in words):
                return int(entry.name)
        return None

    def crash(self) -> None:
        """The server dies at once (SIGKILL), as when someone ends it in the task manager."""
        pid = self.pid()
        assert pid is not None, "the adb server is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill_server(self) -> None:
        subprocess.run([str(self.binary), "kill-server"], env=self.env, capture_output=True, timeout=30, check=False)


@pytest.fixture(scope="session")
def _adb_server_key_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return AdbKey.create(tmp_path_factory.mktemp("adb-server-key") / "adbkey").path  # type: ignore[return-value]


@pytest.fixture(params=sorted(ADB_SERVERS))
def adb_server_binary(request: pytest.FixtureRequest) -> Path:
    binary = ADB_SERVERS[request.param]()
    assert binary.is_file(), f"{request.param}: no adb binary at {binary}"
    return binary


@pytest.fixture
def adb_server(adb_server_binary: Path, tmp_path: Path, _adb_server_key_files: Path) -> Iterator[AdbServerProcess]:
    server = AdbServerProcess(adb_server_binary, tmp_path / "adb-server-home", _adb_server_key_files).start()
    yield server
    server.kill_server()


@dataclass
class AttachedPhone:
    """A simulated phone attached to the adb server: `adb_serial` is what `adb devices` shows."""

    running: RunningPhone

    @property
    def adb_serial(self) -> str:
        return self.running.endpoint

    @property
    def endpoint(self) -> str:
        return f"adb:{self.adb_serial}"

    @property
    def serial(self) -> str:
        return self.running.serial  # ro.serialno

    @property
    def phone(self) -> VirtualPhone:
        return self.running.phone


@pytest.fixture
def attached_phones(adb_server: AdbServerProcess, tmp_path: Path) -> Iterator[Any]:
    simulators: list[SimulatorThread] = []
    pending: list[subprocess.Popen[bytes]] = []

    def attach(count: int = 1, profiles: Sequence[Any] = (DEFAULT_PROFILE,), *, authorised: bool = True,
               state: str | None = None) -> list[AttachedPhone]:
        """state="offline": phones whose adbd accepts the TCP connection and never answers (the adb server keeps
        them `offline`; `adb connect` would wait 10 s for them, so it runs in the background)."""
        keys_file = tmp_path / f"adb_keys.attached.{len(simulators)}"
        keys_file.write_text(adb_server.key.public_line + "\n" if authorised else "")
        simulator = SimulatorThread(authorized_keys=keys_file).start()
        simulators.append(simulator)
        phones = []
        for index in range(count):
            phone = VirtualPhone.from_profile(profiles[index % len(profiles)], serial=f"ATT{len(simulators)}{index + 1:03d}")
            phone.faults.hang = state == "offline"
            phones.append(AttachedPhone(RunningPhone(simulator.add_phone(phone), simulator)))
        if state == "offline":
            for attached in phones:
                pending.append(subprocess.Popen([str(adb_server.binary), "connect", attached.adb_serial], env=adb_server.env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            assert [adb_server.wait_for_state(attached.adb_serial, "offline") for attached in phones] == ["offline"] * count
            return phones
        wanted = state or ("device" if authorised else "unauthorized")
        with ThreadPoolExecutor(8) as pool:
            states = list(pool.map(lambda attached: adb_server.connect(attached.adb_serial, wanted), phones))
        assert states == [wanted] * count, states
        return phones

    yield attach
    for process in pending:
        process.kill()
        process.wait(10)
    for simulator in simulators:
        simulator.stop()
