"""Which apps are on the phone: a disallowed list, and the approved messaging app's presence and integrity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import ApprovedApp, Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from phonegate.core import device_rules
from phonegate.core.lifecycle import APP_INSTALLED, HOLDS_APPROVAL


def packages_known(facts: DeviceFacts) -> bool:
    """An empty package list means collection failed: every Android phone has at least the framework package."""
    return bool(facts.packages)


class DisallowedApps(Check):
    spec = device_rules.DISALLOWED_APPS

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if not packages_known(facts):
            return self.unknown("packages")
        found = sorted(set(params["packages"]) & set(facts.packages))
        if found:
            return self.failed(f"installed: {', '.join(found)}", found=found)
        return self.passed("none installed", checked=len(params["packages"]))


class ApprovedAppState(Check):
    """Provisioned phones carry the approved app, signed by a pinned key, at least the catalogue's version.

    Phones that were never approved (or were suspended, rejected, retired) must not carry it: finding it there
    is an unauthorised install. `watch_packages` names packages to look for even when the catalogue is empty.
    """

    spec = device_rules.APPROVED_APP_STATE

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        if expected.state is None:
            return self.not_applicable("phone not in the inventory")
        if not packages_known(facts):
            return self.unknown("packages")
        approved = {app.package: app for app in expected.approved_apps}
        watched = sorted(set(params["watch_packages"]) | set(approved))
        present = [name for name in watched if name in facts.packages]
        if expected.state not in HOLDS_APPROVAL:
            if present:
                return self.failed(
                    f"unauthorised install: {', '.join(present)} on a {expected.state} phone", present=present, state=expected.state
                )
            return self.passed(f"absent ({expected.state})", state=expected.state)
        if not approved:
            if expected.state not in APP_INSTALLED and not present:
                return self.passed(f"not yet installed ({expected.state})")
            return self.unknown("approved_apps", note="the server sent no catalogue pins for this phone's role")
        problems: list[str] = []
        details: dict[str, Any] = {}
        for app in approved.values():
            problem, detail = self._inspect(app, facts, must_have=expected.state in APP_INSTALLED)
            details[app.package] = detail
            if problem == "unknown":
                return self.unknown(f"apps.{app.package}", apps=details)
            if problem:
                problems.append(problem)
        # Only the approved app, never a look-alike from the watch list (e.g. the business app on an individual phone).
        strays = [name for name in present if name not in approved]
        if strays:
            problems.append(f"unauthorised install: {', '.join(strays)}")
        if problems:
            return self.failed("; ".join(problems), apps=details, strays=strays)
        installed = [name for name in approved if name in facts.packages]
        if not installed:
            return self.passed(f"not yet installed ({expected.state})", apps=details)
        versions = ", ".join(f"{name} {details[name].get('version_code')}" for name in installed)
        return self.passed(f"genuine: {versions}", apps=details)

    @staticmethod
    def _inspect(app: ApprovedApp, facts: DeviceFacts, *, must_have: bool) -> tuple[str | None, dict[str, Any]]:
        if app.package not in facts.packages:
            return (f"{app.package} missing" if must_have else None), {"installed": False}
        info = facts.apps.get(app.package)
        if info is None:
            return "unknown", {"installed": True}
        version_code = info.version_code if info.version_code is not None else facts.packages[app.package].version_code
        signers = [s.lower() for s in info.signer_sha256]
        hashcodes = list(getattr(info, "signer_hashcodes", []) or [])
        detail = {"installed": True, "version_code": version_code, "signer_sha256": signers, "signer_hashcodes": hashcodes}
        if not set(signers) & set(app.signer_sha256):
            # No pinned signer recognised. With the pins' certificates known, a signer we could not match is
            # another key; without them (or without any signer shown) we cannot tell, so we do not pass.
            if signers or (hashcodes and app.certificates):
                return f"{app.package} signed by an unknown key", detail
            return "unknown", detail
        if app.min_version_code is not None:
            if version_code is None:
                return "unknown", detail
            if version_code < app.min_version_code:
                return f"{app.package} version {version_code} older than {app.min_version_code}", detail
        return None, detail
