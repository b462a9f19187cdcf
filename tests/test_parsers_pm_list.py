"""`pm list packages` parser against the four real captures and the simulator's flag combinations."""

from __future__ import annotations

import pytest

from device_agent.parsers import parse_pm_list
from device_agent.simulator.phone import VirtualPhone
from test_parsers_getprop import CORPUS, corpus_text

EXPECTED = {  # file -> (count, a package that must be there, its apk path or None)
    "redmi-note14-5g-android15-pm-list-packages-u-with-prompt.txt": (384, "com.miui.daemon", None),
    "xiaomi-pad6-android14-pm-list-packages-3.txt": (55, "com.instagram.android", None),
    "xiaomi-pad6-android14-pm-list-packages-f.txt": (322, "com.android.emergency",
                                                     "/system_ext/priv-app/EmergencyInfoGms/EmergencyInfoGms.apk"),
    "xiaomi-pad6-android14-pm-list-packages-s.txt": (267, "com.android.server.telecom", None),
}


def test_every_capture_is_covered() -> None:
    assert {p.name for p in (CORPUS / "pm-list-packages").iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_captures(name: str) -> None:
    count, package, path = EXPECTED[name]
    problems: list[str] = []
    packages = parse_pm_list(corpus_text("pm-list-packages", name), problems)
    assert len(packages) == count
    assert problems == []
    assert packages[package].apk_path == path
    assert all(not name.startswith("package:") and " " not in name for name in packages)


def test_prompt_line_is_skipped() -> None:
    text = corpus_text("pm-list-packages", "redmi-note14-5g-android15-pm-list-packages-u-with-prompt.txt")
    assert text.startswith("citrine:/ $ pm list packages -u")
    packages = parse_pm_list(text)
    assert "com.android.camera" in packages
    assert not any("citrine" in name for name in packages)


def test_system_and_user_lists_do_not_overlap() -> None:
    system = parse_pm_list(corpus_text("pm-list-packages", "xiaomi-pad6-android14-pm-list-packages-s.txt"), system=True)
    user = parse_pm_list(corpus_text("pm-list-packages", "xiaomi-pad6-android14-pm-list-packages-3.txt"), system=False)
    everything = parse_pm_list(corpus_text("pm-list-packages", "xiaomi-pad6-android14-pm-list-packages-f.txt"))
    assert not set(system) & set(user)
    assert set(system) | set(user) == set(everything)
    assert all(entry.system for entry in system.values())
    assert not any(entry.system for entry in user.values())


def test_paths_with_equals_signs_and_all_fields() -> None:
    text = ("package:/data/app/~~Zx9q-3ab_cD==/com.whatsapp-Yy7_kq==/base.apk=com.whatsapp versionCode:242101006"
            "  installer=com.android.vending uid:10234\n"
            "package:/system/app/Foo/Foo.apk=com.example.foo versionCode:3  installer=null uid:10001,1010001\n")
    packages = parse_pm_list(text)
    whatsapp = packages["com.whatsapp"]
    assert whatsapp.apk_path == "/data/app/~~Zx9q-3ab_cD==/com.whatsapp-Yy7_kq==/base.apk"
    assert (whatsapp.version_code, whatsapp.installer) == (242101006, "com.android.vending")
    assert packages["com.example.foo"].installer is None


@pytest.mark.parametrize("flags", ["", "-f", "-i", "-U", "--show-versioncode", "-f -i -U --show-versioncode", "-3", "-s"])
def test_simulator_flag_combinations(flags: str) -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    packages = parse_pm_list(phone.run_shell(f"pm list packages {flags}").stdout.decode())
    installed = phone.package_db.packages
    words = flags.split()
    expected = {n for n, p in installed.items() if ("-3" not in words or not p.system) and ("-s" not in words or p.system)}
    assert set(packages) == expected
    whatsapp = packages.get("com.whatsapp")
    if whatsapp is not None:
        assert whatsapp.version_code == (242101006 if "--show-versioncode" in flags else None)
        assert whatsapp.installer == ("com.android.shell" if "-i" in flags else None)
        assert (whatsapp.apk_path is not None) == ("-f" in flags)


def test_old_android_refuses_show_versioncode() -> None:
    phone = VirtualPhone.from_profile("motorola-moto-g6")
    outcome = phone.run_shell("pm list packages --show-versioncode")
    assert outcome.stdout == b""
    assert b"Unknown option" in outcome.stderr
