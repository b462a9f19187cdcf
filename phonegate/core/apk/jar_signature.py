"""APK v1 (JAR) signature verification: META-INF/*.SF signed by a PKCS#7 block, digests of every entry.

Checks, as Android's verifier does for v1: the PKCS#7 signature over the .SF file verifies with the signer
certificate (with or without signed attributes), the .SF's digest of MANIFEST.MF (or of each manifest section)
matches, every non-META-INF entry is listed in MANIFEST.MF with a matching digest and nothing listed is missing.
A .SF saying `X-Android-APK-Signed: 2` (or 3) on an APK without that block means a newer signature was stripped.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from phonegate.core.apk.der import DerError, Tlv, oid_text, read_one
from phonegate.core.bounded_zip import BoundedArchive

DIGEST_NAMES = {"SHA-256": "sha256", "SHA-512": "sha512", "SHA-384": "sha384", "SHA1": "sha1", "SHA-1": "sha1"}
OID_HASHES = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256, "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512, "1.3.14.3.2.26": hashes.SHA1,
}
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


class JarSignatureError(ValueError):
    pass


def signature_files(archive: BoundedArchive) -> list[tuple[str, str]]:
    """(.SF name, signature block name) pairs under META-INF/."""
    names = set(archive.namelist())
    pairs = []
    for name in sorted(names):
        upper = name.upper()
        if upper.startswith("META-INF/") and upper.endswith(".SF") and name.count("/") == 1:
            base = name[:-3]
            block = next((base + ext for ext in (".RSA", ".EC", ".DSA") if base + ext in names), None)
            if block is None:
                raise JarSignatureError(f"{name} has no matching signature block (.RSA/.EC/.DSA)")
            pairs.append((name, block))
    return pairs


def verify_jar(archive: BoundedArchive) -> tuple[list[bytes], set[int]]:
    """Verify the v1 signature; returns (signer certificates as DER, schemes the .SF says were also applied)."""
    pairs = signature_files(archive)
    if not pairs:
        raise JarSignatureError("no v1 signature")
    try:
        manifest = archive.read("META-INF/MANIFEST.MF")
    except KeyError:
        raise JarSignatureError("META-INF/MANIFEST.MF is missing") from None
    main, sections, raw_sections = _parse_manifest(manifest)
    certificates, also_signed = [], set()
    for sf_name, block_name in pairs:
        sf = archive.read(sf_name)
        certificates.append(_verify_block(archive.read(block_name), sf))
        sf_main, sf_sections, _ = _parse_manifest(sf)
        also_signed |= {int(part.strip()) for part in sf_main.get("X-Android-APK-Signed", "").split(",") if part.strip().isdigit()}
        if not _whole_manifest_matches(sf_main, manifest):
            for name, attributes in sf_sections.items():
                if name not in raw_sections or not _digest_matches(attributes, raw_sections[name]):
                    raise JarSignatureError(f"the signature file does not match MANIFEST.MF for {name}")
    for info in archive.infolist():
        name = info.filename
        if name.endswith("/") or name.upper().startswith("META-INF/"):
            continue
        if name not in sections:
            raise JarSignatureError(f"{name} is not covered by the v1 signature")
        if not _digest_matches(sections[name], archive.read(name)):
            raise JarSignatureError(f"{name} was changed after signing (v1 digest mismatch)")
    present = {info.filename for info in archive.infolist()}
    missing = [name for name in sections if name not in present]
    if missing:
        raise JarSignatureError(f"{missing[0]} is listed in MANIFEST.MF but missing from the APK")
    return certificates, also_signed


def _parse_manifest(data: bytes) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, bytes]]:
    """Main attributes, per-entry attributes, and each entry section's raw bytes (what the .SF digests)."""
    text = data.replace(b"\r\n", b"\n")
    chunks = text.split(b"\n\n")
    # raw sections must keep the original line endings, so find them in the original bytes
    raw_parts = data.split(b"\r\n\r\n") if b"\r\n\r\n" in data else data.split(b"\n\n")
    separator = b"\r\n\r\n" if b"\r\n\r\n" in data else b"\n\n"
    main: dict[str, str] = {}
    sections: dict[str, dict[str, str]] = {}
    raw_sections: dict[str, bytes] = {}
    for index, chunk in enumerate(chunks):
        attributes = _attributes(chunk)
        if index == 0:
            main = attributes
            continue
        if "Name" in attributes:
            sections[attributes["Name"]] = attributes
            if index < len(raw_parts):
                raw_sections[attributes["Name"]] = raw_parts[index] + separator
    return main, sections, raw_sections


def _attributes(chunk: bytes) -> dict[str, str]:
    lines: list[str] = []
    for line in chunk.decode("utf-8", "replace").split("\n"):
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        elif line:
            lines.append(line)
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def _digest_matches(attributes: dict[str, str], content: bytes) -> bool:
    found = False
    for key, value in attributes.items():
        if key.endswith("-Digest"):
            name = DIGEST_NAMES.get(key[: -len("-Digest")])
            if name is None:
                continue
            found = True
            if base64.b64decode(value) != hashlib.new(name, content).digest():
                return False
    return found


def _whole_manifest_matches(sf_main: dict[str, str], manifest: bytes) -> bool:
    for key, value in sf_main.items():
        if key.endswith("-Digest-Manifest"):
            name = DIGEST_NAMES.get(key[: -len("-Digest-Manifest")])
            if name and base64.b64decode(value) == hashlib.new(name, manifest).digest():
                return True
    return False


def _verify_block(block: bytes, signed: bytes) -> bytes:
    """Verify a PKCS#7 SignedData over `signed`; return the signer certificate's DER."""
    try:
        content_info, _ = read_one(block)
        signed_data = content_info.children()[1].children()[0]  # [0] EXPLICIT SignedData
        parts = signed_data.children()
        cert_set = next((p for p in parts if p.tag == 0xA0), None)
        signer_infos = parts[-1].children()
        if cert_set is None or not signer_infos:
            raise JarSignatureError("the v1 signature block has no certificate or signer")
        certificates = [c.raw for c in cert_set.children()]
        signer = signer_infos[0].children()
        serial = signer[1].children()[1].value
        digest_oid = oid_text(signer[2].children()[0].value)
        signed_attrs = next((s for s in signer if s.tag == 0xA0), None)
        signature = signer[-1].value
    except (DerError, IndexError) as exc:
        raise JarSignatureError(f"the v1 signature block is malformed ({exc})") from None
    hash_cls = OID_HASHES.get(digest_oid)
    if hash_cls is None:
        raise JarSignatureError(f"the v1 signature uses an unsupported digest ({digest_oid})")
    cert_der = next((c for c in certificates if x509.load_der_x509_certificate(c).serial_number
                     == int.from_bytes(serial, "big", signed=True)), certificates[0])
    message = signed
    if signed_attrs is not None:
        message = b"\x31" + signed_attrs.raw[1:]  # signed attributes are signed as a SET OF
        if _message_digest(signed_attrs) != hashlib.new(hash_cls.name, signed).digest():
            raise JarSignatureError("the v1 signature's message digest does not match the signature file")
    key = x509.load_der_x509_certificate(cert_der).public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hash_cls())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hash_cls()))
        else:
            raise JarSignatureError("the v1 signer uses an unsupported key type")
    except InvalidSignature:
        raise JarSignatureError("the v1 signature does not verify") from None
    return cert_der


def _message_digest(signed_attrs: Tlv) -> bytes | None:
    for attribute in signed_attrs.children():
        items = attribute.children()
        if items and oid_text(items[0].value) == OID_MESSAGE_DIGEST:
            return items[1].children()[0].value
    return None
