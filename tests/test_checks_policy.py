"""The compliance rules document: the shipped default is valid, and mistakes are refused by rule and field."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml

from device_agent.checks import CHECKS, DeviceExpectation
from device_agent.checks.runner import error_results, evaluate_device
from device_agent.compliance_policy import SERVER_RULES, PolicyInvalid, default_policy_text, load_default_policy, parse_policy
from device_agent.facts import DeviceFacts
from phonegate.errors import BadInput


def test_default_document_lists_every_rule_and_fills_defaults() -> None:
    policy = load_default_policy()
    assert set(policy.rules) == set(CHECKS) | set(SERVER_RULES)
    assert {rule.rule for rule in policy.server_rules()} == {"acknowledgement_current", "training_current", "seen_recently"}
    purity = policy.rules["broadcast_purity"]
    assert purity.roles == ("broadcast",) and purity.params["allowed_user_apps"] == []
    assert policy.rules["identity"].on_failure.suspend is True
    assert policy.rules["media_retention"].on_failure.escalate_after_days is None


def _document(**rule_settings) -> str:
    data = yaml.safe_load(default_policy_text())
    data["rules"]["min_android_version"] = rule_settings
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"enabeld": True}, "rules.min_android_version.enabeld", "unknown key"),
        ({"enabled": "yes please"}, "rules.min_android_version.enabled", "true or false"),
        ({"severity": "urgent"}, "rules.min_android_version.severity", "low, medium, high, critical"),
        ({"roles": ["manager"]}, "rules.min_android_version.roles", "individual, broadcast"),
        ({"grace_days": -1}, "rules.min_android_version.grace_days", "0 or more"),
        ({"grace_days": True}, "rules.min_android_version.grace_days", "whole number"),
        ({"params": {"min_sdk": "30"}}, "rules.min_android_version.params.min_sdk", "whole number"),
        ({"params": {"min_skd": 30}}, "rules.min_android_version.params.min_skd", "unknown parameter (this rule takes: min_sdk)"),
        ({"on_failure": {"suspend": "no"}}, "rules.min_android_version.on_failure.suspend", "true or false"),
        ({"on_failure": {"page_someone": True}}, "rules.min_android_version.on_failure.page_someone", "unknown key"),
        ({"on_failure": {"escalate_after_days": 1.5}}, "rules.min_android_version.on_failure.escalate_after_days", "whole number"),
    ],
)
def test_mistakes_are_refused_naming_rule_and_field(settings: dict, field: str, words: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(_document(**settings))
    assert field in caught.value.errors
    assert words in caught.value.errors[field][0]
    assert field in str(caught.value)
    assert isinstance(caught.value, BadInput)  # exit code 2 from the CLI


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("schema: 1\nrules:\n  not_a_rule: {}\n", "rules.not_a_rule"),
        ("schema: 2\nrules: {}\n", "schema"),
        ("schema: 1\nrules: []\n", "rules"),
        ("schema: 1\nrules: {}\nextra: 1\n", "extra"),
        ("- just\n- a list\n", "document"),
        ("schema: 1\nrules: {identity: [1, 2]}\n", "rules.identity"),
        ("schema: 1\nrules: {disallowed_apps: {params: {packages: [1, '']}}}\n", "rules.disallowed_apps.params.packages"),
        ("schema: 1\nrules: {a: [1\n", "line 3"),
    ],
)
def test_malformed_documents_are_refused(text: str, field: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(text)
    assert field in caught.value.errors


def test_a_minimal_document_switches_off_what_it_does_not_list() -> None:
    policy = parse_policy("schema: 1\nrules:\n  storage_encrypted:\n  training_current: {params: {max_age_days: 180}}\n")
    assert [rule.rule for rule in policy.device_rules()] == ["storage_encrypted"]
    assert policy.rules["training_current"].params == {"max_age_days": 180}
    assert policy.rules["storage_encrypted"].severity == CHECKS["storage_encrypted"].default_severity


def test_runner_applies_roles_and_enabled_and_attaches_severity() -> None:
    policy = parse_policy(
        "schema: 1\nrules:\n  broadcast_purity: {severity: low}\n  storage_encrypted: {}\n  secure_lock_screen: {enabled: false}\n"
    )
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    results = evaluate_device(policy, DeviceFacts(encrypted=True), DeviceExpectation(serial="S", role="individual"), now)
    by_rule = {result.rule: result for result in results}
    assert set(by_rule) == {"broadcast_purity", "storage_encrypted"}
    assert by_rule["broadcast_purity"].outcome == "not_applicable" and by_rule["broadcast_purity"].severity == "low"
    assert by_rule["storage_encrypted"].outcome == "pass" and by_rule["storage_encrypted"].severity == "critical"
    timed_out = error_results(policy, DeviceExpectation(role="broadcast"), "timed out after 2 s")
    assert {(r.rule, r.outcome) for r in timed_out} == {("broadcast_purity", "error"), ("storage_encrypted", "error")}
