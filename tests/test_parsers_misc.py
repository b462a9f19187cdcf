"""Device policy (UTF-16 capture), lock settings, accounts, media listing; and garbage never crashes a parser."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_agent.collect import collection_script, parse_collection
from device_agent.parsers import (
    decode_output, parse_account_types, parse_device_admins, parse_dumpsys_package, parse_getprop,
    parse_install_result, parse_lock_settings, parse_media_listing, parse_pm_list, parse_settings_get,
    parse_settings_list,
)
from device_agent.simulator.phone import VirtualPhone
from test_parsers_getprop import CORPUS, corpus_text


def test_utf16_crlf_device_policy_decodes() -> None:
    raw = (CORPUS / "dumpsys-device_policy" / "samsung-knoxguard-utf16-crlf-focusguard.txt").read_bytes()
    assert raw.startswith(b"\xff\xfe")
    text = decode_output(raw)
    assert text.startswith("Current Device Policy Manager state:")
    assert "\r" not in text
    assert parse_device_admins(text) == ["com.samsung.android.kgclient/.agent.KGDeviceAdminReceiver",
                                         "com.focusguard/.admin.DeviceAdminReceiver"]


def test_utf16_without_bom_and_policy_engine_format() -> None:
    raw = (CORPUS / "dumpsys-device_policy" / "samsung-knoxguard-utf16-crlf-focusguard.txt").read_bytes()[2:]
    assert decode_output(raw).startswith("Current Device Policy Manager state:")
    problems: list[str] = []
    assert parse_device_admins(corpus_text("dumpsys-device_policy", "google-pixel9a-tegu-android16-sectrollz.txt"), problems) == []
    assert problems == []
    assert parse_device_admins(corpus_text("dpm-cli", "google-pixel9a-tegu-android16-dpm-list-active-admins-unknown-command.txt")) is None


def test_lock_settings_capture_and_simulator() -> None:
    assert parse_lock_settings(corpus_text("dumpsys-lock_settings", "samsung-2021-wuseman-nr1nu-doc.txt")) is True
    expected = {"google-pixel-9": True, "motorola-moto-g6": False, "samsung-galaxy-s24": True, "rooted-oneplus": True}
    for profile, secure in expected.items():
        assert parse_lock_settings(VirtualPhone.from_profile(profile).run_shell("dumpsys lock_settings").stdout.decode()) is secure
    problems: list[str] = []
    assert parse_lock_settings("Can't find service: lock_settings\n", problems) is None
    assert problems


def test_account_names_never_come_out() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    full = phone.run_shell("dumpsys account").stdout.decode()
    assert "@example" in full  # the raw dump has names...
    types = parse_account_types(full)
    assert types == ["com.google", "com.microsoft.workaccount", "com.whatsapp"]
    assert not any("@" in t for t in types)
    assert parse_account_types("    Account {name=a@b.c, type=com.google}\n    Account {name=x, type=x, type=com.evil}\n") == ["com.evil", "com.google"]


def test_media_listing() -> None:
    problems: list[str] = []
    files = parse_media_listing("1700000000 /sdcard/WhatsApp/Media/WhatsApp Images/a b.jpg\n"
                                "1700000001 /sdcard/DCIM/not-whatsapp.jpg\nnotanumber /sdcard/WhatsApp/Media/x\n", problems)
    assert [f.path for f in files] == ["/sdcard/WhatsApp/Media/WhatsApp Images/a b.jpg"]
    assert files[0].modified_at == datetime.fromtimestamp(1700000000, timezone.utc)
    assert problems == ["media files: 2 unreadable lines skipped"]


PARSERS = [
    lambda t: parse_getprop(t, []), lambda t: parse_pm_list(t, []), lambda t: parse_settings_list(t, []),
    parse_settings_get, lambda t: parse_dumpsys_package(t, "com.whatsapp", []), lambda t: parse_account_types(t, []),
    lambda t: parse_lock_settings(t, []), lambda t: parse_media_listing(t, []), parse_install_result,
    lambda t: parse_device_admins(t, []),
]
device_alphabet = st.sampled_from(list("[]:=\n {}/,.-_0123456789abcdefgPpackage") + ["package:", "versionCode=", "Package [com.whatsapp] (1a2b):",
                                                                                       "signatures=PackageSignatures{", "[ro.x]: [", "\r\n", "\x00", "\ufffd"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.lists(device_alphabet, max_size=80).map("".join)))
def test_random_text_never_crashes_a_parser(text: str) -> None:
    for parser in PARSERS:
        parser(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_decoding_or_collection(data: bytes) -> None:
    text = decode_output(data)
    for parser in PARSERS:
        parser(text)
    facts = parse_collection(data, ["com.whatsapp"], datetime.now(timezone.utc))
    assert facts.problems


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.binary(max_size=300))
def test_cut_and_spliced_collection_output_never_crashes(cut: int, noise: bytes) -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    script, nonce = collection_script(["com.whatsapp"])
    output = phone.run_shell(script).stdout
    mangled = output[: cut % max(len(output), 1)] + noise + output[cut % max(len(output), 1) + len(noise):]
    facts = parse_collection(mangled, ["com.whatsapp"], datetime.now(timezone.utc), nonce=nonce)
    assert facts.to_json() is not None
