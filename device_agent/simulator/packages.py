"""The simulated package manager: installed packages, `pm list packages`, `dumpsys package`, install rules.

Signing identities: a package installed from a real APK keeps the APK's certificate DER bytes; a package that
a profile declares names a `signer` label, turned into stand-in certificate bytes by simulated_certificate(),
so both kinds print the same way. `dumpsys package` shows, as Android does, Java's `Arrays.hashCode` of each
certificate's bytes (Signature.hashCode) inside `signatures=PackageSignatures{...}`; it never prints SHA-256.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo

from device_agent.parsers.dumpsys_package import java_signature_hashcode


def simulated_certificate(label: str) -> bytes:
    """Stand-in certificate bytes for a profile's signer label (only ever hashed, never parsed)."""
    return b"PhoneGate simulated signing certificate: " + label.encode("utf-8")


@dataclass
class InstalledPackage:
    name: str
    version_code: int
    uid: int
    apk_path: str
    certificates: list[bytes] = field(default_factory=list)
    version_name: str | None = None
    installer: str | None = None
    system: bool = False
    first_install: datetime | None = None
    last_update: datetime | None = None
    min_sdk: int = 21
    target_sdk: int = 34
    signing_version: int = 2
    splits: list[str] = field(default_factory=list)  # split APK names beside base.apk (config.xxhdpi, ...)

    @property
    def signer_sha256(self) -> list[str]:
        return [hashlib.sha256(cert).hexdigest() for cert in self.certificates]


class PackageDatabase:
    def __init__(self, sdk: int, zone: tzinfo = timezone.utc) -> None:
        self.sdk = sdk
        self.zone = zone  # dumpsys prints times in the phone's local zone
        self.packages: dict[str, InstalledPackage] = {}
        self._next_uid = 10150

    def allocate_uid(self) -> int:
        self._next_uid += 1
        return self._next_uid

    def add(self, package: InstalledPackage) -> None:
        self.packages[package.name] = package

    # ---- pm list packages -----------------------------------------------------------------------
    def list_packages(self, args: list[str]) -> tuple[str, str, int]:
        show_path = show_installer = show_uid = show_version = False
        only_system = only_third_party = False
        name_filter = ""
        for arg in args:
            if arg == "-f":
                show_path = True
            elif arg == "-i":
                show_installer = True
            elif arg == "-U":
                show_uid = True
            elif arg == "--show-versioncode" and self.sdk >= 28:
                show_version = True
            elif arg == "-s":
                only_system = True
            elif arg == "-3":
                only_third_party = True
            elif arg in ("-u", "-e", "-d", "-a", "--user", "0", "--apex-only") or arg.startswith("--user"):
                continue
            elif arg.startswith("-"):
                return "", f"Error: Unknown option: {arg}\n", 255
            else:
                name_filter = arg
        lines = []
        for package in sorted(self.packages.values(), key=lambda p: p.uid):
            if (only_system and not package.system) or (only_third_party and package.system):
                continue
            if name_filter and name_filter not in package.name:
                continue
            line = "package:" + (package.apk_path + "=" if show_path else "") + package.name
            if show_version:
                line += f" versionCode:{package.version_code}"
            if show_installer:
                line += f"  installer={package.installer or 'null'}"
            if show_uid:
                line += f" uid:{package.uid}"
            lines.append(line)
        return "".join(line + "\n" for line in lines), "", 0

    def path(self, name: str) -> tuple[str, str, int]:
        package = self.packages.get(name)
        if package is None:
            return "", "", 1
        code_dir = package.apk_path.rsplit("/", 1)[0]
        lines = [package.apk_path] + [f"{code_dir}/split_{split}.apk" for split in package.splits]
        return "".join(f"package:{line}\n" for line in lines), "", 0

    # ---- dumpsys package NAME -------------------------------------------------------------------
    def dumpsys(self, name: str) -> str:
        package = self.packages.get(name)
        if package is None:
            return f"Unable to find package: {name}\n"
        hashcodes = ", ".join(java_signature_hashcode(cert) for cert in package.certificates)
        code_dir = package.apk_path.rsplit("/", 1)[0]
        uid_key = "appId" if self.sdk >= 33 else "userId"
        ident = format(zlib.crc32(name.encode()) | 0x10000000, "x")
        first = _stamp(package.first_install, self.zone)
        last = _stamp(package.last_update, self.zone)
        lines = [
            "Activity Resolver Table:",
            "  Non-Data Actions:",
            "      android.intent.action.MAIN:",
            f"        {ident[:7]} {name}/.Main filter {ident[1:8]}",
            '          Action: "android.intent.action.MAIN"',
            '          Category: "android.intent.category.LAUNCHER"',
            "",
            "Key Set Manager:",
            f"  [{name}]",
            f"      Signing KeySets: {package.uid % 97 + 3}",
            "",
            "Packages:",
            f"  Package [{name}] ({ident[:7]}):",
            f"    {uid_key}={package.uid}",
            f"    pkg=Package{{{ident[2:9]} {name}}}",
            f"    codePath={code_dir}",
            f"    resourcePath={code_dir}",
            f"    legacyNativeLibraryDir={code_dir}/lib",
            "    primaryCpuAbi=arm64-v8a",
            "    secondaryCpuAbi=null",
            f"    versionCode={package.version_code} minSdk={package.min_sdk} targetSdk={package.target_sdk}",
            f"    versionName={package.version_name or 'null'}",
            f"    splits=[{', '.join(['base', *package.splits])}]",
            f"    apkSigningVersion={package.signing_version}",
            f"    flags=[ {'SYSTEM ' if package.system else ''}HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]",
            f"    dataDir=/data/user/0/{name}",
            f"    timeStamp={last}",
        ]
        if self.sdk < 33:
            lines.append(f"    firstInstallTime={first}")
        lines += [
            f"    lastUpdateTime={last}",
            f"    installerPackageName={package.installer or 'null'}",
        ]
        if self.sdk >= 30:
            lines.append(f"    initiatingPackageName={package.installer or 'com.android.shell'}")
        if self.sdk >= 28:
            lines.append(f"    signatures=PackageSignatures{{{ident[3:10]} version:{package.signing_version}, "
                         f"signatures:[{hashcodes}], past signatures:[]}}")
        else:
            lines.append(f"    signatures=PackageSignatures{{{ident[3:10]} [{hashcodes}]}}")
        lines += [
            "    installPermissionsFixed=true",
            f"    pkgFlags=[ {'SYSTEM ' if package.system else ''}HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]",
            "    install permissions:",
            "      android.permission.INTERNET: granted=true",
            f"    User 0: ceDataInode={package.uid * 7} installed=true hidden=false suspended=false stopped=false "
            "notLaunched=false enabled=0 instant=false virtual=false",
        ]
        if self.sdk >= 33:
            lines.append(f"      firstInstallTime={first}")
        lines.append("      runtime permissions:")
        return "\n".join(lines) + "\n"


def default_apk_path(name: str, system: bool) -> str:
    if system:
        return f"/system/priv-app/{name.rsplit('.', 1)[-1].capitalize()}/{name.rsplit('.', 1)[-1].capitalize()}.apk"
    # Android's random install folder, made stable per package name so the same phone prints the same paths
    token = format(zlib.crc32(name.encode()) * 2654435761 % (1 << 60), "x")
    return f"/data/app/~~{token[:11]}A==/{name}-{token[3:14]}Q==/base.apk"


def _stamp(moment: datetime | None, zone: tzinfo) -> str:
    moment = moment or datetime(2009, 1, 1, tzinfo=timezone.utc)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
