"""The no_network_adb rule: a phone with adbd on a TCP port or Wireless debugging on fails, unless it is a lab or
dock phone; facts come the way a sweep gets them (a collection's sections, the simulator, real captures)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from device_agent.checks import CHECKS, DeviceExpectation
from device_agent.collect import DEFAULT_CATALOGUE, collection_script, parse_collection
from device_agent.facts import DeviceFacts
from device_agent.parsers import decode_output
from device_agent.simulator.phone import VirtualPhone

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "device-outputs"
NONCE = "0" * 16
WORK_PHONE = DeviceExpectation(serial="S1", device_id=1, role="individual", state="provisioned")
LAB_PHONE = DeviceExpectation(serial="S1", device_id=1, role="individual", state="provisioned", lab_phone=True)


def sections(**texts: str) -> str:
    """A collection's output with these sections in this order, each followed by another (so none was cut)."""
    body = "".join(f"<<PG:{NONCE}:{name}>>\n{text}\n" for name, text in texts.items())
    return body + f"<<PG:{NONCE}:end>>\n"


def collected(properties: dict[str, str], global_settings: dict[str, str] | None = None, sdk: str = "34") -> DeviceFacts:
    """Facts from a whole getprop listing (with the properties a real listing always has) and `settings list global`."""
    props = {"ro.build.version.sdk": sdk, "ro.build.version.release": "14", "ro.product.model": "Test",
             "ro.serialno": "S1", "ro.build.fingerprint": "a/b/c:14/X/1:user/release-keys", **properties}
    getprop = "\n".join(f"[{key}]: [{value}]" for key, value in props.items())
    texts = {"getprop": getprop}
    if global_settings is not None:
        texts["settings_global"] = "\n".join(f"{key}={value}" for key, value in global_settings.items())
    return parse_collection(sections(**texts), [], NOW, nonce=NONCE)


def run(facts: DeviceFacts, expected: DeviceExpectation = WORK_PHONE):
    check = CHECKS["no_network_adb"]
    return check.evaluate(facts, expected, check.with_defaults({}), NOW)


def test_a_phone_with_nothing_on_passes() -> None:
    assert run(collected({}, {"adb_enabled": "1"})).outcome == "pass"


@pytest.mark.parametrize(("properties", "port_source"), [
    ({"service.adb.tcp.port": "5555"}, "port 5555 (service.adb.tcp.port)"),
    ({"persist.adb.tcp.port": "5555"}, "port 5555 (persist.adb.tcp.port)"),
    ({"service.adb.tcp.port": "", "persist.adb.tcp.port": "5037"}, "port 5037 (persist.adb.tcp.port)"),
    ({"service.adb.tcp.port": "5555 "}, "port 5555 (service.adb.tcp.port)"),
])
def test_a_tcp_port_fails_and_names_it(properties: dict[str, str], port_source: str) -> None:
    result = run(collected(properties, {}))
    assert result.outcome == "fail"
    assert result.observed == f"ADB over TCP on {port_source}"


@pytest.mark.parametrize("properties", [
    {"service.adb.tcp.port": "-1"},
    {"service.adb.tcp.port": "0"},
    {"persist.adb.tcp.port": "-1"},
    {"persist.adb.tcp.port": "0"},
    {"service.adb.tcp.port": ""},
    {"persist.adb.tcp.port": ""},
    {"service.adb.tcp.port": "-1", "persist.adb.tcp.port": "5555"},  # adbd reads only the first one that is set
])
def test_a_port_switched_off_passes(properties: dict[str, str]) -> None:
    assert run(collected(properties, {})).outcome == "pass"


def test_wireless_debugging_fails() -> None:
    result = run(collected({}, {"adb_wifi_enabled": "1"}))
    assert result.outcome == "fail"
    assert result.observed == "Wireless debugging on"


def test_wireless_debugging_off_passes() -> None:
    assert run(collected({}, {"adb_wifi_enabled": "0"})).outcome == "pass"


def test_both_at_once_are_both_named() -> None:
    result = run(collected({"service.adb.tcp.port": "5555"}, {"adb_wifi_enabled": "1"}))
    assert result.observed == "ADB over TCP on port 5555 (service.adb.tcp.port); Wireless debugging on"


def test_the_evidence_holds_the_values_that_decided() -> None:
    result = run(collected({"service.adb.tcp.port": "5555"}, {"adb_wifi_enabled": "1"}))
    assert result.evidence["properties"]["service.adb.tcp.port"] == "5555"
    assert result.evidence["properties"]["settings global adb_wifi_enabled"] == "1"


def test_absent_port_properties_are_androids_default_off() -> None:
    facts = collected({}, {})  # neither port property, no adb_wifi_enabled line: a clean phone, not an unknown one
    assert facts.adb_network_evidence["service.adb.tcp.port"] is None
    assert run(facts).outcome == "pass"


def test_settings_not_read_is_unknown_on_android_11_and_later() -> None:
    result = run(collected({}, None))
    assert result.outcome == "error"
    assert result.observed == "unknown"


def test_android_10_has_no_wireless_debugging_to_read() -> None:
    assert run(collected({}, None, sdk="29")).outcome == "pass"


def test_a_port_seen_is_a_failure_even_when_settings_were_not_read() -> None:
    assert run(collected({"service.adb.tcp.port": "5555"}, None)).outcome == "fail"


def test_empty_facts_are_unknown() -> None:
    assert run(DeviceFacts()).outcome == "error"


@pytest.mark.parametrize("facts", [
    DeviceFacts(adb_over_network=True, adb_network_evidence={"service.adb.tcp.port": "5555"}),
    DeviceFacts(adb_over_network=False),
    DeviceFacts(),
], ids=["on", "off", "unknown"])
def test_a_lab_phone_is_not_applicable_whatever_it_shows(facts: DeviceFacts) -> None:
    result = run(facts, LAB_PHONE)
    assert result.outcome == "not_applicable"
    assert result.observed.startswith("lab phone: ")


def test_a_lab_phone_says_what_it_shows() -> None:
    result = run(DeviceFacts(adb_over_network=True), LAB_PHONE)
    assert result.observed == "lab phone: ADB over the network is allowed (now on)"


def test_lab_phone_comes_from_the_sweep_plan_only_when_it_is_true() -> None:
    assert DeviceExpectation.from_json({"serial": "S1", "lab_phone": True}).lab_phone is True
    assert DeviceExpectation.from_json({"serial": "S1", "lab_phone": "false"}).lab_phone is False
    assert DeviceExpectation.from_json({"serial": "S1"}).lab_phone is False


def test_lab_phone_survives_the_expectations_json() -> None:
    assert DeviceExpectation.from_json(LAB_PHONE.to_json()) == LAB_PHONE


# --- real phones' outputs (shared corpus, read in place) ------------------------------------------------------

def corpus(kind: str, name: str) -> str:
    path = CORPUS / kind / name
    assert path.is_file(), f"shared corpus file missing: {path}"
    return decode_output(path.read_bytes())


def test_a_real_xiaomi_with_adb_tcpip_and_wireless_debugging_fails() -> None:
    # The Pad 6 capture shows [service.adb.tcp.port]: [5555] and adb_wifi_enabled=1 in the same phone's settings.
    text = sections(getprop=corpus("getprop", "xiaomi-pad6-pipa-android14.txt"),
                    settings_global=corpus("settings-list", "xiaomi-pad6-android14-settings-list-global.txt"))
    result = run(parse_collection(text, [], NOW, nonce=NONCE))
    assert result.observed == "ADB over TCP on port 5555 (service.adb.tcp.port); Wireless debugging on"


@pytest.mark.parametrize("name", ["fiio-m17-android10.txt"])
def test_a_real_phone_without_a_port_passes(name: str) -> None:
    text = sections(getprop=corpus("getprop", name))  # Android 10: no Wireless debugging, so getprop alone decides
    assert run(parse_collection(text, [], NOW, nonce=NONCE)).outcome == "pass"


# --- the simulator, through the one collection round trip ----------------------------------------------------

def simulated(phone: VirtualPhone) -> DeviceFacts:
    script, nonce = collection_script(DEFAULT_CATALOGUE)
    return parse_collection(phone.run_shell(script).stdout, DEFAULT_CATALOGUE, NOW, nonce=nonce)


def test_simulated_phones_switched_on_and_off() -> None:
    phone = VirtualPhone.from_profile("google-pixel-9")
    assert run(simulated(phone)).outcome == "pass"
    phone.change(properties={"service.adb.tcp.port": "5555"})
    assert run(simulated(phone)).observed == "ADB over TCP on port 5555 (service.adb.tcp.port)"
    phone.change(properties={"service.adb.tcp.port": None}, settings={"global": {"adb_wifi_enabled": "1"}})
    assert run(simulated(phone)).observed == "Wireless debugging on"


def test_the_adb_network_profile_fails() -> None:
    assert run(simulated(VirtualPhone.from_profile("google-pixel-9-adb-network"))).outcome == "fail"
