"""What Android itself reads when a phone reports no value for a property: one table, used by fact parsing.

A phone's `getprop` lists only properties that are set. Android's own code reads the others with a default
(`SystemProperties.getInt("ro.debuggable", 0)`, `GetBoolProperty("ro.secure", true)`), so an absent line has a
meaning, and PhoneGate takes the same meaning instead of calling the fact unknown. A property for which
Android has no default (or whose readers disagree) stays unknown. Like SystemProperties.get and
android::base::GetProperty, an empty value counts as absent.

Sources are AOSP files (aosp-mirror on GitHub, read with the code search): frameworks/base =
platform_frameworks_base, system/core = platform_system_core.

Defaults fill gaps only in a full property listing (see `is_full_listing`): a listing cut short, or an excerpt,
leaves out properties that the phone does have, and a default there would invent a clean phone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Every Android build sets this in build.prop (Build.VERSION.SDK_INT reads it); a listing without it is not a
# whole `getprop`.
ALWAYS_SET = "ro.build.version.sdk"


def _flash_locked_from_boot_state(properties: Mapping[str, str]) -> str | None:
    state = properties.get("ro.boot.verifiedbootstate", "")
    return None if not state else ("0" if state == "orange" else "1")


@dataclass(frozen=True)
class PropertyDefault:
    name: str
    source: str  # where Android's default comes from, or why there is none
    value: str | None = None  # Android's default; None (and no `derive`): no default, the fact stays unknown
    derive: Callable[[Mapping[str, str]], str | None] | None = None  # computed from other properties, as Android does


PROPERTY_DEFAULTS: tuple[PropertyDefault, ...] = (
    PropertyDefault(
        "ro.debuggable", value="0",
        source="frameworks/base core/java/android/os/Build.java: IS_DEBUGGABLE = SystemProperties.getInt(\"ro.debuggable\", 0)"
               " == 1; adbd asks liblog's __android_log_is_debuggable(), true only for \"1\""),
    PropertyDefault(
        "ro.secure", value="1",
        source="system/core adb/daemon/main.cpp should_drop_privileges(): GetBoolProperty(\"ro.secure\", true)"),
    PropertyDefault(
        "service.adb.root", value="",
        source="system/core adb/daemon/main.cpp should_drop_privileges(): GetProperty(\"service.adb.root\", \"\"); "
               "`adb root` sets it to 1"),
    PropertyDefault(
        "ro.build.tags", value="unknown",
        source="frameworks/base core/java/android/os/Build.java: TAGS = getString(\"ro.build.tags\"), which falls back "
               "to Build.UNKNOWN (\"unknown\"): not test-keys"),
    PropertyDefault(
        "ro.crypto.state", value="unsupported",
        source="frameworks/base core/java/com/android/internal/os/RoSystemProperties.java: CRYPTO_STATE = "
               "CryptoProperties.state().orElse(UNSUPPORTED); CRYPTO_ENCRYPTED is then false"),
    PropertyDefault(
        "ro.boot.flash.locked", derive=_flash_locked_from_boot_state,
        source="system/core init/init.cpp export_oem_lock_status() sets it from ro.boot.verifiedbootstate: \"0\" when "
               "orange, else \"1\" (fastbootd's GetDeviceLockStatus() reads the lock the same way); unknown when the "
               "boot state is unknown too"),
    PropertyDefault(
        "service.adb.tcp.port", value="",
        source="system/core adb/daemon/main.cpp adbd_main(): GetProperty(\"service.adb.tcp.port\", \"\"): no TCP port"),
    PropertyDefault(
        "persist.adb.tcp.port", value="",
        source="system/core adb/daemon/main.cpp adbd_main(): GetProperty(\"persist.adb.tcp.port\", \"\"): no TCP port"),
    PropertyDefault(
        "persist.adb.tls_server.enable", value="0",
        source="system/core adb/daemon/adb_wifi.cpp: the TLS server (Wireless debugging) starts only when the property "
               "becomes \"1\""),
    # No default: the fact stays unknown when the phone does not say.
    PropertyDefault(
        "ro.boot.verifiedbootstate",
        source="no default: the bootloader passes it (androidboot.verifiedbootstate) and Android's readers disagree when it "
               "is missing (update_engine's SPL check assumes green, fs_mgr and fastbootd only test for orange); before "
               "Android 7 verified boot was optional, so a missing state says nothing about this boot"),
    PropertyDefault(
        "ro.boot.vbmeta.device_state",
        source="no default: set by the bootloader with AVB 2.0 (Android 8+); older phones have none"),
    PropertyDefault(
        "ro.build.version.security_patch",
        source="no default: Build.VERSION.SECURITY_PATCH = SystemProperties.get(..., \"\"), an empty patch level"),
    PropertyDefault(
        "ro.build.version.sdk",
        source="no default: Build.VERSION.SDK_INT = SystemProperties.getInt(..., 0), and 0 is no release"),
    PropertyDefault(
        "ro.build.version.release",
        source="no default: Build.VERSION.RELEASE falls back to \"unknown\""),
    PropertyDefault(
        "ro.build.fingerprint",
        source="no default: Build.FINGERPRINT is derived from other properties when missing; PhoneGate keeps it unknown"),
    PropertyDefault("ro.product.manufacturer", source="no default: Build.MANUFACTURER falls back to \"unknown\""),
    PropertyDefault("ro.product.model", source="no default: Build.MODEL falls back to \"unknown\""),
    PropertyDefault("ro.serialno", source="no default: the serial number is the phone's own"),
)
DEFAULTS_BY_NAME = {entry.name: entry for entry in PROPERTY_DEFAULTS}


def is_full_listing(properties: Mapping[str, str]) -> bool:
    """Whether a parsed `getprop` holds every set property (as opposed to an excerpt): see ALWAYS_SET."""
    return bool(properties.get(ALWAYS_SET))


def with_android_defaults(reported: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the properties as Android reads them, the defaults that filled gaps). The phone's own values always win;
    call this only for a full listing (is_full_listing)."""
    effective = {key: value for key, value in reported.items() if value != ""}
    applied: dict[str, str] = {}
    for entry in PROPERTY_DEFAULTS:
        if entry.name in effective:
            continue
        value = entry.derive(effective) if entry.derive is not None else entry.value
        if value is not None:
            applied[entry.name] = value
    effective.update(applied)
    return effective, applied


def android_bool(value: str | None, default: bool) -> bool:
    """android::base::GetBoolProperty: 1/y/yes/on/true and 0/n/no/off/false; anything else is the default."""
    if value in ("1", "y", "yes", "on", "true"):
        return True
    if value in ("0", "n", "no", "off", "false"):
        return False
    return default
