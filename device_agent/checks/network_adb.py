"""ADB over the network: anyone on the same network (or anyone the phone's Wi-Fi reaches) can ask for a shell.

Over USB a person needs the phone in hand, unlocked, and a computer it trusts; `adb tcpip` (a TCP port) or
Wireless debugging takes the cable away, so a work phone fails this rule while either is on. Lab and dock phones
(registered as such on the server: `phonegate device mark-lab`) are driven over the network on purpose, so the
rule does not apply to them. The fact and its evidence come from parsers.adb_exposure, read as adbd reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from device_agent.checks.base import Check, CheckResult, DeviceExpectation
from device_agent.facts import DeviceFacts
from device_agent.parsers.adb_exposure import tcp_port, wireless_debugging_on
from phonegate.core import device_rules


class NoNetworkAdb(Check):
    spec = device_rules.NO_NETWORK_ADB

    def evaluate(self, facts: DeviceFacts, expected: DeviceExpectation, params: dict[str, Any], now: datetime) -> CheckResult:
        evidence = dict(facts.adb_network_evidence)
        on = facts.adb_over_network
        if expected.lab_phone:
            state = "on" if on is True else "off" if on is False else "not known"
            return self.not_applicable(f"lab phone: ADB over the network is allowed (now {state})",
                                       lab_phone=True, adb_over_network=on, properties=evidence)
        if on is None:
            return self.unknown("adb_over_network", properties=evidence)
        if not on:
            return self.passed("off", adb_over_network=False, properties=evidence)
        return self.failed(_what_is_on(evidence, facts.sdk), adb_over_network=True, properties=evidence)

def _what_is_on(evidence: dict[str, str | None], sdk: int | None) -> str:
    """The failure in words: which listener is on, with its port, so IT knows what to switch off."""
    parts = []
    if (port := tcp_port(evidence)) is not None:
        source = "service.adb.tcp.port" if evidence.get("service.adb.tcp.port") else "persist.adb.tcp.port"
        parts.append(f"ADB over TCP on port {port} ({source})")
    if wireless_debugging_on(evidence, sdk):
        parts.append("Wireless debugging on")
    return "; ".join(parts) or "ADB over the network on"
