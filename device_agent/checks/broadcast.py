"""A service's Broadcast phone does one job: only allow-listed user apps, no personal accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.apps import packages_known
from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules


class BroadcastPurity(Check):
    spec = device_rules.BROADCAST_PURITY

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if not packages_known(facts):
            return self.unknown("packages")
        if all(entry.system is None for entry in facts.packages.values()):
            return self.unknown("packages.system", note="cannot tell preinstalled from user-installed packages")
        if facts.account_types is None:
            return self.unknown("account_types")
        allowed_apps = set(params["allowed_user_apps"]) | {app.package for app in expected.approved_apps}
        user_apps = sorted(name for name, entry in facts.packages.items() if entry.system is False)
        extra_apps = [name for name in user_apps if name not in allowed_apps]
        extra_accounts = sorted(set(facts.account_types) - set(params["allowed_account_types"]))
        evidence = {"extra_apps": extra_apps, "extra_account_types": extra_accounts, "user_app_count": len(user_apps)}
        problems = []
        if extra_apps:
            problems.append(f"other apps: {', '.join(extra_apps)}")
        if extra_accounts:
            problems.append(f"other account types: {', '.join(extra_accounts)}")
        if problems:
            return self.failed("; ".join(problems), **evidence)
        return self.passed("only allowed apps and accounts", **evidence)
