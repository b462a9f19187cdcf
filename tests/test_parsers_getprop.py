"""getprop parser against every real capture in the shared corpus, the simulator's profiles, and garbage."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_agent.parsers import decode_output, parse_getprop
from device_agent.simulator.phone import VirtualPhone
from device_agent.simulator.profiles import PROFILE_NAMES

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "device-outputs"

# file -> (property count, model, sdk, security patch, first line of the multi-line boot reason history)
EXPECTED = {
    "fiio-m17-android10.txt": (812, "FiiO M17", "29", "2020-02-05", "bootloader,1665897449"),
    "infinix-X670-android13.txt": (1644, "Infinix X670", "33", "2024-02-05", "cold,powerkey,1758646340"),
    "lg-v60-LM-V600-android11.txt": (1158, "LM-V600", "30", "2021-07-01", "reboot,atd,1626759463"),
    "motorola-edge20-berlin-android13.txt": (863, "motorola edge 20", "33", "2023-09-01", "reboot,hardware_reset,1728776411"),
    "oneplus-nord-n10-BE2028-android11.txt": (1120, "BE2028", "30", "2023-07-05", "reboot,ota,1691858645"),
    "oneplus-nord-n30-CPH2513-android14.txt": (1309, "CPH2513", "34", "2023-12-05", "reboot,factory_reset,1672549286"),
    "xiaomi-12x-psyche-android12.txt": (1971, "2112123AG", "31", "2022-06-01", "reboot,userrequested,1656800870"),
    "xiaomi-pad6-pipa-android14.txt": (1178, "23043RP34G", "34", "2026-01-01", "shutdown,userrequested,1777928252"),
}


def corpus_text(kind: str, name: str) -> str:
    path = CORPUS / kind / name
    assert path.is_file(), f"shared corpus file missing: {path}"
    return decode_output(path.read_bytes())


def test_every_getprop_capture_is_covered() -> None:
    names = {p.name for p in (CORPUS / "getprop").iterdir()}
    assert names == set(EXPECTED) | {"mvt-test-artifact-excerpt-embedded-blank-line.txt"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_getprop_captures(name: str) -> None:
    count, model, sdk, patch, history_first = EXPECTED[name]
    problems: list[str] = []
    props = parse_getprop(corpus_text("getprop", name), problems)
    assert len(props) == count
    assert props["ro.product.model"] == model
    assert props["ro.build.version.sdk"] == sdk
    assert props["ro.build.version.security_patch"] == patch
    history = props["persist.sys.boot.reason.history"].split("\n")
    assert history[0] == history_first
    assert len(history) >= 2
    assert problems == []


def test_prompt_line_is_not_a_property() -> None:
    props = parse_getprop(corpus_text("getprop", "fiio-m17-android10.txt"))
    assert not any("getprop" in key for key in props)
    assert props["DEVICE_PROVISIONED"] == "1"
    assert len(props["persist.sys.boot.reason.history"].split("\n")) == 4


def test_quoted_value_and_empty_values() -> None:
    props = parse_getprop(corpus_text("getprop", "oneplus-nord-n10-BE2028-android11.txt"))
    assert any(value.startswith('"') and "pool.ntp.org" in value for value in props.values())
    props = parse_getprop(corpus_text("getprop", "xiaomi-pad6-pipa-android14.txt"))
    assert props["ro.boot.vbmeta.device_state"] == "locked"


def test_embedded_blank_line() -> None:
    props = parse_getprop(corpus_text("getprop", "mvt-test-artifact-excerpt-embedded-blank-line.txt"))
    assert len(props) == 13
    assert props["dalvik.vm.dex2oat-Xmx"] == "512m"
    assert props["dalvik.vm.dex2oat-max-image-block-size"] == "524288"  # the line right after the blank one
    assert props["dalvik.vm.heapgrowthlimit"] == "192m"


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_profiles_round_trip(profile: str) -> None:
    phone = VirtualPhone.from_profile(profile, serial="SERIAL42")
    props = parse_getprop(decode_output(phone.run_shell("getprop").stdout))
    assert props == phone.properties
    assert props["ro.serialno"] == "SERIAL42"


def test_unclosed_value_and_junk_are_reported_not_raised() -> None:
    problems: list[str] = []
    props = parse_getprop("[a]: [1]\n[b]: [never closed\nmore\n", problems)
    assert props == {"a": "1"}
    assert any("cut off" in p for p in problems)
    problems = []
    assert parse_getprop("complete nonsense\nmore nonsense\n", problems) == {}
    assert problems
