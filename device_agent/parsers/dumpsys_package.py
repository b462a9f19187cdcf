"""`dumpsys package NAME`: the `Package [NAME]` block's versions, installer, install time and signer hashes.

Android never prints a certificate's SHA-256 here. `signatures=PackageSignatures{<id> version:3,
signatures:[1a2b3c4d], past signatures:[]}` (older: `PackageSignatures{<id> [1a2b3c4d]}`) shows each signer
as Java's Signature.hashCode(), i.e. Arrays.hashCode of the certificate bytes, which collect.py matches against
known certificates. Times are the phone's local time; pass its zone to get aware datetimes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo

from device_agent.parsers.text import note

_BLOCK = re.compile(r"^\s*Package \[([^\]\s]+)\] \([0-9a-f]+\):\s*$")
_SIGNATURES = re.compile(r"signatures=PackageSignatures\{[0-9a-f]+ (?:version:(\d+), signatures:)?\[([0-9a-f, ]*)\]")
_HEX = re.compile(r"^[0-9a-f]{1,8}$")
_PLAIN_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")


def java_signature_hashcode(cert_der: bytes) -> str:
    """Android's Signature.hashCode(): Java Arrays.hashCode over signed bytes, shown as Integer.toHexString;
    what `signatures=PackageSignatures{...}` lists for each signer certificate."""
    value = 1
    for byte in cert_der:
        value = (31 * value + (byte - 256 if byte > 127 else byte)) & 0xFFFFFFFF
    return format(value, "x")


@dataclass
class PackageDump:
    package: str
    version_code: int | None = None
    version_name: str | None = None
    installer: str | None = None
    initiating_installer: str | None = None
    first_install_time: datetime | None = None
    last_update_time: datetime | None = None
    signer_hashcodes: list[str] = field(default_factory=list)
    signing_scheme: int | None = None
    uid: int | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None


def parse_dumpsys_package(text: str, package: str, problems: list[str] | None = None,
                          zone: tzinfo | None = None) -> PackageDump | None:
    """The package's details, or None if it is not installed (or the output cannot be read: then a note)."""
    if not isinstance(text, str):
        note(problems, f"dumpsys package {package[:80]}: output was not text")
        return None
    if f"Unable to find package: {package}" in text:
        return None
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if (m := _BLOCK.match(line)) and m.group(1) == package), None)
    if start is None:
        note(problems, f"dumpsys package {package[:80]}: no Package block in the output")
        return None
    indent = len(lines[start]) - len(lines[start].lstrip())
    dump = PackageDump(package=package)
    for line in lines[start + 1:]:
        stripped = line.strip()
        if stripped and len(line) - len(line.lstrip()) <= indent:
            break  # the next package, or the next top-level section
        _read_line(stripped, dump, zone or timezone.utc)
    if dump.version_code is None:
        note(problems, f"dumpsys package {package[:80]}: no versionCode")
    return dump


def _read_line(line: str, dump: PackageDump, zone: tzinfo) -> None:
    if line.startswith("versionCode="):
        for part in line.split():
            key, _, value = part.partition("=")
            number = int(value) if value.isdigit() else None
            if key == "versionCode":
                dump.version_code = number
            elif key == "minSdk":
                dump.min_sdk = number
            elif key == "targetSdk":
                dump.target_sdk = number
    elif line.startswith("versionName="):
        value = line.split("=", 1)[1]
        dump.version_name = None if value == "null" else value[:200]
    elif line.startswith(("userId=", "appId=")) and dump.uid is None:
        value = line.split("=", 1)[1].split()[0] if line.split("=", 1)[1] else ""
        dump.uid = int(value) if value.isdigit() else None
    elif line.startswith("installerPackageName="):
        value = line.split("=", 1)[1]
        dump.installer = None if value in ("null", "") else value[:200]
    elif line.startswith("initiatingPackageName="):
        value = line.split("=", 1)[1]
        dump.initiating_installer = None if value in ("null", "") else value[:200]
    elif line.startswith("firstInstallTime=") and dump.first_install_time is None:
        dump.first_install_time = _time(line.split("=", 1)[1], zone)
    elif line.startswith("lastUpdateTime="):
        dump.last_update_time = _time(line.split("=", 1)[1], zone)
    elif line.startswith("signatures=PackageSignatures{") and not dump.signer_hashcodes:
        match = _SIGNATURES.match(line)
        if match:
            dump.signing_scheme = int(match.group(1)) if match.group(1) else None
            dump.signer_hashcodes = [h.strip() for h in match.group(2).split(",") if _HEX.match(h.strip())]


def _time(value: str, zone: tzinfo) -> datetime | None:
    text = value.strip()
    plain = _PLAIN_TIME.match(text)  # the usual zero-padded ASCII form, without strptime's 25 us per call
    try:
        if plain:
            moment = datetime(*map(int, plain.groups()))
        else:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        return moment.replace(tzinfo=zone).astimezone(timezone.utc)
    except ValueError:
        return None
