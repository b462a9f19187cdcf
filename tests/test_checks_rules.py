"""Per-rule behaviour on hand-made facts: the edges the shipped profiles do not show (swapped phone, OS update,
unauthorised install, pinned signer, honest unknown-sources wording). Profile-based tests: test_checks_profiles.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from device_agent.checks import CHECKS, ApprovedApp, DeviceExpectation
from device_agent.facts import AppInfo, DeviceFacts, MediaFile, PackageEntry, RootIndicators

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
GOOD_SIGNER = "a1" * 32
FINGERPRINT = "google/tokay/tokay:15/AP3A.241105.008/12485168:user/release-keys"


def facts(**overrides) -> DeviceFacts:
    base = DeviceFacts(
        serial="S1",
        model="Pixel 9",
        android_release="15",
        sdk=35,
        security_patch=date(2026, 11, 5),
        build_fingerprint=FINGERPRINT,
        packages={
            "android": PackageEntry("android", system=True),
            "com.whatsapp": PackageEntry("com.whatsapp", version_code=250, system=False),
        },
        apps={"com.whatsapp": AppInfo("com.whatsapp", version_code=250, signer_sha256=[GOOD_SIGNER])},
        settings={"secure": {"install_non_market_apps": "0"}, "global": {}},
        encrypted=True,
        secure_lock=True,
        root=RootIndicators(su_paths=[], test_keys=False, debuggable=False, verified_boot_state="green", bootloader_locked=True),
        account_types=["com.whatsapp"],
        media_files=[],
        adb_over_network=False,
    )
    return replace(base, **overrides)


EXPECTED = DeviceExpectation(
    serial="S1",
    device_id=7,
    role="individual",
    state="provisioned",
    model="Pixel 9",
    build_fingerprint=FINGERPRINT,
    endpoint="127.0.0.1:5555",
    approved_apps=(ApprovedApp("com.whatsapp", (GOOD_SIGNER,), 200),),
)


def run(rule: str, f: DeviceFacts, expected: DeviceExpectation = EXPECTED, **params):
    check = CHECKS[rule]
    return check.evaluate(f, expected, check.with_defaults(params), NOW)


def test_a_healthy_phone_passes_every_rule_that_applies() -> None:
    for rule in CHECKS:
        result = run(rule, facts())
        assert result.outcome == "pass", (rule, result)


def test_identity_swapped_phone_fails_and_os_update_passes_with_a_note() -> None:
    swapped = run("identity", facts(serial="OTHER"))
    assert swapped.outcome == "fail"
    assert "swapped phone" in swapped.observed
    updated = run("identity", facts(build_fingerprint="google/tokay/tokay:15/NEW/1:user/release-keys"))
    assert updated.outcome == "pass"
    assert updated.observed.startswith("OS updated")
    assert updated.evidence["os_updated"] is True
    assert updated.evidence["previous_fingerprint"] == FINGERPRINT
    assert run("identity", facts(model="Pixel 8")).outcome == "fail"
    assert run("identity", facts(serial=None)).outcome == "error"


def test_approved_app_on_provisioned_phone_needs_pinned_signer_and_version() -> None:
    assert run("approved_app_state", facts()).outcome == "pass"
    wrong_key = facts(apps={"com.whatsapp": AppInfo("com.whatsapp", version_code=250, signer_sha256=["b2" * 32])})
    assert "unknown key" in run("approved_app_state", wrong_key).observed
    old = facts(apps={"com.whatsapp": AppInfo("com.whatsapp", version_code=150, signer_sha256=[GOOD_SIGNER])})
    assert run("approved_app_state", old).outcome == "fail"
    missing = facts(packages={"android": PackageEntry("android", system=True)}, apps={})
    assert run("approved_app_state", missing).observed == "com.whatsapp missing"
    no_details = facts(apps={})
    assert run("approved_app_state", no_details).outcome == "error"


@pytest.mark.parametrize("state", ["registered", "pending_approval", "rejected", "suspended", "retired"])
def test_app_on_a_phone_that_is_not_approved_is_an_unauthorised_install(state: str) -> None:
    result = run("approved_app_state", facts(), replace(EXPECTED, state=state))
    assert result.outcome == "fail"
    assert "unauthorised install" in result.observed
    clean = facts(packages={"android": PackageEntry("android", system=True)}, apps={})
    assert run("approved_app_state", clean, replace(EXPECTED, state=state)).outcome == "pass"


def test_approved_but_not_yet_installed_passes_and_a_look_alike_fails() -> None:
    clean = facts(packages={"android": PackageEntry("android", system=True)}, apps={})
    assert run("approved_app_state", clean, replace(EXPECTED, state="approved")).observed.startswith("not yet installed")
    w4b = facts(packages={**facts().packages, "com.whatsapp.w4b": PackageEntry("com.whatsapp.w4b", system=False)})
    assert "com.whatsapp.w4b" in run("approved_app_state", w4b).observed


def test_unknown_sources_is_honest_about_android_8() -> None:
    modern = run("unknown_sources_disallowed", facts())
    assert modern.outcome == "pass"
    assert "not checked" in modern.observed
    assert "limitation" in modern.evidence
    assert run("unknown_sources_disallowed", facts(settings={"global": {"install_non_market_apps": "1"}})).outcome == "fail"
    old_phone = facts(sdk=24, settings={"secure": {"install_non_market_apps": "0"}})
    assert run("unknown_sources_disallowed", old_phone).observed == "off"
    assert run("unknown_sources_disallowed", facts(sdk=24, settings={"secure": {}})).outcome == "error"
    assert run("unknown_sources_disallowed", facts(settings={})).outcome == "error"


def test_broadcast_purity_flags_extra_apps_and_personal_accounts() -> None:
    broadcast = replace(EXPECTED, role="broadcast")
    assert run("broadcast_purity", facts(), broadcast).outcome == "pass"
    extra = facts(packages={**facts().packages, "com.spotify.music": PackageEntry("com.spotify.music", system=False)})
    assert "com.spotify.music" in run("broadcast_purity", extra, broadcast).observed
    personal = run("broadcast_purity", facts(account_types=["com.whatsapp", "com.google"]), broadcast)
    assert personal.outcome == "fail"
    assert personal.evidence["extra_account_types"] == ["com.google"]
    assert run("broadcast_purity", facts(account_types=None), broadcast).outcome == "error"
    allowed = run("broadcast_purity", extra, broadcast, allowed_user_apps=["com.spotify.music"])
    assert allowed.outcome == "pass"


def test_media_retention_counts_old_files_without_naming_them() -> None:
    old = MediaFile("/sdcard/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-secret-name.jpg", NOW - timedelta(days=40))
    new = MediaFile("/sdcard/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-2.jpg", NOW - timedelta(days=2))
    result = run("media_retention", facts(media_files=[old, new]))
    assert result.outcome == "fail"
    assert result.evidence["older_than_limit"] == 1
    assert "secret" not in repr(result.evidence)
    assert "secret" not in result.observed
    assert run("media_retention", facts(media_files=[old]), max_age_days=60).outcome == "pass"


def test_integrity_rules() -> None:
    assert run("not_rooted", facts(root=RootIndicators(su_paths=["/system/xbin/su"]))).outcome == "fail"
    assert run("not_rooted", facts(root=RootIndicators(su_paths=[], debuggable=True))).outcome == "fail"
    assert run("not_rooted", facts(root=RootIndicators(su_paths=[], debuggable=True)), debuggable_counts_as_rooted=False).outcome == "pass"
    assert run("verified_boot_green", facts(root=RootIndicators(verified_boot_state="orange"))).observed == "orange"
    assert run("bootloader_locked", facts(root=RootIndicators(bootloader_locked=False))).outcome == "fail"
    assert run("no_test_keys", facts(root=RootIndicators(test_keys=True))).outcome == "fail"


def test_platform_and_protection_rules() -> None:
    assert run("min_android_version", facts(sdk=29)).outcome == "fail"
    assert run("min_android_version", facts(sdk=29), min_sdk=29).outcome == "pass"
    stale = run("security_patch_max_age_days", facts(security_patch=date(2026, 1, 1)))
    assert stale.outcome == "fail"
    assert stale.evidence["age_days"] == 331
    assert run("storage_encrypted", facts(encrypted=False)).outcome == "fail"
    assert run("secure_lock_screen", facts(secure_lock=False)).outcome == "fail"
    assert run("disallowed_apps", facts(), packages=["com.whatsapp"]).observed == "installed: com.whatsapp"
