"""A virtual Android phone: the device side that the ADB server (simulator.server) exposes.

Everything here is synchronous and quick, because the asyncio loop of the ADB server calls it directly for
hundreds of phones at once. A phone is built from a Profile (simulator.profiles); its clock is the host's,
so profile ages ("40 days ago") stay true however long a simulation runs.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device_agent.simulator.commands import build_commands
from device_agent.simulator.installer import PackageInstaller
from device_agent.simulator.packages import InstalledPackage, PackageDatabase, default_apk_path, simulated_certificate
from device_agent.simulator.profiles import LOCK_TYPES, Faults, Profile, ProfileInvalid, load_profile
from device_agent.simulator.shell import Shell
from device_agent.simulator.vfs import VirtualFileSystem

MODERN_FEATURES = ("shell_v2", "cmd", "stat_v2", "ls_v2", "fixed_push_mkdir", "apex", "abb", "abb_exec",
                   "fixed_push_symlink_timestamp", "sendrecv_v2")
# adbd's advertised features by release: shell_v2 and cmd came with Android 7 (sdk 24), abb/abb_exec, apex and
# stat_v2/ls_v2 with Android 10 (29), sendrecv_v2 with Android 11 (30). A profile may override the list.
FEATURES_BY_SDK = (
    (30, MODERN_FEATURES),
    (29, ("shell_v2", "cmd", "stat_v2", "ls_v2", "fixed_push_mkdir", "apex", "abb", "abb_exec", "fixed_push_symlink_timestamp")),
    (28, ("shell_v2", "cmd", "fixed_push_mkdir", "fixed_push_symlink_timestamp")),
    (26, ("shell_v2", "cmd", "fixed_push_mkdir")),
    (24, ("shell_v2", "cmd")),
    (0, ()),
)


@dataclass
class ShellOutcome:
    stdout: bytes
    stderr: bytes
    exit_code: int


@dataclass
class FileStat:
    mode: int  # includes S_IFDIR / S_IFREG
    size: int
    mtime: int  # unix seconds


@dataclass
class VirtualPhone:
    serial: str
    profile: Profile
    properties: dict[str, str]
    settings: dict[str, dict[str, str]]
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        self._garbage_rng = random.Random(self.serial)
        self._build()

    # ---- construction ---------------------------------------------------------------------------
    @classmethod
    def from_profile(cls, profile: Profile | str, serial: str | None = None) -> VirtualPhone:
        profile = profile if isinstance(profile, Profile) else load_profile(profile)
        serial = serial or profile.serial
        properties, settings = _state_from(profile, serial)
        return cls(serial=serial, profile=profile, properties=properties, settings=settings,
                   faults=dataclasses.replace(profile.faults))

    def _build(self) -> None:
        """The phone's storage, packages, lock and shell from self.profile (at start, and after a reflash)."""
        now = self.now()
        self.lock = self.profile.lock
        self.su_paths = list(self.profile.su_paths)
        self.vfs = VirtualFileSystem(now)
        self.package_db = PackageDatabase(self.sdk, phone_zone(self.properties))
        self.installer = PackageInstaller(self)
        self.shell = Shell(build_commands(self), self.vfs.glob, self._write_from_shell)
        self._populate(now)

    def _populate(self, now: int) -> None:
        for entry in self.profile.files:
            self.vfs.write(entry.path, b"\0" * min(entry.size, 64), entry.mode, int(now - entry.age_days * 86400))
        for path in self.su_paths:
            self.vfs.write(path, b"\x7fELF", 0o6755, now - 86400 * 90, as_system=True)
        for item in self.profile.packages:
            system = item.system
            installed = datetime.fromtimestamp(now, timezone.utc) - timedelta(days=item.first_install_age_days or 0)
            if item.first_install_age_days is None:
                installed = datetime(2009, 1, 1, tzinfo=timezone.utc) if system else installed
            uid = 1000 if item.name == "android" else self.package_db.allocate_uid()
            self.package_db.add(InstalledPackage(
                name=item.name, version_code=item.version_code, uid=uid,
                apk_path=item.apk_path or default_apk_path(item.name, system),
                certificates=[simulated_certificate(item.signer or f"{item.name}-release")],
                version_name=item.version_name, installer=item.installer, system=system,
                first_install=installed, last_update=installed, min_sdk=item.min_sdk or 21,
                target_sdk=item.target_sdk or self.sdk, signing_version=2 if self.sdk >= 24 else 1,
            ))

    # ---- changes while it runs (tests, demos) ---------------------------------------------------------
    def change(self, *, properties: Mapping[str, str | None] | None = None,
               settings: Mapping[str, Mapping[str, str | None]] | None = None, lock: str | None = None,
               su_paths: Sequence[str] | None = None, uninstall: Iterable[str] = ()) -> None:
        """Change the running phone the way a person would (IT removes root, the holder sets a PIN, someone runs
        `adb tcpip 5555`). A property or setting given as None is removed; `su_paths` replaces the su binaries;
        `uninstall` removes packages, preinstalled ones too. Bad values raise ProfileInvalid naming the field and
        change nothing."""
        checked_properties = {str(key): _change_text(value, f"properties.{key}") for key, value in (properties or {}).items()}
        checked_settings = {}
        for namespace, values in (settings or {}).items():
            if namespace not in self.settings:
                raise ProfileInvalid(f"Phone change settings.{namespace} is unknown: use global, secure or system.")
            checked_settings[namespace] = {str(k): _change_text(v, f"settings.{namespace}.{k}") for k, v in values.items()}
        if lock is not None and lock not in LOCK_TYPES:
            raise ProfileInvalid(f"Phone change lock must be one of {', '.join(sorted(LOCK_TYPES))}, not {lock!r}.")
        if su_paths is not None and not all(isinstance(path, str) and path.startswith("/") for path in su_paths):
            raise ProfileInvalid("Phone change su_paths must be absolute paths.")
        for key, value in checked_properties.items():
            _set_or_remove(self.properties, key, value)
        for namespace, values in checked_settings.items():
            for key, value in values.items():
                _set_or_remove(self.settings[namespace], key, value)
        if lock is not None:
            self.lock = lock
        if su_paths is not None:
            for path in self.su_paths:
                self.vfs.remove(path)
            self.su_paths = list(su_paths)
            for path in self.su_paths:
                self.vfs.write(path, b"\x7fELF", 0o6755, self.now(), as_system=True)
        for name in uninstall:
            self.package_db.packages.pop(name, None)

    def reflash(self, profile: Profile | str) -> None:
        """Flash another profile's system and wipe the phone (how IT makes a rooted phone clean): properties,
        settings, packages, files, lock and root all come from `profile`; the serial and the fault switches stay,
        and so do open connections, as on a phone that was re-imaged between two plug-ins."""
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.properties, self.settings = _state_from(self.profile, self.serial)
        self._build()

    # ---- what the ADB server asks -----------------------------------------------------------------
    @property
    def sdk(self) -> int:
        try:
            return int(self.properties.get("ro.build.version.sdk", "0"))
        except ValueError:
            return 0

    @staticmethod
    def now() -> int:
        return int(time.time())

    def features(self) -> set[str]:
        if self.profile.adb_features is not None:
            return set(self.profile.adb_features)
        return set(next(features for minimum, features in FEATURES_BY_SDK if self.sdk >= minimum))

    def banner(self) -> str:
        props = self.properties
        return (f"device::ro.product.name={props.get('ro.product.name', '')};"
                f"ro.product.model={props.get('ro.product.model', '')};"
                f"ro.product.device={props.get('ro.product.device', '')};"
                f"features={','.join(sorted(self.features()))}")

    def run_shell(self, command: str) -> ShellOutcome:
        stdout, stderr, code = self.shell.run(command)
        if self.faults.garbage_output:
            stdout = self._garble(stdout)
        return ShellOutcome(stdout=stdout, stderr=stderr, exit_code=code)

    def run_command(self, argv: list[str], stdin: bytes = b"") -> ShellOutcome:
        """One command from the phone's table, without a shell: abb_exec, and streamed installs whose bytes
        arrived on the ADB stream."""
        command = self.shell.commands.get(argv[0]) if argv else None
        if command is None:
            return ShellOutcome(b"", f"/system/bin/sh: {argv[0] if argv else ''}: inaccessible or not found\n".encode(), 127)
        stdout, stderr, code = command(argv, stdin)
        if self.faults.garbage_output:
            stdout = self._garble(stdout)
        return ShellOutcome(stdout=stdout, stderr=stderr, exit_code=code)

    def _garble(self, data: bytes) -> bytes:
        """A flaky phone: output cut short, with random bytes spliced in."""
        rng = self._garbage_rng
        if not data:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        cut = rng.randrange(len(data) // 3, len(data)) if len(data) > 3 else len(data)
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(8, 128)))
        middle = rng.randrange(0, max(cut, 1))
        return data[:middle] + noise + data[middle:cut]

    def install_apk(self, data: bytes, options: list[str]) -> str:
        """Install one APK by Android's rules (simulator.installer); returns pm's reply line."""
        return self.installer.install(data, options)

    # ---- sync service -------------------------------------------------------------------------------
    def stat(self, path: str) -> FileStat | None:
        node = self.vfs.get(path)
        if node is None:
            return None
        return FileStat(mode=self.vfs.mode_bits(node), size=len(node.data) if not node.is_dir else 4096, mtime=node.mtime)

    def listdir(self, path: str) -> list[tuple[str, FileStat]] | None:
        entries = self.vfs.children(path)
        if entries is None:
            return None
        return [(name, FileStat(mode=self.vfs.mode_bits(node), size=len(node.data) if not node.is_dir else 4096,
                                mtime=node.mtime)) for name, node in entries]

    def read_file(self, path: str) -> bytes | None:
        node = self.vfs.get(path)
        return None if node is None or node.is_dir else node.data

    def write_file(self, path: str, data: bytes, mode: int, mtime: int) -> str | None:
        return self.vfs.write(path, data, mode, mtime or self.now())

    # ---- helpers for commands -------------------------------------------------------------------------
    def _write_from_shell(self, path: str, data: bytes, append: bool) -> str | None:
        existing = self.vfs.get(path)
        if append and existing is not None and not existing.is_dir:
            data = existing.data + data
        return self.vfs.write(path, data, 0o666, self.now())

    def uname(self, everything: bool) -> str:
        if not everything:
            return "Linux\n"
        kernel = "6.1.75-android14-11" if self.sdk >= 34 else ("5.10.177-android13" if self.sdk >= 31 else "4.4.153-perf")
        return f"Linux localhost {kernel} #1 SMP PREEMPT Mon Sep 1 00:00:00 UTC 2026 aarch64 Toybox\n"


def _state_from(profile: Profile, serial: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """A phone's own copies of the profile's properties (with its serial) and settings."""
    properties = dict(profile.properties)
    properties["ro.serialno"] = serial
    properties["ro.boot.serialno"] = serial
    return properties, {namespace: dict(values) for namespace, values in profile.settings.items()}


def _change_text(value: object, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ProfileInvalid(f"Phone change {where} must be a text value or None.")


def _set_or_remove(values: dict[str, str], key: str, value: str | None) -> None:
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value


def phone_zone(properties: dict[str, str]) -> tzinfo:
    """The phone's time zone (persist.sys.timezone), UTC when unset or unknown."""
    try:
        return ZoneInfo(properties.get("persist.sys.timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc
