"""The one suite every compliance check passes: never raises, never passes the unknown, names its own rule,
gives JSON evidence. New checks join automatically through device_agent.checks.registry."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_agent.checks import ALL_CHECKS, ApprovedApp, Check, DeviceExpectation
from device_agent.checks.base import OUTCOMES
from device_agent.facts import AppInfo, DeviceFacts, MediaFile, PackageEntry, RootIndicators
from phonegate.core.device_rules import parse_device_rules
from phonegate.core.rules import default_rules_text

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
CHECK_IDS = [check.rule for check in ALL_CHECKS]

EXPECTATIONS = [
    DeviceExpectation(),  # a bare --tcp phone the server does not know
    DeviceExpectation(
        serial="S1",
        device_id=1,
        role="individual",
        state="provisioned",
        model="SM-S921B",
        build_fingerprint="a/b/c:14/X/1:user/release-keys",
        approved_apps=(ApprovedApp("com.whatsapp", ("ab" * 32,), 100),),
    ),
    DeviceExpectation(serial="S2", device_id=2, role="broadcast", state="registered"),
    DeviceExpectation(serial="S3", device_id=3, role="individual", state="provisioned", lab_phone=True),
]

text = st.text(max_size=20)
maybe_text = st.none() | text
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc))
packages = st.dictionaries(
    st.sampled_from(["android", "com.whatsapp", "com.whatsapp.w4b", "org.telegram.messenger", "x.y"]) | text,
    st.builds(PackageEntry, name=text, version_code=st.none() | st.integers(), system=st.none() | st.booleans()),
    max_size=6,
)
facts_strategy = st.builds(
    DeviceFacts,
    serial=st.none() | st.sampled_from(["S1", "S2"]) | text,
    manufacturer=maybe_text,
    model=st.none() | st.just("SM-S921B") | text,
    android_release=maybe_text,
    sdk=st.none() | st.integers(min_value=-5, max_value=100),
    security_patch=st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
    build_fingerprint=maybe_text,
    properties=st.dictionaries(text, text, max_size=4),
    packages=packages,
    apps=st.dictionaries(
        st.sampled_from(["com.whatsapp", "com.whatsapp.w4b"]),
        st.builds(
            AppInfo,
            package=text,
            version_code=st.none() | st.integers(),
            signer_sha256=st.lists(st.sampled_from(["ab" * 32, "cd" * 32]) | text, max_size=2),
        ),
        max_size=2,
    ),
    settings=st.dictionaries(
        st.sampled_from(["secure", "global", "system"]),
        st.dictionaries(st.sampled_from(["install_non_market_apps", "x"]), st.sampled_from(["0", "1", "", "garbage"])),
        max_size=3,
    ),
    encrypted=st.none() | st.booleans(),
    secure_lock=st.none() | st.booleans(),
    root=st.builds(
        RootIndicators,
        su_paths=st.none() | st.lists(text, max_size=2),
        test_keys=st.none() | st.booleans(),
        debuggable=st.none() | st.booleans(),
        verified_boot_state=st.none() | st.sampled_from(["green", "yellow", "orange", "red", "", " GREEN "]),
        bootloader_locked=st.none() | st.booleans(),
    ),
    account_types=st.none() | st.lists(text, max_size=3),
    media_files=st.none()
    | st.lists(st.builds(MediaFile, path=text, modified_at=moments | st.datetimes(min_value=datetime(2000, 1, 1))), max_size=3),
    adb_over_network=st.none() | st.booleans(),
    adb_network_evidence=st.dictionaries(
        st.sampled_from(["service.adb.tcp.port", "persist.adb.tcp.port", "persist.adb.tls_server.enable",
                         "service.adb.tls.port", "settings global adb_wifi_enabled"]) | text,
        st.none() | st.sampled_from(["5555", "-1", "0", "", "1", " 37099", "99999999999999"]) | text,
        max_size=4),
)


@pytest.fixture(params=ALL_CHECKS, ids=CHECK_IDS)
def check(request: pytest.FixtureRequest) -> Check:
    return request.param


def _assert_well_formed(check: Check, result) -> None:
    assert result.rule == check.rule
    assert result.outcome in OUTCOMES
    assert isinstance(result.observed, str)
    assert result.observed
    json.dumps(result.evidence)  # the server stores it as JSON


@pytest.mark.parametrize("expected", EXPECTATIONS, ids=["unknown-phone", "provisioned", "registered-broadcast", "lab-phone"])
def test_empty_facts_are_never_a_pass(check: Check, expected: DeviceExpectation) -> None:
    result = check.evaluate(DeviceFacts(), expected, check.with_defaults({}), NOW)
    _assert_well_formed(check, result)
    assert result.outcome in ("error", "not_applicable")
    if result.outcome == "error":
        assert result.observed == "unknown"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=facts_strategy, expected=st.sampled_from(EXPECTATIONS), days=st.integers(min_value=-3, max_value=3))
def test_never_raises_on_generated_facts(check: Check, facts: DeviceFacts, expected: DeviceExpectation, days: int) -> None:
    result = check.evaluate(facts, expected, check.with_defaults({}), NOW + timedelta(days=days))
    _assert_well_formed(check, result)


def test_every_check_is_in_the_default_policy(check: Check) -> None:
    policy = parse_device_rules(default_rules_text())
    assert check.rule in policy.rules
    assert policy.rules[check.rule].evaluated_by == "device"
    assert set(policy.rules[check.rule].params) == {param.name for param in check.params}


def test_rule_ids_are_unique_and_short() -> None:
    assert len(set(CHECK_IDS)) == len(CHECK_IDS)
    assert all(len(rule) <= 64 and rule.isidentifier() for rule in CHECK_IDS)  # the results table's rule column
