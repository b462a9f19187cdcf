"""Fact collection: one shell command, one round trip, parsed into DeviceFacts.

COLLECT_SCRIPT runs each probe after an `echo` of a marker `<<PG:<nonce>:<section>>>`. The nonce is fresh
for every collection, so text an app put on the phone (a setting value, a file name) cannot pose as a
section boundary. Sections, in order:

  getprop            every property (serial, model, release, patch, fingerprint, crypto state, root/boot props)
  packages           pm list packages -f -i -U --show-versioncode (without --show-versioncode before Android 9)
  system_packages    pm list packages -s (which packages are preinstalled)
  settings_global / settings_secure / settings_system   settings list NS
  lock               dumpsys lock_settings (CredentialType, or Quality on old releases)
  su                 command -v su, plus ls -d of the usual su locations
  accounts           dumpsys account, reduced ON THE PHONE to `type=...` lines (names never leave it)
  media              find over WhatsApp's and WhatsApp Business's media folders: `<mtime> <path>` per file
  clock              date +%s (the phone's clock, to notice skew)
  app:<package>      dumpsys package <package>, for each catalogue package
  end                proves the output was not cut short

Android prints no certificate SHA-256 in `dumpsys package`, only each signer's Java hashCode; pass the
catalogue's known certificates (DER) and collect/parse fill `signer_sha256` for those that match.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device_agent.facts import AppInfo, DeviceFacts, RootIndicators
from device_agent.parsers import (
    decode_output,
    parse_account_types,
    parse_dumpsys_package,
    parse_getprop,
    parse_lock_settings,
    parse_media_listing,
    parse_pm_list,
    parse_settings_list,
)
from device_agent.parsers.adb_exposure import parse_adb_exposure
from device_agent.parsers.dumpsys_package import java_signature_hashcode
from device_agent.parsers.media import MEDIA_ROOTS
from device_agent.parsers.property_defaults import android_bool, is_full_listing, with_android_defaults
from device_agent.parsers.text import note
from phonegate.core.errors import BadInput
from phonegate.core.packages import MESSAGING_PACKAGES

DEFAULT_CATALOGUE = MESSAGING_PACKAGES
SU_LOCATIONS = ("/system/xbin/su", "/system/bin/su", "/sbin/su", "/su/bin/su", "/system/sbin/su", "/vendor/bin/su",
                "/data/local/xbin/su", "/data/local/bin/su", "/data/local/su", "/debug_ramdisk/su", "/data/adb/magisk")
# Settings whose values are often a person's name or contact details ("Jane's Galaxy", lock screen owner info):
# kept as keys, values replaced, so evidence sent to the server carries no personal data.
PERSONAL_SETTINGS = frozenset({"device_name", "bluetooth_name", "bluetooth_address", "lock_screen_owner_info",
                               "wifi_p2p_device_name", "synced_account_name"})
REDACTED = "<redacted>"
PERSONAL_PROPERTY_SUFFIXES = ("device_name", "bluetooth.name", "bt.name", "net.hostname")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_MARKER = re.compile(r"^<<PG:([0-9a-f]{16}):([A-Za-z0-9_.:]+)>>$")
_MARKER_ANYWHERE = re.compile(r"<<PG:([0-9a-f]{16}):([A-Za-z0-9_.:]+)>>")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def collection_script(catalogue_packages: Iterable[str], nonce: str | None = None) -> tuple[str, str]:
    """(script, nonce). Package names are checked before they go near a shell."""
    nonce = nonce or secrets.token_hex(8)
    packages = list(dict.fromkeys(catalogue_packages))
    for name in packages:
        if not isinstance(name, str) or not _PACKAGE.match(name) or len(name) > 255:
            raise BadInput(f"{str(name)[:80]!r} is not a valid Android package name.")
    probes = [
        ("getprop", "getprop"),
        ("packages", "pm list packages -f -i -U --show-versioncode 2>/dev/null || pm list packages -f -i -U"),
        ("system_packages", "pm list packages -s"),
        ("settings_global", "settings list global"),
        ("settings_secure", "settings list secure"),
        ("settings_system", "settings list system"),
        ("lock", "dumpsys lock_settings"),
        ("su", "command -v su; ls -d " + " ".join(SU_LOCATIONS) + " 2>/dev/null"),
        ("accounts", "dumpsys account | grep -oE 'Account \\{name=[^}]*\\}' | grep -oE 'type=[^}]*'"),
        ("media", "find " + " ".join(_quote(root) for root in MEDIA_ROOTS) + " -type f -exec stat -c '%Y %n' {} + 2>/dev/null"),
        ("clock", "date +%s"),
    ]
    probes += [(f"app:{name}", f"dumpsys package {name}") for name in packages]
    probes.append(("end", "true"))
    script = "; ".join(f"echo '<<PG:{nonce}:{section}>>'; {command}" for section, command in probes)
    return script, nonce


# The script for the default catalogue, with a placeholder nonce (for documentation and tests).
COLLECT_SCRIPT = collection_script(DEFAULT_CATALOGUE, nonce="0" * 16)[0]


async def collect_facts(session: Any, catalogue_packages: Iterable[str] = DEFAULT_CATALOGUE, *, timeout_s: float = 30,
                        known_certificates: Iterable[bytes] = ()) -> DeviceFacts:
    """Run the collection script on a connected phone (device_agent.adb.PhoneSession) and parse the answer."""
    packages = list(catalogue_packages)
    script, nonce = collection_script(packages)
    output = await session.shell(script, timeout_s=timeout_s)
    return parse_collection(output, packages, datetime.now(timezone.utc), nonce=nonce,
                            known_certificates=known_certificates)


def split_sections(text: str, nonce: str | None) -> dict[str, str]:
    # Find the markers with one search for their literal start and slice between their lines; splitting all
    # ~170 lines and matching each cost more than parsing the sections.
    markers: list[tuple[int, int, str]] = []  # (line start, line end, section)
    for match in _MARKER_ANYWHERE.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end == -1 else line_end
        # a marker counts only alone on its line (blanks aside), exactly as line.strip() does in the line-wise scan
        if text[line_start:match.start()].strip() or text[match.end():line_end].strip():
            continue
        if nonce is None or match.group(1) == nonce:
            markers.append((line_start, line_end, match.group(2)))
    if len({name for _, _, name in markers}) != len(markers):
        return _split_sections_by_line(text, nonce)  # a repeated section (hostile output): the exact slow way
    sections: dict[str, str] = {}
    for index, (_, line_end, name) in enumerate(markers):
        start = line_end + 1
        end = markers[index + 1][0] - 1 if index + 1 < len(markers) else len(text)
        sections[name] = text[start:end] if start <= end else ""
    return sections


def _split_sections_by_line(text: str, nonce: str | None) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.split("\n"):
        match = _MARKER.match(line.strip())
        if match and (nonce is None or match.group(1) == nonce):
            current = sections.setdefault(match.group(2), [])
            continue
        if current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def parse_collection(text: str | bytes, catalogue_packages: Iterable[str], now: datetime, *, nonce: str | None = None,
                     known_certificates: Iterable[bytes] = ()) -> DeviceFacts:
    """Pure: the collection script's output -> DeviceFacts. Never raises; gaps become None plus a problem note."""
    facts = DeviceFacts(collected_at=now)
    problems = facts.problems
    sections = split_sections(decode_output(text if isinstance(text, (str, bytes)) else b""), nonce)
    if "end" not in sections:
        note(problems, "collection: output ended early (no end marker)")
    missing = lambda name: sections.get(name) if name in sections else note(problems, f"collection: {name} section missing")  # noqa: E731

    noted = len(problems)
    properties = parse_getprop(sections["getprop"], problems) if "getprop" in sections else {}
    if "getprop" not in sections:
        note(problems, "collection: getprop section missing")
    facts.properties = {k: REDACTED if k.endswith(PERSONAL_PROPERTY_SUFFIXES) and v else v for k, v in properties.items()}
    # Android's defaults fill only a whole, cleanly read listing: a cut-off one leaves out properties the phone has.
    full_listing = _ended(sections, "getprop") and len(problems) == noted and is_full_listing(properties)
    if full_listing:
        properties, facts.property_defaults = with_android_defaults(properties)
    _read_properties(facts, properties)
    zone = _zone(properties.get("persist.sys.timezone"))

    if (text_packages := missing("packages")) is not None:
        facts.packages = parse_pm_list(text_packages, problems)
    if (text_system := missing("system_packages")) is not None and facts.packages:
        system = set(parse_pm_list(text_system, problems))
        for name, entry in facts.packages.items():
            entry.system = name in system
    for namespace in ("global", "secure", "system"):
        if (values := missing(f"settings_{namespace}")) is not None:
            parsed = parse_settings_list(values, problems, namespace)
            facts.settings[namespace] = {k: REDACTED if k in PERSONAL_SETTINGS and v else v for k, v in parsed.items()}
    facts.adb_over_network, facts.adb_network_evidence = parse_adb_exposure(
        properties, full_listing=full_listing, sdk=facts.sdk,
        global_settings=facts.settings.get("global") if _ended(sections, "settings_global") else None)
    if (lock := missing("lock")) is not None:
        facts.secure_lock = parse_lock_settings(lock, problems)
    if (su := missing("su")) is not None:
        facts.root.su_paths = sorted({line.strip() for line in su.split("\n") if line.strip().startswith("/")
                                      and line.strip().rsplit("/", 1)[-1] in ("su", "magisk")})
    if (accounts := missing("accounts")) is not None:
        facts.account_types = parse_account_types(accounts, problems)
    if (media := missing("media")) is not None:
        facts.media_files = parse_media_listing(media, problems)
    if (clock := sections.get("clock")) is not None:
        _check_clock(clock, now, problems)

    hashcode_to_sha256 = {java_signature_hashcode(cert): hashlib.sha256(cert).hexdigest() for cert in known_certificates}
    for name in dict.fromkeys(catalogue_packages):
        dump_text = missing(f"app:{name}")
        if dump_text is None:
            continue
        dump = parse_dumpsys_package(dump_text, name, problems, zone)
        if dump is None:
            continue
        facts.apps[name] = AppInfo(
            package=name, version_name=dump.version_name, version_code=dump.version_code,
            signer_sha256=[hashcode_to_sha256[h] for h in dump.signer_hashcodes if h in hashcode_to_sha256],
            first_install_time=dump.first_install_time, installer=dump.installer, signer_hashcodes=dump.signer_hashcodes,
        )
    return facts


def _ended(sections: dict[str, str], name: str) -> bool:
    """The section is there and another one followed it, so it was not cut short."""
    names = list(sections)
    return name in sections and names.index(name) + 1 < len(names)


def _read_properties(facts: DeviceFacts, props: dict[str, str]) -> None:
    """The typed facts from properties as Android reads them (parsers.property_defaults already applied when the
    listing allowed it); a property still missing leaves its fact unknown."""
    text = lambda key: (props.get(key) or "").strip() or None  # noqa: E731
    facts.serial = text("ro.serialno") or text("ro.boot.serialno")
    facts.manufacturer = text("ro.product.manufacturer")
    facts.model = text("ro.product.model")
    facts.android_release = text("ro.build.version.release")
    facts.build_fingerprint = text("ro.build.fingerprint")
    sdk = text("ro.build.version.sdk")
    facts.sdk = int(sdk) if sdk and sdk.isdigit() and len(sdk) < 4 else None
    facts.security_patch = _date(text("ro.build.version.security_patch"))
    crypto = text("ro.crypto.state")
    facts.encrypted = {"encrypted": True, "unencrypted": False, "unsupported": False}.get(crypto or "")
    tags = text("ro.build.tags")
    fingerprint = facts.build_fingerprint or ""
    locked = text("ro.boot.flash.locked")
    vbmeta = text("ro.boot.vbmeta.device_state")
    facts.root = RootIndicators(
        su_paths=None,
        test_keys=None if tags is None and not fingerprint else "test-keys" in (tags or "") or fingerprint.endswith("test-keys"),
        debuggable=None if text("ro.debuggable") is None else text("ro.debuggable") == "1",
        verified_boot_state=(text("ro.boot.verifiedbootstate") or "").lower() or None,
        bootloader_locked={"1": True, "0": False}.get(locked or "", {"locked": True, "unlocked": False}.get(vbmeta or "")),
        adbd_root=_adbd_root(text("ro.secure"), text("ro.debuggable"), props.get("service.adb.root")),
    )


def _adbd_root(secure: str | None, debuggable: str | None, adb_root: str | None) -> bool | None:
    """adbd's should_drop_privileges() (system/core adb/daemon/main.cpp), negated. Only debuggable builds compile
    in ALLOW_ADBD_ROOT; there ro.secure=0 keeps root, `adb root` (service.adb.root=1) regains it, 0 drops it."""
    if debuggable is None:
        return None
    if debuggable != "1":
        return False
    if adb_root is None or secure is None:
        return None
    keep_root = not android_bool(secure, True) or adb_root == "1"
    return keep_root and adb_root != "0"


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name) if name and len(name) < 64 and ".." not in name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def _check_clock(text: str, now: datetime, problems: list[str]) -> None:
    value = text.strip()
    if value.isdigit() and len(value) < 12 and abs(int(value) - now.timestamp()) > 86400:
        note(problems, "clock: the phone's clock is more than a day off")

