"""What PhoneGate knows about one phone at one moment: the typed result of fact collection.

Everything a phone says is untrusted. Parsers fill these objects and use None for "unknown" (not collected,
malformed, or not applicable), never an exception. The compliance checks read only this object, so they can
be tested without a phone, and `phonegate inspect --json` prints `to_json()`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class PackageEntry:
    """One line of `pm list packages -f -i -U --show-versioncode` (fields that were missing are None)."""

    name: str
    version_code: int | None = None
    installer: str | None = None
    apk_path: str | None = None
    system: bool | None = None  # True for preinstalled packages (pm list packages -s)


@dataclass
class AppInfo:
    """`dumpsys package NAME` details for a catalogue package that is installed."""

    package: str
    version_name: str | None = None
    version_code: int | None = None
    signer_sha256: list[str] = field(default_factory=list)  # lower-case hex, one per signer certificate
    first_install_time: datetime | None = None
    installer: str | None = None
    # Java Signature.hashCode() of each signer certificate, as `dumpsys package` shows them; signer_sha256 is
    # filled only for certificates the collector was given (Android prints no SHA-256 there)
    signer_hashcodes: list[str] = field(default_factory=list)


@dataclass
class RootIndicators:
    su_paths: list[str] | None = None  # su binaries found; [] means looked and found none
    test_keys: bool | None = None  # build tags contain test-keys
    debuggable: bool | None = None  # ro.debuggable=1
    verified_boot_state: str | None = None  # green / yellow / orange / red
    bootloader_locked: bool | None = None
    # adbd keeps root, so `adb shell` is root: ro.secure=0 or `adb root` (service.adb.root=1) on a debuggable build
    adbd_root: bool | None = None


@dataclass
class MediaFile:
    """A file under WhatsApp's media folders on shared storage (path only; never its content)."""

    path: str
    modified_at: datetime


@dataclass
class DeviceFacts:
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    android_release: str | None = None
    sdk: int | None = None
    security_patch: date | None = None
    build_fingerprint: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    packages: dict[str, PackageEntry] = field(default_factory=dict)
    apps: dict[str, AppInfo] = field(default_factory=dict)
    settings: dict[str, dict[str, str]] = field(default_factory=dict)  # namespace (global/secure/system) -> key -> value
    encrypted: bool | None = None
    secure_lock: bool | None = None
    root: RootIndicators = field(default_factory=RootIndicators)
    account_types: list[str] | None = None  # types only (com.google, ...), never account names
    media_files: list[MediaFile] | None = None
    # ADB reachable over the network: adbd on a TCP port (service./persist.adb.tcp.port) or Wireless debugging;
    # the evidence holds the properties and the setting that decided it (parsers.adb_exposure)
    adb_over_network: bool | None = None
    adb_network_evidence: dict[str, str | None] = field(default_factory=dict)
    # properties the phone did not report, with the default Android itself reads for them (parsers.property_defaults)
    property_defaults: dict[str, str] = field(default_factory=dict)
    collected_at: datetime | None = None
    problems: list[str] = field(default_factory=list)  # sections that could not be parsed, for evidence

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; `packages` is the sorted list of package names, as INTERFACE.md promises."""
        data = _jsonable(dataclasses.asdict(self))
        data["packages"] = sorted(self.packages)
        data["package_details"] = {name: _jsonable(dataclasses.asdict(entry)) for name, entry in sorted(self.packages.items())}
        data["apps"] = {
            name: {
                "version_name": app.version_name,
                "version_code": app.version_code,
                "signer_sha256": app.signer_sha256[0] if app.signer_sha256 else None,
                "signers_sha256": list(app.signer_sha256),
                "first_install_time": _jsonable(app.first_install_time),
                "installer": app.installer,
                "signer_hashcodes": list(app.signer_hashcodes),
            }
            for name, app in sorted(self.apps.items())
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceFacts:
        """Inverse of to_json (used by the outbox and by the server)."""
        details = data.get("package_details") or {name: {"name": name} for name in data.get("packages") or []}
        apps = {}
        for name, app in (data.get("apps") or {}).items():
            signers = app.get("signers_sha256") or ([app["signer_sha256"]] if app.get("signer_sha256") else [])
            apps[name] = AppInfo(
                package=name,
                version_name=app.get("version_name"),
                version_code=app.get("version_code"),
                signer_sha256=list(signers),
                first_install_time=_parse_datetime(app.get("first_install_time")),
                installer=app.get("installer"),
                signer_hashcodes=list(app.get("signer_hashcodes") or []),
            )
        media = data.get("media_files")
        return cls(
            serial=data.get("serial"),
            manufacturer=data.get("manufacturer"),
            model=data.get("model"),
            android_release=data.get("android_release"),
            sdk=data.get("sdk"),
            security_patch=date.fromisoformat(data["security_patch"]) if data.get("security_patch") else None,
            build_fingerprint=data.get("build_fingerprint"),
            properties=dict(data.get("properties") or {}),
            packages={name: PackageEntry(**_known_fields(PackageEntry, entry)) for name, entry in details.items()},
            apps=apps,
            settings={ns: dict(values) for ns, values in (data.get("settings") or {}).items()},
            encrypted=data.get("encrypted"),
            secure_lock=data.get("secure_lock"),
            root=RootIndicators(**_known_fields(RootIndicators, data.get("root") or {})),
            account_types=data.get("account_types"),
            media_files=None
            if media is None
            else [MediaFile(path=m["path"], modified_at=_parse_datetime(m["modified_at"])) for m in media],
            adb_over_network=data.get("adb_over_network"),
            adb_network_evidence=dict(data.get("adb_network_evidence") or {}),
            property_defaults=dict(data.get("property_defaults") or {}),
            collected_at=_parse_datetime(data.get("collected_at")),
            problems=list(data.get("problems") or []),
        )


def _known_fields(kind: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields `kind` has: facts written by a newer agent (an outbox, a server) still load."""
    names = {item.name for item in dataclasses.fields(kind)}
    return {key: value for key, value in data.items() if key in names}


def _parse_datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
