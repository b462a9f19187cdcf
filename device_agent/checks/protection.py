"""Data at rest: storage encryption and a secure lock screen (PIN, pattern or password)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules


class StorageEncrypted(Check):
    spec = device_rules.STORAGE_ENCRYPTED

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        crypto = {key: facts.properties.get(key) for key in ("ro.crypto.state", "ro.crypto.type") if key in facts.properties}
        if facts.encrypted is None:
            return self.unknown("encrypted", **crypto)
        if facts.encrypted:
            return self.passed("encrypted", **crypto)
        return self.failed("not encrypted", **crypto)


class SecureLockScreen(Check):
    spec = device_rules.SECURE_LOCK_SCREEN

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if facts.secure_lock is None:
            return self.unknown("secure_lock")
        if facts.secure_lock:
            return self.passed("secure lock set")
        return self.failed("no secure lock (swipe or none)")
