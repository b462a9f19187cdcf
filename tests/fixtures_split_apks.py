"""Fixtures for split APKs and for adb servers other than the default one.

- `split_apks`: a real base APK with two splits (aapt, zipalign, apksigner, as fixtures_apks builds single APKs: a
  split's manifest carries `split="config.xxhdpi"` beside the same package and versionCode), plus sets that
  Android refuses: a split of another version, of another package, signed by another key, and a second base;
  also a second file for the same split, a 2 MiB split (`split_big`, config.arm64_v8a: incompressible, so it is
  big on the wire too) and a zip bomb split (`split_bomb`: 20 MiB of zeros deflated about 1,000:1).
- `whatsapp_split_apks`: the same kinds of files for com.whatsapp signed by test key A (pinned by `pinned_app`), at a
  versionCode above every single test APK, so a set added to the catalogue becomes the current app.
- `adb_servers`: a factory for Debian's adb (29) or Google's adb from PyPI `adbx` (34), each with its own server on
  a free port, its own HOME and its own key (not the one PhoneGate's tests use), so phones that trust only that
  key can be reached only through that server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from fixtures_adb_server import google_adb
from fixtures_apks import _framework, make_signing_key, sign
from fixtures_phones import AdbCommands
from ports import free_port

from device_agent.adb.keys import AdbKey

SPLIT_PACKAGE = "org.phonegate.splitapp"
SPLIT_VERSION = 7


def _manifest(package: str, version_code: int, split: str | None) -> str:
    split_attribute = f' split="{split}"' if split else ""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="{package}"{split_attribute}'
            f' android:versionCode="{version_code}" android:versionName="1.{version_code}">\n'
            '  <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="34"/>\n'
            '  <application android:label="PhoneGate split test"/>\n</manifest>\n')


BIG_SPLIT_BYTES = 2 * 1024 * 1024
BOMB_BYTES = 20 * 1024 * 1024


def _unsigned(directory: Path, framework: Path, name: str, package: str, version_code: int, split: str | None) -> Path:
    source = directory / f"src-{name}"
    (source / "assets").mkdir(parents=True, exist_ok=True)
    (source / "AndroidManifest.xml").write_text(_manifest(package, version_code, split))
    (source / "assets" / f"{name}.txt").write_text(f"PhoneGate split test {name}\n" * 200)
    if name == "split_big":
        (source / "assets" / "lib.bin").write_bytes(os.urandom(BIG_SPLIT_BYTES))
    if name == "split_bomb":
        (source / "assets" / "zeros.bin").write_bytes(bytes(BOMB_BYTES))
    raw, aligned = directory / f"{name}-raw.apk", directory / f"{name}-aligned.apk"
    subprocess.run(["aapt", "package", "-f", "-M", str(source / "AndroidManifest.xml"), "-I", str(framework),
                    "-A", str(source / "assets"), "-F", str(raw)], check=True, capture_output=True)
    subprocess.run(["zipalign", "-f", "4", str(raw), str(aligned)], check=True, capture_output=True)
    return aligned


def build_split_apks(directory: Path, package: str = SPLIT_PACKAGE, version: int = SPLIT_VERSION,
                     other_package: str = "org.phonegate.otherapp", key: SimpleNamespace | None = None,
                     other_key: SimpleNamespace | None = None) -> SimpleNamespace:
    for tool in ("aapt", "zipalign", "apksigner"):
        if shutil.which(tool) is None:
            pytest.fail(f"Debian's {tool} is missing: run `make system-deps`.")
    directory.mkdir(parents=True, exist_ok=True)
    framework = _framework(directory)
    key = key or make_signing_key(directory, "split-key")
    other_key = other_key or make_signing_key(directory, "split-other")
    specs = {  # name -> (package, versionCode, split, signer)
        "base": (package, version, None, key),
        "split_xxhdpi": (package, version, "config.xxhdpi", key),
        "split_en": (package, version, "config.en", key),
        "split_newer": (package, version + 1, "config.xxhdpi", key),
        "split_other_package": (other_package, version, "config.xxhdpi", key),
        "split_other_signer": (package, version, "config.xxhdpi", other_key),
        "second_base": (package, version, None, key),
        "split_xxhdpi_again": (package, version, "config.xxhdpi", key),
        "split_big": (package, version, "config.arm64_v8a", key),
        "split_bomb": (package, version, "config.mdpi", key),
    }
    unsigned = {name: _unsigned(directory, framework, name, package, version, split)
                for name, (package, version, split, _) in specs.items()}
    with ThreadPoolExecutor(max_workers=4) as pool:  # apksigner starts a JVM each time
        # apksigner also writes a v4 signature (.idsig) beside each: adb 34 then tries an incremental install first
        futures = {name: pool.submit(sign, unsigned[name], directory / f"{name}.apk", specs[name][3]) for name in specs}
        paths = {name: future.result() for name, future in futures.items()}
    for name in ("split_big", "split_bomb"):
        shutil.rmtree(directory / f"src-{name}")  # the 2 and 20 MiB sources are not needed once built
    return SimpleNamespace(package=package, version_code=version, key=key, other_key=other_key, directory=directory, **paths)


@pytest.fixture(scope="session")
def split_apks(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    return build_split_apks(tmp_path_factory.mktemp("split-apks"))


WHATSAPP_SET_VERSION = 242501000  # above every single com.whatsapp test APK (fixtures_apks, big_apk)


@pytest.fixture(scope="session")
def whatsapp_split_apks(tmp_path_factory: pytest.TempPathFactory, test_apks: SimpleNamespace) -> SimpleNamespace:
    return build_split_apks(tmp_path_factory.mktemp("whatsapp-split-apks"), "com.whatsapp", WHATSAPP_SET_VERSION,
                            "com.whatsapp.w4b", test_apks.key_a, test_apks.key_b)


class AdbServer(AdbCommands):
    """One adb client binary with its own server (free port), HOME and key; `key` is the server's adbkey."""

    def __init__(self, binary: str, home: Path) -> None:
        self.binary = binary
        android = home / ".android"
        android.mkdir(parents=True)
        self.key = AdbKey.create(android / "adbkey")
        self.port = free_port()
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": tempfile.gettempdir(),
                    "ANDROID_ADB_SERVER_PORT": str(self.port)}

    def run(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([self.binary, *args], env=self.env, capture_output=True, timeout=timeout_s, check=False)


@pytest.fixture
def adb_servers(tmp_path: Path) -> Iterator[object]:
    """`adb_servers("debian")` or `adb_servers("adbx")`: a started AdbServer, killed after the test."""
    started: list[AdbServer] = []

    def start(which: str) -> AdbServer:
        binary = shutil.which("adb") if which == "debian" else str(google_adb())
        if binary is None:
            pytest.fail("Debian's adb client is not installed (apt-get install adb)")
        server = AdbServer(binary, tmp_path / f"adb-{which}-{len(started)}")
        result = server.run("start-server", timeout_s=30)
        assert result.returncode == 0, result.stderr
        started.append(server)
        return server

    yield start
    for server in started:
        server.run("kill-server", timeout_s=30)
