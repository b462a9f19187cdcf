"""Every device-side check, by rule id. Adding a rule: write its Check subclass, list it here, describe it in
phonegate/core/compliance_default.yaml; the shared test suite picks it up from this list."""

from __future__ import annotations

from device_agent.checks.apps import ApprovedAppState, DisallowedApps
from device_agent.checks.base import Check
from device_agent.checks.broadcast import BroadcastPurity
from device_agent.checks.identity import Identity
from device_agent.checks.integrity import BootloaderLocked, NoTestKeys, NotRooted, VerifiedBootGreen
from device_agent.checks.media import MediaRetention
from device_agent.checks.network_adb import NoNetworkAdb
from device_agent.checks.platform import MinAndroidVersion, SecurityPatchAge
from device_agent.checks.protection import SecureLockScreen, StorageEncrypted
from device_agent.checks.unknown_sources import UnknownSourcesDisallowed

ALL_CHECKS: tuple[Check, ...] = (
    Identity(),
    MinAndroidVersion(),
    SecurityPatchAge(),
    StorageEncrypted(),
    SecureLockScreen(),
    NotRooted(),
    VerifiedBootGreen(),
    BootloaderLocked(),
    NoTestKeys(),
    UnknownSourcesDisallowed(),
    DisallowedApps(),
    ApprovedAppState(),
    BroadcastPurity(),
    MediaRetention(),
    NoNetworkAdb(),
)

CHECKS: dict[str, Check] = {check.rule: check for check in ALL_CHECKS}
