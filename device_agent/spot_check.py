"""A spot check's evidence snapshot: read a plugged-in phone and send what was found to its open spot check.

1. Read the phone's serial number (ro.serialno: over the adb server a phone may be known by another name).
2. Ask the server for the phone's open spot check: the rules in force and what the inventory expects of the phone
   (GET /api/v1/spot-checks/open?serial=S; a phone with no open spot check is refused there, before anything else).
3. Collect the facts, run the device rules (device_agent.checks.runner), read WhatsApp's storage
   (device_agent.whatsapp_storage: media counts and ages, chat backups, exported chats; never content).
4. Post the snapshot (POST /api/v1/spot-checks/<id>/evidence).

Both calls use an `agent` token, the least that suffices: a snapshot is an observation of a phone, like a sweep's
results, which is what the agent scope is for; a `provision` token could also register phones and take install
grants, which a spot check never needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from device_agent.checks.base import CheckResult, DeviceExpectation
from device_agent.checks.runner import evaluate_device
from device_agent.collect import collect_facts
from device_agent.facts import DeviceFacts
from device_agent.sweep import catalogue_packages
from device_agent.whatsapp_storage import WhatsAppStorage, read_storage
from phonegate.core import device_rules
from phonegate.core.device_rules import parse_device_rules
from phonegate.core.packages import MESSAGING_PACKAGES
from phonegate.core.rules import RulesDocument

SERIAL_TIMEOUT_S = 10.0


@dataclass
class SpotCheckReport:
    """What happened to one phone: the server's answer when the evidence was recorded, or why not."""

    endpoint: str
    serial: str | None = None
    spot_check_id: int | None = None
    failing: list[str] | None = None
    storage: WhatsAppStorage | None = None
    url: str | None = None
    error: Exception | None = None

    def to_json(self) -> dict[str, Any]:
        storage = self.storage
        return {"endpoint": self.endpoint, "serial": self.serial, "spot_check_id": self.spot_check_id,
                "failing_rules": self.failing, "backups": len(storage.backups) if storage else None,
                "exports": len(storage.exports) if storage else None, "url": self.url,
                "error": str(self.error) if self.error else None}


async def record_snapshot(session: Any, client: Any, endpoint: str, *, timeout_s: float = 30) -> SpotCheckReport:
    """Read the phone on `session` (a connected device_agent.adb PhoneSession) and post its snapshot with `client`
    (device_agent.client.PhoneGateClient). Errors of the phone or the server are raised for the caller to report."""
    report = SpotCheckReport(endpoint)
    report.serial = await phone_serial(session)
    plan = client.request_json("GET", "/api/v1/spot-checks/open", params={"serial": report.serial})
    report.spot_check_id = int(plan["spot_check_id"])
    rules = parse_device_rules(plan["rules"]["document"])
    expected = DeviceExpectation.from_json(plan["device"])
    packages = catalogue_packages(rules, expected) or list(MESSAGING_PACKAGES)
    facts = await collect_facts(session, packages, timeout_s=timeout_s, known_certificates=expected.certificates)
    now = facts.collected_at or datetime.now(timezone.utc)
    results = evaluate_device(rules, facts, expected, now)
    report.storage = await read_storage(session, facts, media_limit(rules), timeout_s=timeout_s)
    snapshot = build_snapshot(report.serial, facts, results, report.storage, plan["rules"].get("version"))
    answer = client.request_json("POST", f"/api/v1/spot-checks/{report.spot_check_id}/evidence", json=snapshot)
    report.failing = [result.rule for result in results if result.outcome == "fail"]
    report.url = answer.get("url")
    return report


async def phone_serial(session: Any) -> str:
    text = await session.shell("getprop ro.serialno", timeout_s=SERIAL_TIMEOUT_S)
    serial = (text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)).strip()
    if not serial or len(serial) > 128 or not serial.isprintable():
        from phonegate.core.errors import DeviceUnreachable

        raise DeviceUnreachable("The phone did not give a readable serial number (ro.serialno).")
    return serial


def media_limit(rules: RulesDocument) -> int | None:
    config = rules.rules.get(device_rules.MEDIA_RETENTION.rule)
    if config is None or not config.enabled:
        return None
    return int(device_rules.MEDIA_RETENTION.with_defaults(config.params)["max_age_days"])


def build_snapshot(serial: str, facts: DeviceFacts, results: list[CheckResult], storage: WhatsAppStorage,
                   rules_version: int | None) -> dict[str, Any]:
    """The JSON the server stores (server/api/spot_checks.py's SnapshotSchema): a summary, not the raw facts."""
    return {
        "serial": serial,
        "rules_version": rules_version,
        "facts": {
            "collected_at": (facts.collected_at or datetime.now(timezone.utc)).isoformat(),
            "manufacturer": facts.manufacturer, "model": facts.model, "android_release": facts.android_release,
            "sdk": facts.sdk, "security_patch": facts.security_patch.isoformat() if facts.security_patch else None,
            "build_fingerprint": facts.build_fingerprint, "encrypted": facts.encrypted, "secure_lock": facts.secure_lock,
            "root": {"su_paths": facts.root.su_paths, "test_keys": facts.root.test_keys,
                     "debuggable": facts.root.debuggable, "verified_boot_state": facts.root.verified_boot_state,
                     "bootloader_locked": facts.root.bootloader_locked},
            "account_types": facts.account_types,
            "packages": len(facts.packages),
            "messaging_apps": [{"package": app.package, "version_name": app.version_name, "version_code": app.version_code}
                               for app in sorted(facts.apps.values(), key=lambda a: a.package)],
        },
        "compliance": [{"rule": r.rule, "outcome": r.outcome, "severity": r.severity, "observed": r.observed[:1000]}
                       for r in results],
        "whatsapp": storage.to_json(),
        "problems": (facts.problems + storage.problems)[:50],
    }
