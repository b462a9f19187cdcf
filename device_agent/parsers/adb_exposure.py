"""Is ADB reachable over the network? Plain ADB over TCP (`adb tcpip`), or Android 11+ Wireless debugging.

adbd listens on TCP when `service.adb.tcp.port`, or when that is empty `persist.adb.tcp.port`, holds a number above
0 (system/core adb/daemon/main.cpp: it reads the first non-empty one with sscanf "%d", so -1 or 0 in the first
switches TCP off even if the second is set). Wireless debugging runs adbd's TLS server: the framework's switch is
`settings global adb_wifi_enabled` (AdbService: `getInt(..., 0) > 0`), adbd follows
`persist.adb.tls_server.enable` and publishes its port in `service.adb.tls.port` (adb/daemon/adb_wifi.cpp).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

WIRELESS_DEBUGGING_SDK = 30  # Android 11
EVIDENCE_KEYS = ("service.adb.tcp.port", "persist.adb.tcp.port", "persist.adb.tls_server.enable", "service.adb.tls.port")
WIFI_SETTING = "adb_wifi_enabled"
_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def _c_int(value: str | None) -> int | None:
    """What sscanf("%d") or Java's parse would take from a property value: a leading integer, else None."""
    match = _LEADING_INT.match(value or "")
    return int(match.group(1)) if match and len(match.group(1)) < 12 else None


def parse_adb_exposure(properties: Mapping[str, str], *, full_listing: bool, global_settings: Mapping[str, str] | None,
                       sdk: int | None) -> tuple[bool | None, dict[str, str | None]]:
    """(ADB over the network is on, the values that decided it). `properties` as Android reads them (with
    parsers.property_defaults filled in when `full_listing`); `global_settings` None when they were not read."""
    evidence: dict[str, str | None] = {key: properties.get(key) or None for key in EVIDENCE_KEYS}
    evidence[f"settings global {WIFI_SETTING}"] = None if global_settings is None else global_settings.get(WIFI_SETTING)

    tcp: bool | None = True if tcp_port(evidence) is not None else (False if full_listing else None)
    # (a partial listing may have left the port out, so only a whole one says "no port")

    if sdk is not None and sdk < WIRELESS_DEBUGGING_SDK:
        wireless: bool | None = False  # Wireless debugging came with Android 11; older adbd has no TLS server
    elif wireless_debugging_on(evidence, sdk):
        wireless = True
    elif full_listing and global_settings is not None:
        wireless = False  # an absent adb_wifi_enabled is 0 to AdbService
    else:
        wireless = None

    if tcp or wireless:
        return True, evidence
    if tcp is False and wireless is False:
        return False, evidence
    return None, evidence


def tcp_port(evidence: Mapping[str, str | None]) -> int | None:
    """The TCP port adbd listens on, from the evidence above (the first non-empty port property), else None."""
    port = _c_int(evidence.get("service.adb.tcp.port") or evidence.get("persist.adb.tcp.port"))
    return port if port is not None and port > 0 else None


def wireless_debugging_on(evidence: Mapping[str, str | None], sdk: int | None) -> bool:
    """Wireless debugging is on by the framework's switch or by adbd's own TLS server properties (Android 11+)."""
    if sdk is not None and sdk < WIRELESS_DEBUGGING_SDK:
        return False
    setting = _c_int(evidence.get(f"settings global {WIFI_SETTING}"))
    tls_port = _c_int(evidence.get("service.adb.tls.port"))
    return (setting is not None and setting > 0) or evidence.get("persist.adb.tls_server.enable") == "1" \
        or (tls_port or 0) > 0
