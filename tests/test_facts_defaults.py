"""Facts as Android means them: a property the phone does not report takes Android's own default (one table,
parsers.property_defaults), only in a whole listing; the real captures in the shared corpus read as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from device_agent.collect import DEFAULT_CATALOGUE, collection_script, parse_collection
from device_agent.facts import DeviceFacts
from device_agent.parsers import decode_output
from device_agent.parsers.property_defaults import DEFAULTS_BY_NAME, PROPERTY_DEFAULTS, is_full_listing, with_android_defaults
from device_agent.simulator.phone import VirtualPhone

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "device-outputs" / "getprop"
NOW = datetime.now(timezone.utc)


def facts_of(phone: VirtualPhone, cut_after_getprop: bool = False) -> DeviceFacts:
    script, nonce = collection_script(DEFAULT_CATALOGUE)
    output = phone.run_shell(script).stdout.decode()
    if cut_after_getprop:  # the connection dropped while the property listing was arriving
        output = output[: output.index(f"<<PG:{nonce}:packages>>")]
    return parse_collection(output, DEFAULT_CATALOGUE, NOW, nonce=nonce)


def without(profile: str, *names: str) -> VirtualPhone:
    phone = VirtualPhone.from_profile(profile, serial="DEFAULTS1")
    phone.change(properties={name: None for name in names})
    return phone


# property -> (profile, the properties to remove, the fact, what the fact must then be)
ABSENT: dict[str, tuple[str, tuple[str, ...], Callable[[DeviceFacts], object], object]] = {
    "ro.debuggable": ("rooted-oneplus", ("ro.debuggable",), lambda f: f.root.debuggable, False),
    "ro.secure": ("rooted-oneplus", ("ro.secure",), lambda f: f.root.adbd_root, False),
    "service.adb.root": ("rooted-oneplus", ("service.adb.root",), lambda f: f.root.adbd_root, False),
    "ro.build.tags": ("samsung-galaxy-s24", ("ro.build.tags",), lambda f: f.root.test_keys, False),
    "ro.crypto.state": ("samsung-galaxy-s24", ("ro.crypto.state",), lambda f: f.encrypted, False),
    "ro.boot.flash.locked": ("rooted-oneplus", ("ro.boot.flash.locked", "ro.boot.vbmeta.device_state"),
                             lambda f: f.root.bootloader_locked, False),
    "service.adb.tcp.port": ("samsung-galaxy-s24", ("service.adb.tcp.port",), lambda f: f.adb_over_network, False),
    "persist.adb.tcp.port": ("samsung-galaxy-s24", ("persist.adb.tcp.port",), lambda f: f.adb_over_network, False),
    "persist.adb.tls_server.enable": ("google-pixel-9", ("persist.adb.tls_server.enable",), lambda f: f.adb_over_network, False),
    # no Android default: the fact stays unknown
    "ro.boot.verifiedbootstate": ("samsung-galaxy-s24", ("ro.boot.verifiedbootstate",), lambda f: f.root.verified_boot_state, None),
    "ro.boot.vbmeta.device_state": ("samsung-galaxy-s24", ("ro.boot.vbmeta.device_state", "ro.boot.flash.locked",
                                                           "ro.boot.verifiedbootstate"), lambda f: f.root.bootloader_locked, None),
    "ro.build.version.security_patch": ("samsung-galaxy-s24", ("ro.build.version.security_patch",), lambda f: f.security_patch, None),
    "ro.build.version.sdk": ("samsung-galaxy-s24", ("ro.build.version.sdk",), lambda f: f.sdk, None),
    "ro.build.version.release": ("samsung-galaxy-s24", ("ro.build.version.release",), lambda f: f.android_release, None),
    "ro.build.fingerprint": ("samsung-galaxy-s24", ("ro.build.fingerprint",), lambda f: f.build_fingerprint, None),
    "ro.product.manufacturer": ("samsung-galaxy-s24", ("ro.product.manufacturer",), lambda f: f.manufacturer, None),
    "ro.product.model": ("samsung-galaxy-s24", ("ro.product.model",), lambda f: f.model, None),
    "ro.serialno": ("samsung-galaxy-s24", ("ro.serialno", "ro.boot.serialno"), lambda f: f.serial, None),
}


def test_every_table_entry_is_tested_and_says_where_it_comes_from() -> None:
    assert set(ABSENT) == set(DEFAULTS_BY_NAME)
    assert len(DEFAULTS_BY_NAME) == len(PROPERTY_DEFAULTS)
    for entry in PROPERTY_DEFAULTS:
        assert entry.source.strip(), entry.name
        assert not (entry.value is not None and entry.derive is not None), entry.name


@pytest.mark.parametrize("name", sorted(ABSENT))
def test_an_absent_property_means_what_android_reads(name: str) -> None:
    profile, removed, fact, expected = ABSENT[name]
    facts = facts_of(without(profile, *removed))
    assert fact(facts) is expected
    assert facts.problems == []


@pytest.mark.parametrize("name", sorted(n for n, e in DEFAULTS_BY_NAME.items() if e.value is not None or e.derive))
def test_an_applied_default_is_recorded_as_evidence(name: str) -> None:
    profile, removed, _, _ = ABSENT[name]
    facts = facts_of(without(profile, *removed))
    assert name in facts.property_defaults
    assert name not in facts.properties  # the phone's own listing stays as the phone sent it


def test_the_phones_own_values_win() -> None:
    facts = facts_of(VirtualPhone.from_profile("rooted-oneplus"))
    assert facts.root.debuggable is True
    assert facts.root.test_keys is True
    assert facts.root.bootloader_locked is False
    assert "ro.debuggable" not in facts.property_defaults


def test_adbd_keeps_root_on_a_debuggable_build_with_ro_secure_0_or_adb_root() -> None:
    rooted = VirtualPhone.from_profile("rooted-oneplus")
    rooted.change(properties={"ro.secure": "0"})
    assert facts_of(rooted).root.adbd_root is True
    rooted.change(properties={"ro.secure": "1", "service.adb.root": "1"})
    assert facts_of(rooted).root.adbd_root is True
    clean = VirtualPhone.from_profile("samsung-galaxy-s24")
    clean.change(properties={"ro.secure": "0"})  # a user build has no ALLOW_ADBD_ROOT: adbd drops root anyway
    assert facts_of(clean).root.adbd_root is False


def test_a_cut_off_listing_gets_no_defaults() -> None:
    facts = facts_of(without("samsung-galaxy-s24", "ro.debuggable", "ro.crypto.state"), cut_after_getprop=True)
    assert facts.model == "SM-S921B"
    assert facts.root.debuggable is None
    assert facts.encrypted is None
    assert facts.property_defaults == {}


def test_a_listing_without_the_sdk_is_an_excerpt_and_gets_no_defaults() -> None:
    facts = facts_of(without("samsung-galaxy-s24", "ro.build.version.sdk", "ro.debuggable"))
    assert facts.root.debuggable is None
    assert facts.property_defaults == {}


def test_empty_values_count_as_absent_as_in_system_properties() -> None:
    effective, applied = with_android_defaults({"ro.build.version.sdk": "34", "ro.debuggable": ""})
    assert effective["ro.debuggable"] == "0"
    assert applied["ro.debuggable"] == "0"
    assert is_full_listing({"ro.debuggable": "0"}) is False


# capture -> (sdk, encrypted, test_keys, debuggable, verified boot, bootloader locked, patch, adbd_root, adb_over_network)
# as parse_collection read them before the defaults table, plus the two new facts.
CORPUS_FACTS = {
    "fiio-m17-android10.txt": (29, True, False, False, "orange", False, date(2020, 2, 5), False, False),
    "infinix-X670-android13.txt": (33, True, False, False, "green", True, date(2024, 2, 5), False, None),
    "lg-v60-LM-V600-android11.txt": (30, True, False, False, "orange", False, date(2021, 7, 1), False, None),
    "motorola-edge20-berlin-android13.txt": (33, True, False, False, "green", True, date(2023, 9, 1), False, None),
    "mvt-test-artifact-excerpt-embedded-blank-line.txt": (None, None, None, None, None, None, None, None, None),
    "oneplus-nord-n10-BE2028-android11.txt": (30, True, False, False, "green", True, date(2023, 7, 5), False, None),
    "oneplus-nord-n30-CPH2513-android14.txt": (34, True, False, False, "orange", False, date(2023, 12, 5), False, None),
    "xiaomi-12x-psyche-android12.txt": (31, True, False, False, "green", True, date(2022, 6, 1), False, None),
    "xiaomi-pad6-pipa-android14.txt": (34, True, False, False, "green", True, date(2026, 1, 1), False, True),
}


def corpus_facts(name: str) -> DeviceFacts:
    """A capture as the getprop section of a collection (no other section: settings unknown)."""
    path = CORPUS / name
    assert path.is_file(), f"shared corpus file missing: {path}"
    text = "<<PG:0000000000000000:getprop>>\n" + decode_output(path.read_bytes()) + "\n<<PG:0000000000000000:end>>\n"
    return parse_collection(text, [], NOW, nonce="0" * 16)


def test_every_getprop_capture_is_covered() -> None:
    assert {path.name for path in CORPUS.iterdir()} == set(CORPUS_FACTS)


@pytest.mark.parametrize("name", sorted(CORPUS_FACTS))
def test_corpus_captures_read_as_before(name: str) -> None:
    facts = corpus_facts(name)
    root = facts.root
    assert (facts.sdk, facts.encrypted, root.test_keys, root.debuggable, root.verified_boot_state, root.bootloader_locked,
            facts.security_patch, root.adbd_root, facts.adb_over_network) == CORPUS_FACTS[name]


def test_corpus_phone_with_adb_tcpip_names_its_port() -> None:
    facts = corpus_facts("xiaomi-pad6-pipa-android14.txt")
    assert facts.adb_network_evidence["service.adb.tcp.port"] == "5555"


def test_new_facts_survive_json_and_unknown_fields_are_ignored() -> None:
    facts = facts_of(VirtualPhone.from_profile("google-pixel-9-adb-network"))
    data = facts.to_json()
    again = DeviceFacts.from_json(data)
    assert again.to_json() == data
    data["root"]["from_a_newer_agent"] = True
    assert DeviceFacts.from_json(data).root.adbd_root is facts.root.adbd_root
