"""Phone profiles for the simulator: what a kind of phone reports, loaded from YAML and validated.

A profile is data, not code: properties as `getprop` prints them, installed packages, settings, lock,
encryption, root state, account types, a small shared-storage tree and fault switches. Every section is
checked on load and unknown keys are refused, so a typo in a profile fails loudly with the field's name
instead of silently simulating a different phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from phonegate.core.errors import BadInput

PROFILE_DIR = Path(__file__).resolve().parent
PROFILE_NAMES: list[str] = sorted(path.stem for path in PROFILE_DIR.glob("*.yaml"))

LOCK_TYPES = {"none", "swipe", "pin", "password", "pattern"}


class ProfileInvalid(BadInput, ValueError):
    """A profile file is malformed; the message names the field."""


@dataclass
class Faults:
    """Misbehaviour switches from the profile's `faults:` section. Each phone gets its own copy (VirtualPhone.faults),
    which tests may change while it runs."""

    latency_ms: float = 0.0
    drop_after_bytes: int | None = None
    # the cable is pulled once, halfway through an APK (streamed install, install-write, or a push of an .apk);
    # the switch then turns itself off and the phone takes the reconnection like a phone plugged back in
    drop_mid_install: bool = False
    hang: bool = False
    refuse_auth: bool = False
    install_failure: str | None = None  # e.g. "INSTALL_FAILED_INSUFFICIENT_STORAGE"
    garbage_output: bool = False

    @classmethod
    def from_mapping(cls, data: dict) -> Faults:
        _no_unknown(data, {f.name for f in fields(cls)}, "faults")
        values = {}
        for key, value in data.items():
            if key in ("hang", "refuse_auth", "garbage_output", "drop_mid_install") and not isinstance(value, bool):
                raise ProfileInvalid(f"Profile field faults.{key} must be true or false.")
            if key == "latency_ms" and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 3_600_000):
                raise ProfileInvalid("Profile field faults.latency_ms must be a number >= 0.")
            if key == "drop_after_bytes" and value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ProfileInvalid("Profile field faults.drop_after_bytes must be a whole number >= 0 or null.")
            if key == "install_failure" and value is not None and (not isinstance(value, str) or not value.startswith("INSTALL_")):
                raise ProfileInvalid("Profile field faults.install_failure must be an INSTALL_FAILED_... code or null.")
            values[key] = float(value) if key == "latency_ms" else value
        return cls(**values)


@dataclass
class ProfilePackage:
    name: str
    version_code: int
    installer: str | None = None
    system: bool = False
    version_name: str | None = None
    signer: str | None = None  # label of a simulated signing certificate (see simulator.packages)
    first_install_age_days: float | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None
    apk_path: str | None = None


@dataclass
class ProfileFile:
    path: str
    age_days: float = 0.0
    size: int = 0
    mode: int = 0o660


@dataclass
class ProfileAccount:
    type: str
    name: str


@dataclass
class Profile:
    name: str
    description: str
    serial: str
    properties: dict[str, str]
    packages: list[ProfilePackage] = field(default_factory=list)
    settings: dict[str, dict[str, str]] = field(default_factory=dict)
    lock: str = "none"
    su_paths: list[str] = field(default_factory=list)
    accounts: list[ProfileAccount] = field(default_factory=list)
    files: list[ProfileFile] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    storage_free_mb: int = 4096
    adb_features: list[str] | None = None  # None: what adbd of this Android release advertises

    @property
    def sdk(self) -> int:
        return int(self.properties.get("ro.build.version.sdk", "0") or 0)


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a shipped profile by name (see PROFILE_NAMES) or any YAML file by path; raises ProfileInvalid."""
    path = Path(name_or_path)
    if not path.suffix and str(name_or_path) in PROFILE_NAMES:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ProfileInvalid(
            f"No phone profile called {str(name_or_path)!r}: use one of {', '.join(PROFILE_NAMES)} or a YAML file path."
        )
    return parse_profile(_read_yaml(path), default_name=path.stem)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProfileInvalid(f"Profile {path.name} is not valid YAML: {exc}") from None


# `extends: NAME` starts from a shipped profile: these sections are merged key by key over the base's (settings per
# namespace), every other field given replaces the base's, and the name is the new profile's own.
MERGED_SECTIONS = ("properties", "settings", "faults", "root", "adb_network")
MAX_EXTENDS_DEPTH = 4


def _with_base(top: dict, depth: int = 0) -> dict:
    if "extends" not in top:
        return top
    base_name = top["extends"]
    if not isinstance(base_name, str) or base_name not in PROFILE_NAMES:
        raise ProfileInvalid(f"Profile field extends must name a shipped profile ({', '.join(PROFILE_NAMES)}).")
    if depth >= MAX_EXTENDS_DEPTH:
        raise ProfileInvalid(f"Profile field extends goes more than {MAX_EXTENDS_DEPTH} profiles deep (a loop?).")
    base = _with_base(_mapping(_read_yaml(PROFILE_DIR / f"{base_name}.yaml"), "profile"), depth + 1)
    merged = {key: value for key, value in base.items() if key != "name"}
    for key, value in top.items():
        if key == "extends":
            continue
        merged[key] = _merge(base.get(key), value) if key in MERGED_SECTIONS else value
    return merged


def _merge(base: Any, override: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base.get(key), value)
    return merged


def parse_profile(data: Any, default_name: str = "custom") -> Profile:
    where = "profile"
    top = _with_base(_mapping(data, where))
    _no_unknown(top, {"name", "description", "serial", "properties", "packages", "settings", "lock", "root",
                      "accounts", "files", "faults", "storage_free_mb", "adb_features", "adb_network"}, where)
    properties = {str(k): _scalar_text(v, f"properties.{k}") for k, v in _mapping(top.get("properties"), "properties").items()}
    for required in ("ro.product.model", "ro.product.manufacturer", "ro.build.version.sdk", "ro.build.version.release"):
        if required not in properties:
            raise ProfileInvalid(f"Profile field properties.{required} is missing.")
    if not properties["ro.build.version.sdk"].isdigit():
        raise ProfileInvalid("Profile field properties.ro.build.version.sdk must be a whole number.")
    packages = [_package(item, f"packages[{i}]") for i, item in enumerate(_list(top.get("packages", []), "packages"))]
    settings: dict[str, dict[str, str]] = {"global": {}, "secure": {}, "system": {}}
    for namespace, values in _mapping(top.get("settings", {}), "settings").items():
        if namespace not in settings:
            raise ProfileInvalid(f"Profile field settings.{namespace} is unknown: use global, secure or system.")
        settings[namespace] = {str(k): _scalar_text(v, f"settings.{namespace}.{k}")
                               for k, v in _mapping(values or {}, f"settings.{namespace}").items()}
    lock = top.get("lock", "none")
    if not isinstance(lock, str) or lock not in LOCK_TYPES:
        raise ProfileInvalid(f"Profile field lock must be one of {', '.join(sorted(LOCK_TYPES))}, not {lock!r}.")
    root = _mapping(top.get("root", {}) or {}, "root")
    _no_unknown(root, {"su_paths"}, "root")
    su_paths = [_text(p, f"root.su_paths[{i}]") for i, p in enumerate(_list(root.get("su_paths", []), "root.su_paths"))]
    accounts = []
    for i, item in enumerate(_list(top.get("accounts", []), "accounts")):
        entry = _mapping(item, f"accounts[{i}]")
        _no_unknown(entry, {"type", "name"}, f"accounts[{i}]")
        accounts.append(ProfileAccount(type=_text(entry.get("type"), f"accounts[{i}].type"),
                                       name=_text(entry.get("name"), f"accounts[{i}].name")))
    files = []
    for i, item in enumerate(_list(top.get("files", []), "files")):
        entry = _mapping(item, f"files[{i}]")
        _no_unknown(entry, {"path", "age_days", "size", "mode"}, f"files[{i}]")
        path = _text(entry.get("path"), f"files[{i}].path")
        if not path.startswith("/"):
            raise ProfileInvalid(f"Profile field files[{i}].path must be absolute.")
        files.append(ProfileFile(path=path, age_days=_number(entry.get("age_days", 0), f"files[{i}].age_days"),
                                 size=_int(entry.get("size", 0), f"files[{i}].size"),
                                 mode=_int(entry.get("mode", 0o660), f"files[{i}].mode")))
    _switch_on_adb_network(_mapping(top.get("adb_network", {}) or {}, "adb_network"), properties, settings)
    faults = Faults.from_mapping(_mapping(top.get("faults", {}) or {}, "faults"))
    return Profile(
        name=_text(top.get("name", default_name), "name"),
        description=_text(top.get("description", ""), "description", allow_empty=True),
        serial=_text(top.get("serial", properties.get("ro.serialno", "SIM0000001")), "serial"),
        properties=properties,
        packages=packages,
        settings=settings,
        lock=lock,
        su_paths=su_paths,
        accounts=accounts,
        files=files,
        faults=faults,
        storage_free_mb=_int(top.get("storage_free_mb", 4096), "storage_free_mb"),
        adb_features=None if top.get("adb_features") is None else
        [_text(f, f"adb_features[{i}]") for i, f in enumerate(_list(top["adb_features"], "adb_features"))],
    )


WIRELESS_DEBUGGING_PORT = "37099"  # adbd's TLS port is random on a phone; a fixed one keeps output stable


def _switch_on_adb_network(section: dict, properties: dict[str, str], settings: dict[str, dict[str, str]]) -> None:
    """`adb_network:` as the phone shows it: `tcp_port` is what `adb tcpip PORT` sets; `wireless_debugging` is the
    Developer options switch (Android 11+), which the framework keeps in a setting and adbd in two properties."""
    _no_unknown(section, {"tcp_port", "wireless_debugging"}, "adb_network")
    port = section.get("tcp_port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ProfileInvalid("Profile field adb_network.tcp_port must be a port number from 1 to 65535, or null.")
        properties["service.adb.tcp.port"] = str(port)
    wireless = section.get("wireless_debugging", False)
    if not isinstance(wireless, bool):
        raise ProfileInvalid("Profile field adb_network.wireless_debugging must be true or false.")
    if wireless:
        if int(properties["ro.build.version.sdk"]) < 30:
            raise ProfileInvalid("Profile field adb_network.wireless_debugging needs Android 11 (ro.build.version.sdk 30) or later.")
        settings["global"]["adb_wifi_enabled"] = "1"
        properties["persist.adb.tls_server.enable"] = "1"
        properties["service.adb.tls.port"] = WIRELESS_DEBUGGING_PORT


def _package(item: Any, where: str) -> ProfilePackage:
    entry = _mapping(item, where)
    _no_unknown(entry, {"name", "version_code", "installer", "system", "version_name", "signer",
                        "first_install_age_days", "min_sdk", "target_sdk", "apk_path"}, where)
    system = entry.get("system", False)
    if not isinstance(system, bool):
        raise ProfileInvalid(f"Profile field {where}.system must be true or false.")
    optional_int = {k: _int(entry[k], f"{where}.{k}") if entry.get(k) is not None else None for k in ("min_sdk", "target_sdk")}
    return ProfilePackage(
        name=_text(entry.get("name"), f"{where}.name"),
        version_code=_int(entry.get("version_code"), f"{where}.version_code"),
        installer=_text(entry["installer"], f"{where}.installer") if entry.get("installer") is not None else None,
        system=system,
        version_name=_scalar_text(entry["version_name"], f"{where}.version_name") if entry.get("version_name") is not None else None,
        signer=_text(entry["signer"], f"{where}.signer") if entry.get("signer") is not None else None,
        first_install_age_days=_number(entry["first_install_age_days"], f"{where}.first_install_age_days")
        if entry.get("first_install_age_days") is not None else None,
        apk_path=_text(entry["apk_path"], f"{where}.apk_path") if entry.get("apk_path") is not None else None,
        **optional_int,
    )


def _no_unknown(entry: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, entry)) - allowed)
    if unknown:
        raise ProfileInvalid(f"Profile field {where}.{unknown[0]} is not a known field (allowed: {', '.join(sorted(allowed))}).")


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ProfileInvalid(f"Profile field {where} must be a mapping.")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ProfileInvalid(f"Profile field {where} must be a list.")
    return value


def _text(value: Any, where: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ProfileInvalid(f"Profile field {where} must be a non-empty text.")
    return value


def _scalar_text(value: Any, where: str) -> str:
    """getprop/settings values are text; YAML may have read them as numbers or booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if value is None:
        return ""
    raise ProfileInvalid(f"Profile field {where} must be a text value.")


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProfileInvalid(f"Profile field {where} must be a whole number >= 0.")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100_000:
        raise ProfileInvalid(f"Profile field {where} must be a number from 0 to 100000.")
    return float(value)
