"""The simulated package installer: Android's install rules, for one APK (`pm install`) and for an install session
(`pm install-create`, `install-write` per file, `install-commit` or `install-abandon`), which is how
`adb install-multiple` installs a base APK with its splits.

A session's files are checked at commit the way PackageInstallerSession.validateApkInstallLocked does
(frameworks/base services/core/java/com/android/server/pm/PackageInstallerSession.java): each split name once, one
base, and every file with the first file's package, version code and signers; a failure there is
INSTALL_FAILED_INVALID_APK with Android's own sentence. The committed set then meets the same rules as one APK.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from device_agent.simulator.packages import InstalledPackage, default_apk_path

if TYPE_CHECKING:
    from device_agent.simulator.phone import VirtualPhone
    from phonegate.core.apk import ApkInfo

STAGED_SINGLE = "/data/app/vmdl.tmp/base.apk"
MAX_SESSIONS = 50  # PackageInstallerService refuses more open sessions per installer (too many is a leak)


class InstallRefused(Exception):
    """pm's answer for a refused install, as the `Failure [CODE: detail]` line it prints."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"Failure [{code}: {detail}]")


class OutOfSpace(Exception):
    """No room on /data for what install-write is about to stage (Android: java.io.IOException)."""


class NoSuchSession(Exception):
    """The session id is not one of this phone's open sessions (Android: SecurityException, no access)."""


@dataclass
class InstallSession:
    session_id: int
    options: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # name as written -> bytes; a name written twice is replaced

    def staged_path(self, name: str) -> str:
        return f"/data/app/vmdl{self.session_id}.tmp/{name}"


class PackageInstaller:
    def __init__(self, phone: VirtualPhone) -> None:
        self.phone = phone
        self.sessions: dict[int, InstallSession] = {}
        # Android's session ids are random positive ints; these are stable per phone so its output repeats
        self._next_id = zlib.crc32(phone.serial.encode()) % 900_000_000 + 100_000_000

    # ---- one APK --------------------------------------------------------------------------------
    def install(self, data: bytes, options: list[str]) -> str:
        """Install (or update) from one APK; returns pm's reply line (`Success` or `Failure [...]`)."""
        try:
            apk = _read_apk(data, STAGED_SINGLE)
            self._install(apk, [], len(data), options)
        except InstallRefused as refused:
            return str(refused)
        return "Success"

    # ---- sessions ---------------------------------------------------------------------------------
    def create_session(self, options: list[str]) -> int:
        if len(self.sessions) >= MAX_SESSIONS:
            raise InstallRefused("INSTALL_FAILED_INTERNAL_ERROR", f"Too many active sessions: {len(self.sessions)}")
        session_id = self._next_id
        self._next_id += 1
        self.sessions[session_id] = InstallSession(session_id, list(options))
        return session_id

    def write(self, session_id: int, name: str, data: bytes) -> None:
        self._session(session_id).files[name] = data

    def allocate(self, session_id: int, name: str, size: int) -> None:
        """install-write -S SIZE reserves the space first (openWriteInternal: freeStorage, then posix_fallocate);
        a phone without it refuses that file with PackageManagerService.freeStorage's IOException."""
        self._session(session_id)
        staged = sum(len(data) for sid, s in self.sessions.items() for n, data in s.files.items()
                     if not (sid == session_id and n == name))
        if staged + size > self.phone.profile.storage_free_mb * 1024 * 1024:
            raise OutOfSpace(f"Failed to free {size} on storage device at /data")

    def abandon(self, session_id: int) -> None:
        self._session(session_id)
        del self.sessions[session_id]

    def commit(self, session_id: int) -> str:
        """Check the session's files as one set and install them; the session is gone afterwards either way."""
        session = self._session(session_id)
        del self.sessions[session_id]
        try:
            base, splits = _check_set(session)
            self._install(base, splits, sum(len(data) for data in session.files.values()), session.options)
        except InstallRefused as refused:
            return str(refused)
        return "Success"

    def _session(self, session_id: int) -> InstallSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise NoSuchSession(f"Caller has no access to session {session_id}")
        return session

    # ---- the rules both share ---------------------------------------------------------------------
    def _install(self, apk: ApkInfo, splits: list[str], size: int, options: list[str]) -> None:
        phone = self.phone
        if apk.min_sdk is not None and apk.min_sdk > phone.sdk:
            raise InstallRefused("INSTALL_FAILED_OLDER_SDK", f"Failed parse during installPackageLI: {STAGED_SINGLE} "
                                 f"(at Binary XML file line #7): Requires newer sdk version #{apk.min_sdk} "
                                 f"(current version is #{phone.sdk})")
        if phone.faults.install_failure:
            raise InstallRefused(phone.faults.install_failure, "simulated failure")
        if size * 2 > phone.profile.storage_free_mb * 1024 * 1024:  # the APKs plus their optimised code must fit
            raise InstallRefused("INSTALL_FAILED_INSUFFICIENT_STORAGE", "Failed to allocate space for the package")
        existing = phone.package_db.packages.get(apk.package)
        if existing is not None:
            if sorted(existing.certificates) != sorted(apk.certificates):
                raise InstallRefused("INSTALL_FAILED_UPDATE_INCOMPATIBLE",
                                     f"Existing package {apk.package} signatures do not match newer version; ignoring!")
            if phone.sdk < 24 and "-r" not in options:
                raise InstallRefused("INSTALL_FAILED_ALREADY_EXISTS",
                                     f"Attempt to re-install {apk.package} without first uninstalling.")
            if apk.version_code < existing.version_code and "-d" not in options:
                raise InstallRefused("INSTALL_FAILED_VERSION_DOWNGRADE", f"Downgrade detected: Update version code "
                                     f"{apk.version_code} is older than current {existing.version_code}")
        now = datetime.fromtimestamp(phone.now(), timezone.utc)
        installer = options[options.index("-i") + 1] if "-i" in options and options.index("-i") + 1 < len(options) else None
        phone.package_db.add(InstalledPackage(
            name=apk.package, version_code=apk.version_code, version_name=apk.version_name,
            uid=existing.uid if existing else phone.package_db.allocate_uid(),
            apk_path=existing.apk_path if existing else default_apk_path(apk.package, False),
            certificates=list(apk.certificates), installer=installer if installer else (existing.installer if existing else None),
            system=False, first_install=existing.first_install if existing else now, last_update=now,
            min_sdk=apk.min_sdk or 1, target_sdk=apk.target_sdk or apk.min_sdk or phone.sdk,
            signing_version=max((int(s[1]) for s in apk.schemes if s[1:].isdigit()), default=1),
            splits=splits,  # a full install replaces every split the package had
        ))


def _read_apk(data: bytes, staged_path: str) -> ApkInfo:
    from phonegate.core.apk import ApkInvalid, inspect_apk_bytes  # the APK reader is needed only for installs

    try:
        return inspect_apk_bytes(data)
    except ApkInvalid as exc:
        reason = str(exc)
        if "not a zip" in reason.lower() or "not an apk" in reason.lower():
            raise InstallRefused("INSTALL_PARSE_FAILED_NOT_APK", f"Failed to parse {staged_path}") from None
        if "unsigned" in reason.lower() or "no signature" in reason.lower():
            raise InstallRefused("INSTALL_PARSE_FAILED_NO_CERTIFICATES", "No APK Signature Scheme signature found") from None
        raise InstallRefused("INSTALL_FAILED_INVALID_APK", reason) from None


def _check_set(session: InstallSession) -> tuple[ApkInfo, list[str]]:
    """(the base APK, the split names) of a consistent set, else InstallRefused as Android words it."""
    if not session.files:
        raise InstallRefused("INSTALL_FAILED_INVALID_APK", "No packages staged")
    first: ApkInfo | None = None
    base: ApkInfo | None = None
    splits: list[str] = []
    seen: set[str | None] = set()
    for name, data in session.files.items():
        tag = session.staged_path(name)
        apk = _read_apk(data, tag)
        split = apk.split_name
        if split in seen:
            # Java prints the base's missing split name as null
            raise InstallRefused("INSTALL_FAILED_INVALID_APK", f"Split {split or 'null'} was defined multiple times")
        seen.add(split)
        first = first or apk
        if apk.package != first.package:
            raise InstallRefused("INSTALL_FAILED_INVALID_APK", f"{tag} package {apk.package} inconsistent with {first.package}")
        if apk.version_code != first.version_code:
            raise InstallRefused("INSTALL_FAILED_INVALID_APK",
                                 f"{tag} version code {apk.version_code} inconsistent with {first.version_code}")
        if sorted(apk.certificates) != sorted(first.certificates):
            raise InstallRefused("INSTALL_FAILED_INVALID_APK", f"{tag} signatures are inconsistent")
        if split is None:
            base = apk
        else:
            splits.append(split)
    if base is None:
        raise InstallRefused("INSTALL_FAILED_INVALID_APK", "Full install must include a base package")
    return base, splits

