"""Reading and verifying APKs: package name, versions, minimum SDK, and the signer certificates' SHA-256.

Library choice: apkInspector (PyPI `apkInspector`, maintained, no dependencies) decodes the binary
AndroidManifest.xml. It only parses; it does not verify signatures, and neither does androguard 4.x (which
reads v1/v2/v3 certificates but does not check content digests, and pulls in a large dependency tree). So
PhoneGate verifies signatures itself with `cryptography`: v2/v3 following the public APK Signature Scheme
spec (signing_block.py) and v1 JAR signatures (jar_signature.py). Tests cross-check every verdict and digest
against Debian's `apksigner verify --print-certs`.

Everything wrong with an APK raises ApkInvalid (a BadInput) with a sentence saying what. Every entry is read
through phonegate.core.bounded_zip.BoundedArchive, so a zip bomb costs milliseconds, never gigabytes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from cryptography.exceptions import UnsupportedAlgorithm

from phonegate.core.apk.jar_signature import JarSignatureError, signature_files, verify_jar
from phonegate.core.apk.signing_block import V2_ID, V3_ID, SigningBlockError, find_signing_block, verify_scheme, zip_layout
from phonegate.core.bounded_zip import MIB, ZIP_ERRORS, BoundedArchive, ZipLimitExceeded, ZipLimits
from phonegate.core.errors import BadInput

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
# A real WhatsApp APK has about 3,000 entries, a manifest under 1 MiB and nothing compressed much beyond 10:1.
APK_LIMITS = ZipLimits(kind="an APK", max_entries=50_000, max_directory_bytes=16 * MIB, max_entry_bytes=1024 * MIB,
                       max_total_bytes=4096 * MIB)
MAX_MANIFEST_BYTES = 8 * MIB  # AndroidManifest.xml, uncompressed


class ApkInvalid(BadInput):
    """The file is not a valid, correctly signed APK."""


@dataclass
class ApkInfo:
    package: str
    version_code: int
    version_name: str | None
    min_sdk: int | None
    signer_sha256: list[str]  # lower-case hex, one per signer certificate
    schemes: set[str]  # {"v1", "v2", "v3"}
    sha256: str  # of the whole file
    size: int
    target_sdk: int | None = None
    certificates: list[bytes] = field(default_factory=list, repr=False)  # signer certificates, DER
    split_name: str | None = None  # the manifest's `split` attribute (e.g. "config.arm64_v8a"); None for a base APK


def inspect_apk(path: str | Path) -> ApkInfo:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ApkInvalid(f"Cannot read APK {path}: {exc.strerror or exc}.") from None
    return inspect_apk_bytes(data)


def inspect_apk_bytes(data: bytes) -> ApkInfo:
    try:
        return _inspect(data)
    except ZipLimitExceeded as exc:
        raise ApkInvalid(f"The file is refused as an APK: {exc}.") from None


def _inspect(data: bytes) -> ApkInfo:
    try:
        archive = BoundedArchive(data, APK_LIMITS)
        names = set(archive.namelist())
    except ZipLimitExceeded:
        raise
    except ZIP_ERRORS:
        raise ApkInvalid("The file is not an APK: it is not a zip archive.") from None
    if len(names) != len(archive.infolist()):
        # two entries with one name: readers disagree about which one counts, a classic way to smuggle content
        raise ApkInvalid("The APK has two entries with the same name; Android refuses such files.")
    if "AndroidManifest.xml" not in names:
        raise ApkInvalid("The file is not an APK: it has no AndroidManifest.xml.")
    package, version_code, version_name, min_sdk, target_sdk, split_name = _read_manifest(archive)
    certificates, schemes = _verify_signatures(data, archive)
    if target_sdk is not None and target_sdk >= 30 and not schemes & {"v2", "v3"}:
        # Android 11 refuses these, and so does apksigner: a v1 signature leaves parts of the file unprotected
        raise ApkInvalid(f"The APK targets SDK {target_sdk}, which needs an APK Signature Scheme v2 or v3 signature; it has only v1.")
    return ApkInfo(
        package=package, version_code=version_code, version_name=version_name, min_sdk=min_sdk,
        signer_sha256=[hashlib.sha256(cert).hexdigest() for cert in certificates], schemes=schemes,
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), target_sdk=target_sdk, certificates=certificates,
        split_name=split_name,
    )


def _import_manifest_decoder():
    # apkInspector.axml calls logging.basicConfig(level=DEBUG) when it is imported. In a process that has not set up
    # logging yet, that would switch on DEBUG output for every library (and with it data we never log), so whatever
    # it added to the root logger is taken back.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from apkInspector.axml import get_manifest

    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    return get_manifest


def _read_manifest(archive: BoundedArchive) -> tuple[str, int, str | None, int | None, int | None, str | None]:
    get_manifest = _import_manifest_decoder()

    try:
        raw = archive.read("AndroidManifest.xml", limit=MAX_MANIFEST_BYTES)
    except ZipLimitExceeded:
        raise
    except ZIP_ERRORS as exc:
        raise ApkInvalid(f"The APK's AndroidManifest.xml cannot be read ({type(exc).__name__}).") from None
    try:
        text = get_manifest(io.BytesIO(raw))
        root = ElementTree.fromstring(text)
    except Exception as exc:  # the decoder raises many kinds of errors on hostile input
        raise ApkInvalid(f"The APK's AndroidManifest.xml cannot be read ({type(exc).__name__}).") from None
    package = root.get("package")
    if root.tag != "manifest" or not package:
        raise ApkInvalid("The APK's AndroidManifest.xml names no package.")
    version_code = _int(root.get(ANDROID_NS + "versionCode"))
    if version_code is None:
        raise ApkInvalid("The APK's AndroidManifest.xml has no valid versionCode.")
    uses_sdk = root.find("uses-sdk")
    min_sdk = _int(uses_sdk.get(ANDROID_NS + "minSdkVersion")) if uses_sdk is not None else None
    target_sdk = _int(uses_sdk.get(ANDROID_NS + "targetSdkVersion")) if uses_sdk is not None else None
    # `split` has no namespace, as aapt writes it and as Android's parser reads it (ApkLite.splitName)
    split_name = root.get("split") or None
    return (package, version_code, root.get(ANDROID_NS + "versionName"), min_sdk if uses_sdk is not None else 1, target_sdk,
            split_name)


def _int(value: str | None) -> int | None:
    try:
        return int(value, 0) if value is not None else None
    except ValueError:
        return None


def _verify_signatures(data: bytes, archive: BoundedArchive) -> tuple[list[bytes], set[str]]:
    schemes: set[str] = set()
    signer_sets: dict[str, list[bytes]] = {}
    try:
        layout = zip_layout(data)
        block = find_signing_block(data, layout)
        if block is not None:
            offset, pairs = block
            for scheme, pair_id in (("v3", V3_ID), ("v2", V2_ID)):
                if pair_id in pairs:
                    signer_sets[scheme] = verify_scheme(data, layout, offset, pairs[pair_id], scheme).certificates
                    schemes.add(scheme)
    except SigningBlockError as exc:
        raise ApkInvalid(f"The APK's signature does not verify: {str(exc).rstrip('.')}.") from None
    except (ValueError, TypeError, IndexError, struct.error, UnsupportedAlgorithm):
        # a certificate or key inside the signing block that cannot even be decoded
        raise ApkInvalid("The APK's signature does not verify: its signing block holds an unreadable key or certificate.") from None
    try:
        if signature_files(archive):
            certificates, also_signed = verify_jar(archive)
            signer_sets["v1"] = certificates
            schemes.add("v1")
            stripped = {f"v{n}" for n in also_signed} - schemes
            if stripped:
                raise ApkInvalid(f"The APK's {sorted(stripped)[0]} signature was removed after signing.")
    except JarSignatureError as exc:
        raise ApkInvalid(f"The APK's v1 signature does not verify: {exc}.") from None
    except ZipLimitExceeded:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ApkInvalid(f"The APK has a corrupt entry and cannot be trusted ({exc}).") from None
    except (ValueError, TypeError, IndexError, UnsupportedAlgorithm):
        raise ApkInvalid("The APK's v1 signature does not verify: its signature block is unreadable.") from None
    if not signer_sets:
        raise ApkInvalid("The APK is unsigned (no v1, v2 or v3 signature).")
    strongest = next(signer_sets[s] for s in ("v3", "v2", "v1") if s in signer_sets)
    # v3 may legitimately name a newer (rotated) key than v1/v2; v1 and v2 must agree with each other
    if "v1" in signer_sets and "v2" in signer_sets and sorted(signer_sets["v1"]) != sorted(signer_sets["v2"]):
        raise ApkInvalid("The APK's v1 and v2 signatures name different signers.")
    return strongest, schemes
