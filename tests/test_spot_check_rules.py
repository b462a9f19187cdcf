"""The rules document's `spot_checks` section: defaults when it is left out, every field checked and named when
wrong, the sample size rounded up, and the period labels."""

from __future__ import annotations

from datetime import date

import pytest

from phonegate.core.device_rules import parse_device_rules
from phonegate.core.rules import RulesInvalid, default_rules_text, parse_rules
from phonegate.core.spot_check_rules import SpotCheckRules
from server.services.compliance.server_rules import KNOWN_RULES

EMPTY = "schema: 1\nrules: {}\n"


def test_the_shipped_document_sets_ten_percent_a_quarter():
    rules = parse_rules(default_rules_text(), KNOWN_RULES).spot_checks
    assert rules == SpotCheckRules(sample_rate_percent=10, period="quarter", bring_within_days=14)


def test_a_document_without_the_section_gets_the_defaults():
    assert parse_rules(EMPTY, KNOWN_RULES).spot_checks == SpotCheckRules()


def test_the_agent_reads_the_section_too():
    assert parse_device_rules(EMPTY + "spot_checks: {period: month}\n").spot_checks.period == "month"


@pytest.mark.parametrize("section, where", [
    ("{sample_rate_percent: 101}", "spot_checks.sample_rate_percent"),
    ("{sample_rate_percent: ten}", "spot_checks.sample_rate_percent"),
    ("{sample_rate_percent: true}", "spot_checks.sample_rate_percent"),
    ("{period: fortnight}", "spot_checks.period"),
    ("{bring_within_days: 0}", "spot_checks.bring_within_days"),
    ("{bring_within_days: 400}", "spot_checks.bring_within_days"),
    ("{sample_rate: 10}", "spot_checks.sample_rate"),
    ("[10]", "spot_checks"),
])
def test_a_wrong_section_is_refused_naming_the_field(section, where):
    with pytest.raises(RulesInvalid) as refused:
        parse_rules(EMPTY + f"spot_checks: {section}\n", KNOWN_RULES)
    assert where in refused.value.errors


@pytest.mark.parametrize("rate, population, size", [(10, 0, 0), (10, 1, 1), (10, 10, 1), (10, 11, 2), (0, 50, 0),
                                                    (100, 7, 7), (33, 3, 1)])
def test_the_sample_size_is_the_rate_rounded_up(rate, population, size):
    assert SpotCheckRules(sample_rate_percent=rate).sample_size(population) == size


@pytest.mark.parametrize("period, label", [("quarter", "2026-Q4"), ("month", "2026-11"), ("year", "2026")])
def test_period_labels(period, label):
    assert SpotCheckRules(period=period).period_of(date(2026, 11, 30)) == label
