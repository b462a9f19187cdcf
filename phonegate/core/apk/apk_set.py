"""An APK set: a base APK and its splits (how the stores and bundletool ship WhatsApp Business), verified as one.

Android checks a set only when it is committed (PackageInstallerSession.validateInstallLocked): exactly one base,
each split name once, and every file with the base's package, versionCode and signing certificates. PhoneGate makes
the same checks before a set enters the catalogue and again before it goes to a phone, so a phone is never handed a
set it would refuse, and a split signed by someone else never rides in beside a pinned base.

Each file is read by inspect_apk (each one bounded by APK_LIMITS through bounded_zip); the set as a whole is bounded
by SET_LIMITS, checked from the files' sizes before any of them is opened.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from phonegate.core.apk import APK_LIMITS, ApkInfo, ApkInvalid, inspect_apk

BASE_NAME = "base.apk"


@dataclass(frozen=True)
class ApkSetLimits:
    max_files: int
    max_total_bytes: int  # all files together, as stored (each file's own contents are bounded by APK_LIMITS)


# bundletool makes a split per ABI, screen density and language: a full set for one phone is a handful of files, and
# even a set with every language split stays well under a hundred.
SET_LIMITS = ApkSetLimits(max_files=100, max_total_bytes=APK_LIMITS.max_total_bytes)


@dataclass(frozen=True)
class ApkSetFile:
    path: Path
    info: ApkInfo

    @property
    def name(self) -> str:
        """The name Android gives the file once installed: base.apk, or split_<split name>.apk."""
        return install_name(self.info.split_name)


@dataclass(frozen=True)
class ApkSet:
    files: tuple[ApkSetFile, ...]  # in set order: the base first, then the splits by split name
    sha256: str  # the set's identity: see set_sha256
    size: int  # all files together

    @property
    def base(self) -> ApkInfo:
        return self.files[0].info

    @property
    def split_names(self) -> list[str]:
        return [f.info.split_name for f in self.files[1:] if f.info.split_name]


def install_name(split_name: str | None) -> str:
    return BASE_NAME if split_name is None else f"split_{split_name}.apk"


def set_sha256(files: Sequence[tuple[str, str]]) -> str:
    """The identity of a set from its (name, file SHA-256) pairs, given in set order (base first, then the splits
    sorted by split name). One file is a single APK: its identity is the file's own SHA-256, as it always was, so
    single-APK catalogue entries, grants and download addresses do not change. Several files: the SHA-256 of the
    text made of one line "<file sha256> <name>\\n" per file, in that order. Names are install_name()s, so the
    identity changes if a file changes, is added or removed, or plays another part in the set."""
    if len(files) == 1:
        return files[0][1]
    text = "".join(f"{sha256} {name}\n" for name, sha256 in files)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def inspect_apk_set(paths: Sequence[str | os.PathLike[str]], limits: ApkSetLimits = SET_LIMITS) -> ApkSet:
    """Verify every file and the set as one; raises ApkInvalid naming the file and the rule it breaks."""
    files = [Path(p) for p in paths]
    if not files:
        raise ApkInvalid("No APK was given.")
    if len(files) > limits.max_files:
        raise ApkInvalid(f"The set has {len(files)} files, more than an APK set may have ({limits.max_files}).")
    if len({f.resolve() for f in files}) != len(files):
        raise ApkInvalid("The same file is given twice.")
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except OSError as exc:
            raise ApkInvalid(f"Cannot read APK {path}: {exc.strerror or exc}.") from None
    if total > limits.max_total_bytes:
        raise ApkInvalid(f"The set is {total:,} bytes, more than an APK set may be ({limits.max_total_bytes:,}).")

    inspected = []
    for path in files:
        try:
            inspected.append(ApkSetFile(path, inspect_apk(path)))
        except ApkInvalid as exc:
            raise ApkInvalid(f"{path.name}: {exc}") from None
    return _as_one_set(inspected, total)


def _as_one_set(inspected: list[ApkSetFile], total: int) -> ApkSet:
    bases = [f for f in inspected if f.info.split_name is None]
    if not bases:
        raise ApkInvalid("The set has no base APK: every file is a split. Add the base APK.")
    if len(bases) > 1:
        raise ApkInvalid(f"The set has two base APKs ({bases[0].path.name} and {bases[1].path.name}); give exactly one.")
    base = bases[0]
    seen: dict[str, Path] = {}
    for item in inspected:
        split, info = item.info.split_name, item.info
        if split is None:
            continue
        if split in seen:
            raise ApkInvalid(f"Split {split} is in the set twice ({seen[split].name} and {item.path.name}).")
        if "/" in split or "\0" in split or split in (".", ".."):  # Android: FileUtils.isValidExtFilename
            raise ApkInvalid(f"{item.path.name} has an invalid split name.")
        seen[split] = item.path
        if info.package != base.info.package:
            raise ApkInvalid(f"{item.path.name} is a split of {info.package}, not of the base's {base.info.package}.")
        if info.version_code != base.info.version_code:
            raise ApkInvalid(f"{item.path.name} has versionCode {info.version_code}, not the base's {base.info.version_code}.")
        if sorted(info.signer_sha256) != sorted(base.info.signer_sha256):
            raise ApkInvalid(f"{item.path.name} is signed by another certificate than the base "
                             f"(SHA-256 {sorted(info.signer_sha256)[0]}).")
    ordered = (base, *sorted((f for f in inspected if f is not base), key=lambda f: f.info.split_name or ""))
    return ApkSet(files=ordered, sha256=set_sha256([(f.name, f.info.sha256) for f in ordered]), size=total)
