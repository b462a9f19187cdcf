"""Every rule on the simulator's shipped profiles, through the real collection path: simulated phone -> ADB over
loopback -> device_agent.collect.collect_facts -> checks (runner with the default policy)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from datetime import date, datetime, timezone

import pytest

from device_agent.adb import connect_tcp
from device_agent.checks import ApprovedApp, DeviceExpectation
from device_agent.checks.runner import evaluate_device
from device_agent.collect import collect_facts
from device_agent.facts import DeviceFacts
from device_agent.simulator.packages import simulated_certificate
from phonegate.core.device_rules import parse_device_rules
from phonegate.core.rules import RulesDocument, default_rules_text

WHATSAPP_CERT = simulated_certificate("whatsapp-release")
WHATSAPP_PIN = hashlib.sha256(WHATSAPP_CERT).hexdigest()
OTHER_CERT = simulated_certificate("someone-else")


def _app(package: str, cert: bytes = WHATSAPP_CERT, min_version: int = 1) -> ApprovedApp:
    return ApprovedApp(package, (hashlib.sha256(cert).hexdigest(),), min_version, (cert,))


def _policy() -> RulesDocument:
    """The shipped policy, with the patch age limit set relative to today so the test does not age: the S24's
    patch (2026-10-01) is 30 days inside it, the rooted OnePlus's (2026-08-01, 61 days older) outside."""
    policy = parse_device_rules(default_rules_text())
    limit = (date.today() - date(2026, 10, 1)).days + 30
    rules = dict(policy.rules)
    patch = rules["security_patch_max_age_days"]
    rules["security_patch_max_age_days"] = replace(patch, params={**patch.params, "max_age_days": limit})
    return replace(policy, rules=rules)


async def _collect(endpoint: str, key, packages: list[str], certificates: list[bytes]) -> DeviceFacts:
    session = await connect_tcp(endpoint, key)
    try:
        return await collect_facts(session, packages, known_certificates=certificates)
    finally:
        await session.close()


def _evaluate(phone, key, expected: DeviceExpectation, policy: RulesDocument | None = None) -> dict[str, tuple[str, str]]:
    policy = policy or _policy()
    facts = asyncio.run(_collect(phone.endpoint, key, ["com.whatsapp", "com.whatsapp.w4b"], expected.certificates))
    expected = replace(expected, serial=phone.serial, endpoint=phone.endpoint)
    results = evaluate_device(policy, facts, expected, datetime.now(timezone.utc))
    return {r.rule: (r.outcome, r.observed) for r in results}


def _fails(outcomes: dict[str, tuple[str, str]]) -> set[str]:
    return {rule for rule, (outcome, _) in outcomes.items() if outcome == "fail"}


def _with_facts(phone, expected: DeviceExpectation, key) -> DeviceExpectation:
    """Inventory model and fingerprint as enrolment would have recorded them."""
    facts = asyncio.run(_collect(phone.endpoint, key, [], []))
    return replace(expected, model=facts.model, build_fingerprint=facts.build_fingerprint)


INDIVIDUAL = DeviceExpectation(role="individual", state="provisioned", approved_apps=(_app("com.whatsapp"),))
BROADCAST = DeviceExpectation(role="broadcast", state="provisioned", approved_apps=(_app("com.whatsapp.w4b"),))

CASES = {
    # profile: (expectation, rules that must fail; every other rule must pass or be not_applicable)
    "samsung-galaxy-s24": (INDIVIDUAL, {"media_retention"}),  # a 40-day-old image in WhatsApp Images
    "google-pixel-9": (replace(INDIVIDUAL, state="approved"), set()),  # approved, app not installed yet
    "motorola-moto-g6": (
        INDIVIDUAL,
        {"min_android_version", "security_patch_max_age_days", "storage_encrypted", "secure_lock_screen",
         "unknown_sources_disallowed", "media_retention"},
    ),
    "rooted-oneplus": (
        replace(INDIVIDUAL, state="registered"),  # never approved, yet WhatsApp Business is on it
        {"security_patch_max_age_days", "not_rooted", "verified_boot_green", "bootloader_locked", "no_test_keys",
         "approved_app_state", "media_retention"},
    ),
    "samsung-galaxy-a12-outdated": (BROADCAST, {"security_patch_max_age_days", "broadcast_purity", "media_retention"}),
}


@pytest.mark.parametrize("profile", sorted(CASES))
def test_shipped_profile_fails_exactly_the_rules_it_should(phone_simulator, adb_key, profile: str) -> None:
    (phone,) = phone_simulator(1, profiles=[profile])
    expected, must_fail = CASES[profile]
    outcomes = _evaluate(phone, adb_key, _with_facts(phone, expected, adb_key))
    assert _fails(outcomes) == must_fail, outcomes
    others = {rule: outcome for rule, (outcome, _) in outcomes.items() if rule not in must_fail}
    assert set(others.values()) <= {"pass", "not_applicable"}, others


def test_role_decides_which_rules_apply(phone_simulator, adb_key) -> None:
    (phone,) = phone_simulator(1, profiles=["samsung-galaxy-s24"])
    individual = _evaluate(phone, adb_key, INDIVIDUAL)
    assert individual["broadcast_purity"][0] == "not_applicable"
    as_broadcast = _evaluate(phone, adb_key, replace(INDIVIDUAL, role="broadcast"))
    outcome, observed = as_broadcast["broadcast_purity"]
    assert outcome == "fail"
    assert "com.microsoft.teams" in observed
    assert "com.google" in observed


def test_identity_swapped_phone_and_os_update(phone_simulator, adb_key) -> None:
    (phone,) = phone_simulator(1, profiles=["google-pixel-9"])
    known = _with_facts(phone, replace(INDIVIDUAL, state="approved"), adb_key)
    updated = _evaluate(phone, adb_key, replace(known, build_fingerprint="google/tokay/tokay:14/OLD/1:user/release-keys"))
    assert updated["identity"][0] == "pass"
    assert updated["identity"][1].startswith("OS updated")
    facts = asyncio.run(_collect(phone.endpoint, adb_key, [], []))
    swapped = evaluate_device(_policy(), facts, replace(known, serial="R5CX41PG0001", endpoint=phone.endpoint), datetime.now(timezone.utc))
    identity = next(r for r in swapped if r.rule == "identity")
    assert identity.outcome == "fail"
    assert "swapped phone" in identity.observed


def test_wrong_signer_on_a_provisioned_phone_fails(phone_simulator, adb_key) -> None:
    (phone,) = phone_simulator(1, profiles=["samsung-galaxy-s24"])
    pinned_elsewhere = replace(INDIVIDUAL, approved_apps=(_app("com.whatsapp", OTHER_CERT),))
    outcome, observed = _evaluate(phone, adb_key, pinned_elsewhere)["approved_app_state"]
    assert outcome == "fail"
    assert "unknown key" in observed
    no_certificates = replace(INDIVIDUAL, approved_apps=(ApprovedApp("com.whatsapp", (WHATSAPP_PIN,), 1),))
    assert _evaluate(phone, adb_key, no_certificates)["approved_app_state"][0] == "error"  # cannot tell: never a pass


def test_a_phone_that_answers_garbage_is_unknown_never_compliant(phone_simulator, adb_key) -> None:
    """Output cut short with noise spliced in: what was lost is an error ("unknown"), never a pass."""
    (phone,) = phone_simulator(1, profiles=["motorola-moto-g6"])
    clean = _evaluate(phone, adb_key, INDIVIDUAL)
    phone.phone.faults.garbage_output = True
    garbled = _evaluate(phone, adb_key, INDIVIDUAL)
    new_passes = {rule for rule, (outcome, _) in garbled.items() if outcome == "pass" and clean[rule][0] != "pass"}
    assert not new_passes, garbled
    assert ("error", "unknown") in set(garbled.values()), garbled
