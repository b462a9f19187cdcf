"""Fixtures for phones: an ADB key, simulated phones speaking ADB over loopback, and Debian's real `adb` client.

- `adb_key`: a fresh key pair in adb's format, in a temporary folder.
- `phone_simulator`: a factory; `phone_simulator(2, profiles=["google-pixel-9"])` starts phones (each its own
  TCP listener) that trust `adb_key`, and stops them after the test.
- `adb_client`: runs `adb` against its own adb server (own port, own HOME with `adb_key`), killed afterwards.
- `build_signed_apk(...)`: a real APK built with aapt and signed with apksigner (also used by bench/).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ports import free_port

from device_agent.adb.keys import AdbKey
from device_agent.simulator.phone import VirtualPhone
from device_agent.simulator.profiles import PROFILE_NAMES, Profile, load_profile
from device_agent.simulator.server import SimulatedPhone, SimulatorThread

DEFAULT_PROFILE = "google-pixel-9" if "google-pixel-9" in PROFILE_NAMES else PROFILE_NAMES[0]


def legacy_android_profile() -> Profile:
    """An Android 6 phone (sdk 23): adbd offers neither shell_v2, cmd nor abb_exec, so installs push + pm install."""
    profile = load_profile("motorola-moto-g6")
    properties = dict(profile.properties, **{"ro.build.version.sdk": "23", "ro.build.version.release": "6.0"})
    return dataclasses.replace(profile, name="legacy-android-6", properties=properties, adb_features=[])


@pytest.fixture(scope="session")
def _adb_key_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # RSA-2048 generation costs up to half a second; tests get their own copy of one session key instead.
    return AdbKey.create(tmp_path_factory.mktemp("adb-key") / "adbkey").path  # type: ignore[return-value]


@pytest.fixture
def adb_key(tmp_path: Path, _adb_key_files: Path) -> AdbKey:
    """This computer's ADB key for one test: adbkey (0600) and adbkey.pub in a temporary folder."""
    folder = tmp_path / "keys"
    folder.mkdir()
    shutil.copy(_adb_key_files, folder / "adbkey")
    shutil.copy(str(_adb_key_files) + ".pub", folder / "adbkey.pub")
    (folder / "adbkey").chmod(0o600)
    return AdbKey.load(folder / "adbkey")


@dataclass
class RunningPhone:
    """A simulated phone as a test sees it."""

    simulated: SimulatedPhone
    simulator: SimulatorThread

    @property
    def serial(self) -> str:
        return self.simulated.serial

    @property
    def endpoint(self) -> str:
        return self.simulated.endpoint

    @property
    def phone(self) -> VirtualPhone:
        return self.simulated.phone

    def allow(self) -> int:
        """Tap Allow on the phone's "Allow USB debugging?" prompt."""
        return self.simulator.allow(self.serial)

    def waiting_for_allow(self) -> bool:
        return self.simulator.waiting_for_allow(self.serial)


@pytest.fixture
def phone_simulator(adb_key: AdbKey, tmp_path: Path) -> Iterator[Any]:
    simulators: list[SimulatorThread] = []

    def start(
        count: int = 1,
        profiles: Sequence[str | Any] = (DEFAULT_PROFILE,),
        *,
        authorised: bool = True,
        accept_on_prompt: bool = False,
    ) -> list[RunningPhone]:
        keys_file = tmp_path / f"adb_keys.{len(simulators)}"
        keys_file.write_text(adb_key.public_line + "\n" if authorised else "")
        simulator = SimulatorThread(authorized_keys=keys_file, accept_on_prompt=accept_on_prompt).start()
        simulators.append(simulator)
        running = []
        for index in range(count):
            profile = profiles[index % len(profiles)]
            phone = VirtualPhone.from_profile(profile, serial=f"SIM{len(simulators)}{index + 1:03d}")
            running.append(RunningPhone(simulator.add_phone(phone), simulator))
        return running

    yield start
    for simulator in simulators:
        simulator.stop()




class AdbCommands:
    """What tests ask of an adb server through its own `adb` client, written once for every fixture that runs one
    (a subclass says how to run its binary)."""

    def run(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        raise NotImplementedError

    def devices(self) -> dict[str, str]:
        """serial -> state (device, unauthorized, offline) from `adb devices`."""
        output = self.run("devices").stdout.decode()
        rows = [line.split() for line in output.splitlines()[1:] if line.strip()]
        return {row[0]: row[1] for row in rows if len(row) >= 2}

    def wait_for_state(self, serial: str, state: str | None, *, timeout_s: float = 15.0) -> str | None:
        """Until `adb devices` shows `state` for `serial` (None: until it is gone); returns the last state seen."""
        deadline = time.monotonic() + timeout_s
        current = None
        while time.monotonic() < deadline:
            current = self.devices().get(serial)
            if current == state:
                break
            time.sleep(0.1)
        return current

    def connect(self, endpoint: str, state: str = "device", *, timeout_s: float = 15.0) -> str | None:
        """`adb connect` returns before the handshake ends: wait until `adb devices` shows `state`."""
        self.run("connect", endpoint)
        return self.wait_for_state(endpoint, state, timeout_s=timeout_s)

    def disconnect(self, endpoint: str) -> None:
        self.run("disconnect", endpoint)


class AdbClient(AdbCommands):
    """Debian's `adb` with a private server and HOME, so tests never touch a developer's real adb state."""

    def __init__(self, home: Path, key: AdbKey) -> None:
        android = home / ".android"
        android.mkdir(parents=True, exist_ok=True)
        assert key.path is not None
        shutil.copy(key.path, android / "adbkey")
        shutil.copy(str(key.path) + ".pub", android / "adbkey.pub")
        self.home = home
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "ANDROID_ADB_SERVER_PORT": str(self.port),
            "ADB_VENDOR_KEYS": str(android / "adbkey"),
            "TMPDIR": tempfile.gettempdir(),
        }

    def run(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["adb", *args], env=self.env, capture_output=True, timeout=timeout_s, check=False)


    def kill_server(self) -> None:
        subprocess.run(["adb", "kill-server"], env=self.env, capture_output=True, timeout=30, check=False)


@pytest.fixture
def adb_client(adb_key: AdbKey, tmp_path: Path) -> Iterator[AdbClient]:
    if shutil.which("adb") is None:
        pytest.fail("Debian's adb client is not installed (apt-get install adb); `make system-deps` installs it")
    client = AdbClient(tmp_path / "adb-home", adb_key)
    started = client.run("start-server", timeout_s=30)
    assert started.returncode == 0, started.stderr
    yield client
    client.kill_server()


# ---------------------------------------------------------------------------------------------------------------
# Real signed APKs. Debian ships aapt but no android.jar, so a tiny framework resource table supplies the
# attribute ids the manifest needs (the real ids from android.R.attr).

_FRAMEWORK_ATTRS = {
    "label": ("string|reference", 0x01010001),
    "minSdkVersion": ("integer|string", 0x0101020C),
    "versionCode": ("integer", 0x0101021B),
    "versionName": ("string", 0x0101021C),
    "targetSdkVersion": ("integer|string", 0x01010270),
}


def _framework_table(workdir: Path) -> Path:
    target = workdir / "framework-attrs.apk"
    if target.exists():
        return target
    values = workdir / "framework" / "res" / "values"
    values.mkdir(parents=True, exist_ok=True)
    declarations = "".join(f'<attr name="{n}" format="{f}"/>' for n, (f, _) in _FRAMEWORK_ATTRS.items())
    publics = "".join(f'<public type="attr" name="{n}" id="0x{i:08x}"/>' for n, (_, i) in _FRAMEWORK_ATTRS.items())
    (values / "public.xml").write_text(f'<?xml version="1.0" encoding="utf-8"?><resources>{declarations}{publics}</resources>')
    manifest = workdir / "framework" / "AndroidManifest.xml"
    manifest.write_text('<?xml version="1.0" encoding="utf-8"?><manifest package="android"/>')
    _run(["aapt", "package", "-f", "-x", "-M", str(manifest), "-S", str(values.parent), "-F", str(target)])
    return target


def _signing_material(workdir: Path, signer: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key_path, cert_path = workdir / f"{signer}.pk8", workdir / f"{signer}.pem"
    if key_path.exists():
        return key_path, cert_path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"PhoneGate test signer {signer}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def build_signed_apk(
    workdir: Path,
    package: str = "org.phonegate.testapp",
    *,
    version_code: int = 1,
    version_name: str = "1.0",
    min_sdk: int = 21,
    asset_bytes: int = 1024,
    signer: str = "test",
) -> Path:
    """A real APK (aapt), zip-aligned and signed (apksigner, v1+v2+v3), with `asset_bytes` random bytes stored
    uncompressed as an asset so its size is what the caller asked for."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"{package}-{version_code}-src"
    assets = source / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    with (assets / "payload.bin").open("wb") as handle:
        remaining = asset_bytes
        while remaining > 0:
            chunk = os.urandom(min(remaining, 1 << 20))
            handle.write(chunk)
            remaining -= len(chunk)
    manifest = source / "AndroidManifest.xml"
    manifest.write_text(
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{package}" '
        f'android:versionCode="{version_code}" android:versionName="{version_name}">'
        f'<uses-sdk android:minSdkVersion="{min_sdk}" android:targetSdkVersion="33"/>'
        '<application android:label="PhoneGate test"/></manifest>'
    )
    unsigned, aligned = source / "unsigned.apk", source / "aligned.apk"
    signed = workdir / f"{package}-{version_code}.apk"
    _run(["aapt", "package", "-f", "-0", "bin", "-M", str(manifest), "-I", str(_framework_table(workdir)), "-A", str(assets), "-F", str(unsigned)])
    _run(["zipalign", "-f", "4", str(unsigned), str(aligned)])
    key_path, cert_path = _signing_material(workdir, signer)
    _run(["apksigner", "sign", "--key", str(key_path), "--cert", str(cert_path), "--out", str(signed), str(aligned)])
    shutil.rmtree(source)
    return signed


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.decode(errors='replace')[-500:]}")


@pytest.fixture(scope="session")
def small_signed_apk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real signed APK (package org.phonegate.testapp), built once per test session."""
    return build_signed_apk(tmp_path_factory.mktemp("apks"), asset_bytes=200_000)
