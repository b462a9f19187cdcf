"""Is this the phone the inventory says is at this endpoint?

A changed serial at the same endpoint is a swapped phone (fail). A changed model is a different phone too.
A changed build fingerprint with the same serial is an OS update: it passes, and `observed` says so, so the
server can record the new fingerprint and the history shows when the update happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules


class Identity(Check):
    spec = device_rules.IDENTITY

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if expected.serial is None:
            return self.not_applicable("phone not in the inventory")
        if facts.serial is None:
            return self.unknown("serial")
        evidence: dict[str, Any] = {"expected_serial": expected.serial, "serial": facts.serial}
        if facts.serial != expected.serial:
            return self.failed(f"swapped phone: serial {facts.serial}, expected {expected.serial}", endpoint=expected.endpoint, **evidence)
        if expected.model is not None:
            if facts.model is None:
                return self.unknown("model", **evidence)
            evidence.update(expected_model=expected.model, model=facts.model)
            if facts.model != expected.model:
                return self.failed(f"model {facts.model}, expected {expected.model}", **evidence)
        if expected.build_fingerprint is not None:
            if facts.build_fingerprint is None:
                return self.unknown("build_fingerprint", **evidence)
            if facts.build_fingerprint != expected.build_fingerprint:
                evidence.update(
                    os_updated=True, previous_fingerprint=expected.build_fingerprint, build_fingerprint=facts.build_fingerprint
                )
                return self.passed(f"OS updated: {facts.build_fingerprint}", **evidence)
        evidence["build_fingerprint"] = facts.build_fingerprint
        return self.passed("matches inventory", **evidence)
