"""The device rules' metadata: what each rule the sweep agent checks on a phone is called, and its parameters.

The checks themselves (device_agent.checks, one class per rule) take their id, title and parameters from the
spec named here; the server validates rules documents against these specs without importing the agent.
Adding a device rule: a spec here, its Check in device_agent/checks (listed in registry.py), and its entry in
compliance_default.yaml.
"""

from __future__ import annotations

from phonegate.core.packages import MESSAGING_PACKAGES
from phonegate.core.rules import Param, RulesDocument, RuleSpec, parse_rules


def _device(rule: str, title: str, severity: str, *params: Param, roles: tuple[str, ...] = ("individual", "broadcast"),
            remedy: str | None = None, blocks_approval: bool = False) -> RuleSpec:
    return RuleSpec(rule, title, "device", tuple(params), roles, severity, remedy, blocks_approval)


IDENTITY = _device("identity", "Serial, model and build match the inventory", "critical")
MIN_ANDROID_VERSION = _device(
    "min_android_version", "Android version is still supported", "high",
    Param("min_sdk", "int", 30, "lowest API level allowed (30 = Android 11)", minimum=1))
SECURITY_PATCH_AGE = _device(
    "security_patch_max_age_days", "Security patch is recent", "high",
    Param("max_age_days", "int", 90, "oldest security patch level allowed, in days", minimum=0))
STORAGE_ENCRYPTED = _device("storage_encrypted", "Storage is encrypted", "critical", blocks_approval=True)
SECURE_LOCK_SCREEN = _device("secure_lock_screen", "A PIN, pattern or password locks the phone", "critical")
NOT_ROOTED = _device(
    "not_rooted", "No su binary (not rooted)", "critical",
    Param("debuggable_counts_as_rooted", "bool", True, "a user build with ro.debuggable=1 gives adb root: count it"),
    blocks_approval=True)
VERIFIED_BOOT_GREEN = _device("verified_boot_green", "Verified boot state is green", "high")
BOOTLOADER_LOCKED = _device("bootloader_locked", "Bootloader is locked", "high", blocks_approval=True)
NO_TEST_KEYS = _device("no_test_keys", "Build is signed with release keys", "high", blocks_approval=True)
UNKNOWN_SOURCES_DISALLOWED = _device("unknown_sources_disallowed", "Installing apps from unknown sources is off", "medium")
DISALLOWED_APPS = _device(
    "disallowed_apps", "No disallowed apps installed", "medium",
    Param("packages", "list[str]", [], "package names that must not be installed"))
APPROVED_APP_STATE = _device(
    "approved_app_state", "Approved app present and genuine on provisioned phones, absent elsewhere", "critical",
    Param("watch_packages", "list[str]", list(MESSAGING_PACKAGES), "packages that count as the app"),
    blocks_approval=True)
BROADCAST_PURITY = _device(
    "broadcast_purity", "Broadcast phone has only allowed apps and no personal accounts", "high",
    Param("allowed_user_apps", "list[str]", [], "user-installed packages allowed besides the approved app"),
    Param("allowed_account_types", "list[str]", [*MESSAGING_PACKAGES, "com.microsoft.workaccount"],
          "account types allowed on the phone (anything else counts as a personal account)"),
    roles=("broadcast",))
MEDIA_RETENTION = _device(
    "media_retention", "No WhatsApp media older than the retention period on shared storage", "medium",
    Param("max_age_days", "int", 30, "oldest WhatsApp media file allowed, in days", minimum=0),
    # The paper: conversations go into the line-of-business system, and inactive ones are deleted. In that order.
    remedy="Enter the conversations these files belong to in the case record (where they concern case work or "
           "safeguarding), then delete them, and the chats that are no longer active, from the phone.")
NO_NETWORK_ADB = _device(
    "no_network_adb", "ADB over the network is off", "high",
    remedy="Switch off Wireless debugging in Developer options and restart the phone (a restart also ends "
           "`adb tcpip`); a phone that must be reached over the network belongs on IT's list of lab phones.")

DEVICE_RULES: dict[str, RuleSpec] = {
    spec.rule: spec
    for spec in (
        IDENTITY, MIN_ANDROID_VERSION, SECURITY_PATCH_AGE, STORAGE_ENCRYPTED, SECURE_LOCK_SCREEN, NOT_ROOTED,
        VERIFIED_BOOT_GREEN, BOOTLOADER_LOCKED, NO_TEST_KEYS, UNKNOWN_SOURCES_DISALLOWED, DISALLOWED_APPS,
        APPROVED_APP_STATE, BROADCAST_PURITY, MEDIA_RETENTION, NO_NETWORK_ADB,
    )
}


def parse_device_rules(text: str) -> RulesDocument:
    """The agent's view of a rules document: its device rules, validated; the server's rules are left out."""
    return parse_rules(text, DEVICE_RULES, others_evaluated_elsewhere=True)
