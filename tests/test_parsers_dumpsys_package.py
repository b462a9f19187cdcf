"""`dumpsys package NAME` parser against the real captures, the simulator, and the not-installed answer."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from device_agent.parsers import parse_dumpsys_package
from device_agent.parsers.dumpsys_package import java_signature_hashcode
from device_agent.simulator.packages import simulated_certificate
from device_agent.simulator.phone import VirtualPhone
from test_parsers_getprop import CORPUS, corpus_text

UTC = timezone.utc
# file -> (package, versionCode, versionName, installer, uid, signer hashes, scheme, first install (phone time))
EXPECTED = {
    "pixel-android16-com.example.ytdash_rn-shell-installed-debug.txt":
        ("com.example.ytdash_rn", 1, "1.0.0", None, 13121, ["51ed3f60"], 2, datetime(2026, 7, 4, 16, 0, 41)),
    "samsung-android10-mvt-test-artifact-excerpt.txt":
        ("com.samsung.android.provider.filterprovider", 500700000, "5.0.07", None, 1000, ["b378e95c"], 2,
         datetime(2008, 12, 31, 16, 0, 0)),
    "wearos-watch-com.tekartik.package1-play-updated-system-app.txt":
        ("com.tekartik.package1", 20, "1.0.16", "com.android.vending", 10057, ["b76298ca"], 3, datetime(2009, 1, 1, 1, 0, 0)),
    "wearos-watch-com.tekartik.package2-play-installed.txt":
        ("com.tekartik.package2", 248, "1.4.73", "com.android.vending", 10090, ["2cac3db6"], 3, datetime(2025, 6, 18, 8, 27, 4)),
    "xiaomi-miui-android7-org.mazhuang.guanggoo-awesome-adb-doc.txt":
        ("org.mazhuang.guanggoo", 74, "1.1.74", "com.miui.packageinstaller", 10394, ["53c7caa2"], None,
         datetime(2017, 10, 22, 23, 50, 25)),
}


def test_every_capture_is_covered() -> None:
    assert {p.name for p in (CORPUS / "dumpsys-package").iterdir()} == set(EXPECTED) | {"unable-to-find-package-error.txt"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_captures(name: str) -> None:
    package, code, version, installer, uid, hashes, scheme, first = EXPECTED[name]
    problems: list[str] = []
    dump = parse_dumpsys_package(corpus_text("dumpsys-package", name), package, problems)
    assert dump is not None
    assert problems == []
    assert (dump.version_code, dump.version_name, dump.installer, dump.uid) == (code, version, installer, uid)
    assert dump.signer_hashcodes == hashes
    assert dump.signing_scheme == scheme
    assert dump.first_install_time == first.replace(tzinfo=UTC)


def test_pixel_shell_install_has_initiating_package_and_app_id() -> None:
    dump = parse_dumpsys_package(corpus_text("dumpsys-package", "pixel-android16-com.example.ytdash_rn-shell-installed-debug.txt"),
                                 "com.example.ytdash_rn")
    assert dump is not None
    assert dump.initiating_installer == "com.android.shell"
    assert dump.target_sdk == 36


def test_phone_time_zone_is_applied() -> None:
    text = corpus_text("dumpsys-package", "wearos-watch-com.tekartik.package2-play-installed.txt")
    dump = parse_dumpsys_package(text, "com.tekartik.package2", zone=ZoneInfo("Europe/London"))
    assert dump is not None
    assert dump.first_install_time == datetime(2025, 6, 18, 7, 27, 4, tzinfo=UTC)  # BST


def test_unable_to_find_package_means_not_installed() -> None:
    problems: list[str] = []
    text = corpus_text("dumpsys-package", "unable-to-find-package-error.txt")
    assert parse_dumpsys_package(text, "com.funnyenglish.app", problems) is None
    assert problems == []


def test_other_package_in_output_is_not_taken() -> None:
    problems: list[str] = []
    text = corpus_text("dumpsys-package", "samsung-android10-mvt-test-artifact-excerpt.txt")
    assert parse_dumpsys_package(text, "com.whatsapp", problems) is None
    assert problems  # the block was missing: a note, never an exception


def test_hidden_system_package_copy_does_not_override() -> None:
    text = corpus_text("dumpsys-package", "wearos-watch-com.tekartik.package1-play-updated-system-app.txt")
    assert "Hidden system packages" in text
    dump = parse_dumpsys_package(text, "com.tekartik.package1")
    assert dump is not None
    assert dump.version_code == 20


@pytest.mark.parametrize("profile, sdk_field", [("google-pixel-9", "appId"), ("motorola-moto-g6", "userId")])
def test_simulator_output(profile: str, sdk_field: str) -> None:
    phone = VirtualPhone.from_profile(profile)
    name = "com.whatsapp" if "com.whatsapp" in phone.package_db.packages else "com.android.settings"
    text = phone.run_shell(f"dumpsys package {name}").stdout.decode()
    assert f"{sdk_field}=" in text
    dump = parse_dumpsys_package(text, name, zone=ZoneInfo(phone.properties["persist.sys.timezone"]))
    installed = phone.package_db.packages[name]
    assert dump is not None
    assert dump.version_code == installed.version_code
    assert dump.version_name == installed.version_name
    assert dump.signer_hashcodes == [java_signature_hashcode(c) for c in installed.certificates]
    assert abs((dump.first_install_time - installed.first_install).total_seconds()) < 1


def test_java_hashcode_matches_android_rule() -> None:
    # Arrays.hashCode(new byte[]{}) == 1; {1} -> 32; {-1} -> 30 (31*1 + -1)
    assert java_signature_hashcode(b"") == "1"
    assert java_signature_hashcode(b"\x01") == "20"
    assert java_signature_hashcode(b"\xff") == "1e"
    assert len(java_signature_hashcode(simulated_certificate("x"))) <= 8
