"""Operating-system currency: Android version and security patch age."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules


class MinAndroidVersion(Check):
    spec = device_rules.MIN_ANDROID_VERSION

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if facts.sdk is None:
            return self.unknown("sdk", android_release=facts.android_release)
        observed = f"Android {facts.android_release or '?'} (SDK {facts.sdk})"
        evidence = {"sdk": facts.sdk, "android_release": facts.android_release, "min_sdk": params["min_sdk"]}
        if facts.sdk < params["min_sdk"]:
            return self.failed(observed, **evidence)
        return self.passed(observed, **evidence)


class SecurityPatchAge(Check):
    spec = device_rules.SECURITY_PATCH_AGE

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if facts.security_patch is None:
            return self.unknown("security_patch")
        age_days = (now.date() - facts.security_patch).days
        observed = f"{facts.security_patch.isoformat()} ({age_days} days old)"
        evidence = {"security_patch": facts.security_patch, "age_days": age_days, "max_age_days": params["max_age_days"]}
        if age_days > params["max_age_days"]:
            return self.failed(observed, **evidence)
        return self.passed(observed, **evidence)
