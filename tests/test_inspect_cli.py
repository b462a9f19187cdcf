"""`phonegate inspect` as people run it: the installed console script, against simulated phones over ADB."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from device_agent.simulator.profiles import PROFILE_NAMES
from test_collect import EXPECTED

PHONEGATE = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "phonegate"


def phonegate(adb_key, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PHONEGATE_ADB_KEY=str(adb_key.path))
    return subprocess.run([str(PHONEGATE), "inspect", *args], env=env, capture_output=True, text=True, timeout=timeout_s)


@pytest.mark.slow
def test_inspect_json_for_every_profile(phone_simulator, adb_key) -> None:
    phones = phone_simulator(len(PROFILE_NAMES), profiles=PROFILE_NAMES)
    for running in phones:
        result = phonegate(adb_key, "--tcp", running.endpoint, "--json")
        assert result.returncode == 0, result.stderr
        facts = json.loads(result.stdout)
        want = EXPECTED[running.phone.profile.name]
        props = running.phone.properties
        assert facts["serial"] == running.serial
        assert facts["manufacturer"] == props["ro.product.manufacturer"]
        assert facts["model"] == want["model"]
        assert facts["android_release"] == props["ro.build.version.release"]
        assert facts["sdk"] == want["sdk"]
        assert facts["security_patch"] == want["patch"].isoformat()
        assert facts["build_fingerprint"] == props["ro.build.fingerprint"]
        assert facts["encrypted"] is want["encrypted"]
        assert facts["secure_lock"] is want["lock"]
        assert facts["packages"] == sorted(running.phone.package_db.packages)
        assert {n: (a["version_code"], a["version_name"]) for n, a in facts["apps"].items()} == want["apps"]
        assert all(set(a) >= {"version_name", "version_code", "signer_sha256"} for a in facts["apps"].values())
        assert facts["root"]["su_paths"] == want["su"]
        assert facts["account_types"] == want["accounts"]
        assert facts["problems"] == []


def test_inspect_summary_and_signer_from_approved_apk(phone_simulator, adb_key, test_apks) -> None:
    (running,) = phone_simulator(1, profiles=["google-pixel-9"])
    assert running.phone.install_apk(test_apks.whatsapp.read_bytes(), []) == "Success"
    result = phonegate(adb_key, "--tcp", running.endpoint, "--signer-apk", str(test_apks.whatsapp))
    assert result.returncode == 0, result.stderr
    assert "Google Pixel 9" in result.stdout
    assert "security patch 2026-11-05" in result.stdout
    assert f"com.whatsapp 2.24.22.5 (code 242201005), installer none, signer {test_apks.key_a.sha256}" in result.stdout
    assert "com.whatsapp.w4b: not installed" in result.stdout
    as_json = json.loads(phonegate(adb_key, "--tcp", running.endpoint, "--json", "--catalogue", "com.whatsapp",
                                   "--signer-apk", str(test_apks.whatsapp)).stdout)
    assert as_json["apps"]["com.whatsapp"]["signer_sha256"] == test_apks.key_a.sha256


def test_unreachable_and_unauthorised_exit_4(phone_simulator, adb_key) -> None:
    result = phonegate(adb_key, "--tcp", "127.0.0.1:1")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    (stranger,) = phone_simulator(1, authorised=False)
    result = phonegate(adb_key, "--tcp", stranger.endpoint, "--auth-timeout", "0.5")
    assert result.returncode == 4
    assert "Allow" in result.stderr


@pytest.mark.parametrize("args, message", [
    ((), "Say which phone: --tcp HOST:PORT, --serial SERIAL or --usb"),
    (("--usb", "--serial", "X"), "leave out --serial, or leave out --usb"),
    (("--serial", "two words"), "is not a phone serial"),
    (("--tcp", "127.0.0.1:5555", "--tcp", "127.0.0.1:5555"), "given twice"),
    (("--tcp", "127.0.0.1:notaport"), "is not HOST:PORT"),
    (("--tcp", "127.0.0.1:5555", "--catalogue", "rm -rf /"), "not a valid Android package name"),
])
def test_bad_usage_exit_2(adb_key, args: tuple[str, ...], message: str) -> None:
    result = phonegate(adb_key, *args)
    assert result.returncode == 2
    assert message in result.stderr
