"""Is the operating system the manufacturer's, unmodified? Four rules, so each can be tuned or switched off alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation, Param
from device_agent.facts import DeviceFacts


class NotRooted(Check):
    rule = "not_rooted"
    title = "No su binary (not rooted)"
    default_severity = "critical"
    params = (
        Param("debuggable_counts_as_rooted", "bool", True, "a user build with ro.debuggable=1 gives adb root: count it"),
    )

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
    rule = "verified_boot_green"
    title = "Verified boot state is green"
    default_severity = "high"

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        state = facts.root.verified_boot_state
        if state is None:
            return self.unknown("verified_boot_state")
        state = state.strip().lower()
        if state == "green":
            return self.passed("green", verified_boot_state=state)
        return self.failed(state or "empty", verified_boot_state=state)


class BootloaderLocked(Check):
    rule = "bootloader_locked"
    title = "Bootloader is locked"
    default_severity = "high"

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        locked = facts.root.bootloader_locked
        if locked is None:
            return self.unknown("bootloader_locked")
        return self.passed("locked") if locked else self.failed("unlocked")


class NoTestKeys(Check):
    rule = "no_test_keys"
    title = "Build is signed with release keys"
    default_severity = "high"

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        test_keys = facts.root.test_keys
        tags = facts.properties.get("ro.build.tags")
        if test_keys is None:
            return self.unknown("test_keys", build_tags=tags)
        return self.failed("test-keys", build_tags=tags) if test_keys else self.passed("release-keys", build_tags=tags)
