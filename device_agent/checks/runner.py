"""Run every enabled device rule of a rules document over one phone's facts."""

from __future__ import annotations

import logging
from datetime import datetime

from device_agent.checks.base import CheckResult, DeviceExpectation
from device_agent.checks.registry import CHECKS
from device_agent.facts import DeviceFacts
from phonegate.core.rules import RulesDocument

log = logging.getLogger(__name__)


def evaluate_device(rules: RulesDocument, facts: DeviceFacts, expected: DeviceExpectation, now: datetime) -> list[CheckResult]:
    """One result per enabled device rule; a rule for another role is not_applicable, a crashing check is an error."""
    results: list[CheckResult] = []
    for config in rules.device_rules():
        check = CHECKS[config.rule]
        if expected.role not in config.roles:
            result = check.not_applicable(f"not a rule for {expected.role} phones")
        else:
            try:
                result = check.evaluate(facts, expected, check.with_defaults(config.params), now)
            except Exception as exc:  # a bug in one check must not hide the other rules' results
                log.warning("check %s raised %s", config.rule, type(exc).__name__, exc_info=True)
                result = CheckResult(config.rule, "error", f"check failed ({type(exc).__name__})", {})
        result.severity = config.severity
        results.append(result)
    return results


def error_results(rules: RulesDocument, expected: DeviceExpectation, observed: str) -> list[CheckResult]:
    """The phone could not be read (unreachable, timed out): every applicable rule is an error with the reason."""
    results = []
    for config in rules.device_rules():
        if expected.role in config.roles:
            result = CheckResult(config.rule, "error", observed, {"phone_error": observed})
        else:
            result = CheckResult(config.rule, "not_applicable", f"not a rule for {expected.role} phones", {})
        result.severity = config.severity
        results.append(result)
    return results
