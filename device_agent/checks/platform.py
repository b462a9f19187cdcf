"""Operating-system currency: Android version and security patch age."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation, Param
from device_agent.facts import DeviceFacts


class MinAndroidVersion(Check):
    rule = "min_android_version"
    title = "Android version is still supported"
    default_severity = "high"
    params = (Param("min_sdk", "int", 30, "lowest API level allowed (30 = Android 11)", minimum=1),)

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if facts.sdk is None:
            return self.unknown("sdk", android_release=facts.android_release)
        observed = f"Android {facts.android_release or '?'} (SDK {facts.sdk})"
        evidence = {"sdk": facts.sdk, "android_release": facts.android_release, "min_sdk": params["min_sdk"]}
        if facts.sdk < params["min_sdk"]:
            return self.failed(observed, **evidence)
        return self.passed(observed, **evidence)


class SecurityPatchAge(Check):
    rule = "security_patch_max_age_days"
    title = "Security patch is recent"
    default_severity = "high"
    params = (Param("max_age_days", "int", 90, "oldest security patch level allowed, in days", minimum=0),)

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if facts.security_patch is None:
            return self.unknown("security_patch")
        age_days = (now.date() - facts.security_patch).days
        observed = f"{facts.security_patch.isoformat()} ({age_days} days old)"
        evidence = {"security_patch": facts.security_patch, "age_days": age_days, "max_age_days": params["max_age_days"]}
        if age_days > params["max_age_days"]:
            return self.failed(observed, **evidence)
        return self.passed(observed, **evidence)
