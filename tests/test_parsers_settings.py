"""`settings list` / `settings get` parsers against the real captures and the simulator."""

from __future__ import annotations

import json

import pytest

from device_agent.parsers import parse_settings_get, parse_settings_list
from device_agent.simulator.phone import VirtualPhone
from test_parsers_getprop import CORPUS, corpus_text

EXPECTED = {
    "samsung-androidqf-mvt-test-artifact-excerpt.txt": 9,
    "xiaomi-pad6-android14-settings-list-global.txt": 584,
    "xiaomi-pad6-android14-settings-list-secure.txt": 347,
    "xiaomi-pad6-android14-settings-list-system.txt": 491,
}


def test_every_capture_is_covered() -> None:
    assert {p.name for p in (CORPUS / "settings-list").iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_lists(name: str) -> None:
    problems: list[str] = []
    values = parse_settings_list(corpus_text("settings-list", name), problems)
    assert len(values) == EXPECTED[name]
    assert problems == []


def test_empty_values_odd_keys_and_json() -> None:
    samsung = parse_settings_list(corpus_text("settings-list", "samsung-androidqf-mvt-test-artifact-excerpt.txt"))
    assert samsung["navigationbar_recently_used_color"] == ""
    assert samsung["package_verifier_enable"] == "1"
    global_ = parse_settings_list(corpus_text("settings-list", "xiaomi-pad6-android14-settings-list-global.txt"))
    assert global_["0#BLUETOOTHHEADSETPLUGIN"] == "1"
    assert global_["dropbox:data_app_crash"] == "disabled"
    assert json.loads(global_["security_center_pc_save_mode_data"]) == {"a": 0, "b": -1, "c": -1, "d": -1}
    assert global_["voip_shortcut_cloud"].startswith("[1668993988]_{")


def test_settings_get_captures() -> None:
    services = parse_settings_get(corpus_text("settings-get", "xiaomi-pad6-android14-secure-enabled_accessibility_services.txt"))
    assert services is not None
    assert len(services.split(":")) == 9
    assert services.split(":")[0] == "com.arlosoft.macrodroid/com.arlosoft.macrodroid.triggers.services.MacroDroidAccessibilityServiceJellyBean"
    # a composite capture (a settings value, then getprop lines) is not one value: unknown, not a wrong answer
    composite = corpus_text("settings-get", "xiaomi-pad6-android14-dev-options-settings-get-plus-getprop-grep.txt")
    assert parse_settings_get(composite) is None
    assert parse_settings_get(composite.split("\n")[0]) == "1"


def test_settings_get_null_and_errors() -> None:
    assert parse_settings_get("null\n") is None
    assert parse_settings_get("") is None
    assert parse_settings_get("/system/bin/sh: settings: inaccessible or not found\n") is None


@pytest.mark.parametrize("namespace", ["global", "secure", "system"])
def test_simulator_lists(namespace: str) -> None:
    phone = VirtualPhone.from_profile("samsung-galaxy-s24")
    assert parse_settings_list(phone.run_shell(f"settings list {namespace}").stdout.decode()) == phone.settings[namespace]
    key = next(iter(phone.settings[namespace]))
    assert parse_settings_get(phone.run_shell(f"settings get {namespace} {key}").stdout.decode()) == (phone.settings[namespace][key] or None)
