"""ADB over the network: adbd's TCP port properties and Android 11+ Wireless debugging, as a fact with evidence."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from device_agent.collect import DEFAULT_CATALOGUE, collection_script, parse_collection
from device_agent.facts import DeviceFacts
from device_agent.parsers.adb_exposure import parse_adb_exposure
from device_agent.parsers.property_defaults import with_android_defaults
from device_agent.simulator.phone import VirtualPhone
from device_agent.simulator.profiles import ProfileInvalid, load_profile, parse_profile

SDK_34 = {"ro.build.version.sdk": "34"}


def exposure(properties: dict[str, str], settings: dict[str, str] | None = None, sdk: int | None = 34,
             full_listing: bool = True) -> bool | None:
    effective = with_android_defaults({**SDK_34, **properties})[0] if full_listing else properties
    return parse_adb_exposure(effective, full_listing=full_listing, global_settings={} if settings is None else settings,
                              sdk=sdk)[0]


@pytest.mark.parametrize(("properties", "expected"), [
    ({}, False),
    ({"service.adb.tcp.port": "5555"}, True),
    ({"persist.adb.tcp.port": "5555"}, True),
    ({"service.adb.tcp.port": "-1", "persist.adb.tcp.port": "5555"}, False),  # adbd reads only the first that is set
    ({"service.adb.tcp.port": "0"}, False),
    ({"service.adb.tcp.port": ""}, False),
    ({"service.adb.tcp.port": "adb"}, False),
    ({"service.adb.tcp.port": "5555 "}, True),  # sscanf("%d") takes the leading number
    ({"persist.adb.tls_server.enable": "1"}, True),
    ({"service.adb.tls.port": "37099"}, True),
])
def test_tcp_port_and_tls_server_properties(properties: dict[str, str], expected: bool) -> None:
    assert exposure(properties) is expected


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("2", True), ("0", False), ("on", False)])
def test_wireless_debugging_setting_is_read_as_adb_service_does(value: str, expected: bool) -> None:
    assert exposure({}, {"adb_wifi_enabled": value}) is expected


def test_wireless_debugging_needs_android_11() -> None:
    assert exposure({"persist.adb.tls_server.enable": "1"}, {"adb_wifi_enabled": "1"}, sdk=29) is False


def test_unknown_when_the_listing_or_the_settings_are_partial() -> None:
    assert exposure({}, full_listing=False) is None
    assert parse_adb_exposure(with_android_defaults(SDK_34)[0], full_listing=True, global_settings=None, sdk=34)[0] is None
    assert exposure({"service.adb.tcp.port": "5555"}, full_listing=False) is True  # what was seen is enough to say yes


def collect(phone: VirtualPhone) -> DeviceFacts:
    script, nonce = collection_script(DEFAULT_CATALOGUE)
    return parse_collection(phone.run_shell(script).stdout, DEFAULT_CATALOGUE, datetime.now(timezone.utc), nonce=nonce)


def test_shipped_phones_have_it_off() -> None:
    facts = collect(VirtualPhone.from_profile("google-pixel-9"))
    assert facts.adb_over_network is False
    assert facts.adb_network_evidence["settings global adb_wifi_enabled"] is None


def test_profile_variant_with_adb_over_network_on() -> None:
    facts = collect(VirtualPhone.from_profile("google-pixel-9-adb-network"))
    assert facts.adb_over_network is True
    assert facts.adb_network_evidence["service.adb.tcp.port"] == "5555"
    assert facts.adb_network_evidence["settings global adb_wifi_enabled"] == "1"
    assert facts.adb_network_evidence["persist.adb.tls_server.enable"] == "1"


def test_running_phone_switched_by_adb_tcpip_and_back() -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    phone.change(properties={"service.adb.tcp.port": "5555"})
    assert collect(phone).adb_over_network is True
    phone.change(properties={"service.adb.tcp.port": None})
    assert collect(phone).adb_over_network is False


def test_profile_adb_network_fields_are_checked() -> None:
    base = {"extends": "google-pixel-9"}
    with pytest.raises(ProfileInvalid, match="adb_network.tcp_port"):
        parse_profile({**base, "adb_network": {"tcp_port": 70000}})
    with pytest.raises(ProfileInvalid, match="adb_network.wireless_debugging"):
        parse_profile({**base, "adb_network": {"wireless_debugging": "yes"}})
    with pytest.raises(ProfileInvalid, match="adb_network.bluetooth"):
        parse_profile({**base, "adb_network": {"bluetooth": True}})
    with pytest.raises(ProfileInvalid, match="Android 11"):
        parse_profile({"extends": "motorola-moto-g6", "adb_network": {"wireless_debugging": True}})


def test_extends_merges_sections_over_the_base() -> None:
    variant = load_profile("google-pixel-9-adb-network")
    base = load_profile("google-pixel-9")
    assert variant.name == "google-pixel-9-adb-network"
    assert variant.serial != base.serial
    assert variant.properties["ro.product.model"] == base.properties["ro.product.model"]
    assert variant.settings["global"]["device_name"] == base.settings["global"]["device_name"]
    assert variant.packages == base.packages
    with pytest.raises(ProfileInvalid, match="extends"):
        parse_profile({"extends": "../../etc/passwd"})
