"""Sideloading: may apps from outside an app store be installed?

What can be seen over ADB without root: the legacy `install_non_market_apps` switch in settings `secure`
(Android <= 7) and `global` (some vendors keep it there). From Android 8 (SDK 26) the switch is gone and each
app holds its own "install unknown apps" grant (REQUEST_INSTALL_PACKAGES app-op), which this check does NOT
read: on those phones a pass only means the legacy switch is off, and the evidence says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules

SETTING = "install_non_market_apps"
PER_APP_GRANTS_SDK = 26
LIMITATION = "Android 8+: per-app 'install unknown apps' grants are not visible over ADB and were not checked"


class UnknownSourcesDisallowed(Check):
    spec = device_rules.UNKNOWN_SOURCES_DISALLOWED

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        namespaces = [ns for ns in ("secure", "global") if ns in facts.settings]
        if not namespaces:
            return self.unknown("settings")
        values = {ns: facts.settings[ns].get(SETTING) for ns in namespaces}
        evidence: dict[str, Any] = {"settings": values, "sdk": facts.sdk}
        if facts.sdk is None or facts.sdk >= PER_APP_GRANTS_SDK:
            evidence["limitation"] = LIMITATION
        enabled = [ns for ns, value in values.items() if value is not None and value.strip() == "1"]
        if enabled:
            return self.failed(f"{SETTING}=1 in {', '.join(enabled)}", **evidence)
        if facts.sdk is not None and facts.sdk < PER_APP_GRANTS_SDK and all(v is None for v in values.values()):
            # Before Android 8 the switch always exists; missing means the settings dump was incomplete.
            return self.unknown(SETTING, **evidence)
        if facts.sdk is None or facts.sdk >= PER_APP_GRANTS_SDK:
            return self.passed("legacy switch off; per-app grants not checked", **evidence)
        return self.passed("off", **evidence)
