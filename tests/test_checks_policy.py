"""The compliance rules document: the shipped default is valid, and mistakes are refused by rule and field."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml

from device_agent.checks import CHECKS, DeviceExpectation
from device_agent.checks.runner import error_results, evaluate_device
from device_agent.facts import DeviceFacts
from phonegate.core.device_rules import DEVICE_RULES, parse_device_rules
from phonegate.core.errors import BadInput
from phonegate.core.rules import RulesInvalid, default_rules_text, parse_rules
from server.services.compliance.server_rules import KNOWN_RULES, SERVER_RULES


def parse_policy(text: str):
    """What the server does with a document: validated against every rule there is."""
    return parse_rules(text, KNOWN_RULES)


def load_default_policy():
    return parse_policy(default_rules_text())


def test_default_document_lists_every_rule_and_fills_defaults() -> None:
    policy = load_default_policy()
    assert set(policy.rules) == set(CHECKS) | set(SERVER_RULES)
    assert {rule.rule for rule in policy.server_rules()} == {"acknowledgement_current", "training_current", "seen_recently", "checked_in"}
    purity = policy.rules["broadcast_purity"]
    assert purity.roles == ("broadcast",)
    assert purity.params["allowed_user_apps"] == []
    assert policy.rules["identity"].on_failure.suspend is True
    assert policy.rules["media_retention"].on_failure.escalate_after_days is None


def _document(**rule_settings) -> str:
    data = yaml.safe_load(default_rules_text())
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
    with pytest.raises(RulesInvalid) as caught:
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
    with pytest.raises(RulesInvalid) as caught:
        parse_policy(text)
    assert field in caught.value.errors


def test_a_minimal_document_switches_off_what_it_does_not_list() -> None:
    policy = parse_policy("schema: 1\nrules:\n  storage_encrypted:\n  seen_recently: {params: {max_days: 3}}\n")
    assert [rule.rule for rule in policy.device_rules()] == ["storage_encrypted"]
    assert policy.rules["seen_recently"].params == {"max_days": 3}
    assert policy.rules["storage_encrypted"].severity == CHECKS["storage_encrypted"].default_severity


def test_training_max_age_days_is_accepted_from_older_versions_but_has_no_effect() -> None:
    """Training validity is one setting (PHONEGATE_TRAINING_VALID_DAYS); stored documents that name the old
    parameter still parse, so sweeps under them keep working."""
    policy = parse_policy("schema: 1\nrules:\n  training_current: {params: {max_age_days: 180}}\n")
    assert policy.rules["training_current"].params == {}


def test_the_old_parameter_is_still_type_checked() -> None:
    with pytest.raises(RulesInvalid) as caught:
        parse_policy("schema: 1\nrules:\n  training_current: {params: {max_age_days: soon}}\n")
    assert "rules.training_current.params.max_age_days" in caught.value.errors


def test_the_agent_reads_its_device_rules_and_leaves_the_servers_to_the_server() -> None:
    rules = parse_device_rules(default_rules_text())
    assert set(rules.rules) == set(DEVICE_RULES)


def test_the_agent_still_refuses_a_bad_device_rule() -> None:
    with pytest.raises(RulesInvalid) as caught:
        parse_device_rules("schema: 1\nrules:\n  storage_encrypted: {severity: urgent}\n  seen_recently: {}\n")
    assert list(caught.value.errors) == ["rules.storage_encrypted.severity"]


def test_every_check_takes_its_metadata_from_the_core_spec() -> None:
    assert {rule: check.spec for rule, check in CHECKS.items()} == DEVICE_RULES


def test_runner_applies_roles_and_enabled_and_attaches_severity() -> None:
    policy = parse_policy(
        "schema: 1\nrules:\n  broadcast_purity: {severity: low}\n  storage_encrypted: {}\n  secure_lock_screen: {enabled: false}\n"
    )
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    results = evaluate_device(policy, DeviceFacts(encrypted=True), DeviceExpectation(serial="S", role="individual"), now)
    by_rule = {result.rule: result for result in results}
    assert set(by_rule) == {"broadcast_purity", "storage_encrypted"}
    assert by_rule["broadcast_purity"].outcome == "not_applicable"
    assert by_rule["broadcast_purity"].severity == "low"
    assert by_rule["storage_encrypted"].outcome == "pass"
    assert by_rule["storage_encrypted"].severity == "critical"
    timed_out = error_results(policy, DeviceExpectation(role="broadcast"), "timed out after 2 s")
    assert {(r.rule, r.outcome) for r in timed_out} == {("broadcast_purity", "error"), ("storage_encrypted", "error")}
