"""Is the operating system the manufacturer's, unmodified? Four rules, so each can be tuned or switched off alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules


class NotRooted(Check):
    spec = device_rules.NOT_ROOTED

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        su_paths = facts.root.su_paths
        debuggable = facts.root.debuggable
        if su_paths:
            return self.failed(f"su found: {', '.join(sorted(su_paths))}", su_paths=sorted(su_paths), debuggable=debuggable)
        if params["debuggable_counts_as_rooted"] and debuggable:
            return self.failed("ro.debuggable=1", su_paths=su_paths, debuggable=True)
        if su_paths is None:
            return self.unknown("su_paths", debuggable=debuggable)
        return self.passed("no su binary", su_paths=[], debuggable=debuggable)


class VerifiedBootGreen(Check):
    spec = device_rules.VERIFIED_BOOT_GREEN

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        state = facts.root.verified_boot_state
        if state is None:
            return self.unknown("verified_boot_state")
        state = state.strip().lower()
        if state == "green":
            return self.passed("green", verified_boot_state=state)
        return self.failed(state or "empty", verified_boot_state=state)


class BootloaderLocked(Check):
    spec = device_rules.BOOTLOADER_LOCKED

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        locked = facts.root.bootloader_locked
        if locked is None:
            return self.unknown("bootloader_locked")
        return self.passed("locked") if locked else self.failed("unlocked")


class NoTestKeys(Check):
    spec = device_rules.NO_TEST_KEYS

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        test_keys = facts.root.test_keys
        tags = facts.properties.get("ro.build.tags")
        if test_keys is None:
            return self.unknown("test_keys", build_tags=tags)
        return self.failed("test-keys", build_tags=tags) if test_keys else self.passed("release-keys", build_tags=tags)
