"""APK Signature Scheme v2 and v3: find the APK Signing Block and verify it, following Android's public spec.

Verification (source.android.com/docs/security/features/apksigning/v2 and /v3):
1. the block sits right before the ZIP Central Directory, framed by its size and the magic "APK Sig Block 42";
2. for each signer, every signature over `signed data` verifies with the signer's public key, and that key is
   the one in the first certificate;
3. the digest algorithms listed in `signed data` are the signatures' algorithms, and each content digest
   equals the digest we compute over the file: 1 MiB chunks of the ZIP entries, the Central Directory and the
   End of Central Directory (with its Central Directory offset pointing at the signing block), hashed as
   H(0x5a || count || H(0xa5 || len || chunk)...).
Any mismatch raises SigningBlockError; tampering with any byte of the file outside the block is caught by step 3.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa

MAGIC = b"APK Sig Block 42"
V2_ID = 0x7109871A
V3_ID = 0xF05368C0
CHUNK = 1024 * 1024

# algorithm id -> (kind, hash for the signature, hash for the content digest)
ALGORITHMS = {
    0x0101: ("rsa-pss", hashes.SHA256, "sha256"),
    0x0102: ("rsa-pss", hashes.SHA512, "sha512"),
    0x0103: ("rsa-pkcs1", hashes.SHA256, "sha256"),
    0x0104: ("rsa-pkcs1", hashes.SHA512, "sha512"),
    0x0201: ("ecdsa", hashes.SHA256, "sha256"),
    0x0202: ("ecdsa", hashes.SHA512, "sha512"),
    0x0301: ("dsa", hashes.SHA256, "sha256"),
}
VERITY_ALGORITHMS = {0x0421, 0x0423, 0x0425}  # Merkle-tree digests; used only beside a non-verity one


class SigningBlockError(ValueError):
    pass


@dataclass
class ZipLayout:
    cd_offset: int
    cd_size: int
    eocd_offset: int


@dataclass
class SchemeResult:
    scheme: str  # "v2" or "v3"
    certificates: list[bytes]  # DER of each signer's first (signing) certificate


def zip_layout(data: bytes) -> ZipLayout:
    search_from = max(0, len(data) - 22 - 0xFFFF)
    index = data.rfind(b"PK\x05\x06", search_from)
    while index >= 0:
        if index + 22 <= len(data):
            comment_length = struct.unpack_from("<H", data, index + 20)[0]
            if index + 22 + comment_length == len(data):
                cd_size, cd_offset = struct.unpack_from("<II", data, index + 12)
                if cd_offset + cd_size <= index:
                    return ZipLayout(cd_offset, cd_size, index)
        index = data.rfind(b"PK\x05\x06", search_from, index)
    raise SigningBlockError("not a zip archive (no End of Central Directory record)")


def find_signing_block(data: bytes, layout: ZipLayout) -> tuple[int, dict[int, bytes]] | None:
    """(offset of the block, {id: value}) or None when the APK has no signing block."""
    if layout.cd_offset < 32 or data[layout.cd_offset - 16:layout.cd_offset] != MAGIC:
        return None
    size = struct.unpack_from("<Q", data, layout.cd_offset - 24)[0]
    start = layout.cd_offset - size - 8
    if size < 24 or start < 0 or struct.unpack_from("<Q", data, start)[0] != size:
        raise SigningBlockError("the APK Signing Block is malformed (its two size fields differ)")
    pairs: dict[int, bytes] = {}
    pos, end = start + 8, layout.cd_offset - 24
    while pos < end:
        if pos + 12 > end:
            raise SigningBlockError("the APK Signing Block has a truncated entry")
        length = struct.unpack_from("<Q", data, pos)[0]
        if length < 4 or pos + 8 + length > end:
            raise SigningBlockError("the APK Signing Block has an entry running past its end")
        pair_id = struct.unpack_from("<I", data, pos + 8)[0]
        pairs[pair_id] = data[pos + 12:pos + 8 + length]
        pos += 8 + length
    return start, pairs


def _prefixed(buffer: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(buffer):
        raise SigningBlockError("truncated length-prefixed field in the signing block")
    length = struct.unpack_from("<I", buffer, pos)[0]
    if pos + 4 + length > len(buffer):
        raise SigningBlockError("length-prefixed field runs past its container")
    return buffer[pos + 4:pos + 4 + length], pos + 4 + length


def _sequence(buffer: bytes) -> list[bytes]:
    items, pos = [], 0
    while pos < len(buffer):
        item, pos = _prefixed(buffer, pos)
        items.append(item)
    return items


def content_digest(data: bytes, layout: ZipLayout, block_offset: int, hash_name: str) -> bytes:
    eocd = bytearray(data[layout.eocd_offset:])
    struct.pack_into("<I", eocd, 16, block_offset)  # as the spec says: the EOCD seen as if no block existed
    sections = (memoryview(data)[:block_offset], memoryview(data)[layout.cd_offset:layout.eocd_offset], memoryview(bytes(eocd)))
    chunk_digests = []
    for section in sections:
        for start in range(0, len(section), CHUNK):
            chunk = section[start:start + CHUNK]
            digest = hashlib.new(hash_name, b"\xa5" + struct.pack("<I", len(chunk)))
            digest.update(chunk)
            chunk_digests.append(digest.digest())
    top = hashlib.new(hash_name, b"\x5a" + struct.pack("<I", len(chunk_digests)))
    for item in chunk_digests:
        top.update(item)
    return top.digest()


def _verify_signature(public_key_der: bytes, algorithm: int, signature: bytes, message: bytes) -> None:
    kind, hash_cls, _ = ALGORITHMS[algorithm]
    key = serialization.load_der_public_key(public_key_der)
    try:
        if kind == "rsa-pss" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PSS(padding.MGF1(hash_cls()), hash_cls().digest_size), hash_cls())
        elif kind == "rsa-pkcs1" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hash_cls())
        elif kind == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hash_cls()))
        elif kind == "dsa" and isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, message, hash_cls())
        else:
            raise SigningBlockError(f"signature algorithm {algorithm:#06x} does not match the signer's key type")
    except InvalidSignature:
        raise SigningBlockError("a signer's signature does not verify") from None


def verify_scheme(data: bytes, layout: ZipLayout, block_offset: int, value: bytes, scheme: str) -> SchemeResult:
    signers = _sequence(_prefixed(value, 0)[0])
    if not signers:
        raise SigningBlockError(f"the {scheme} signature has no signers")
    certificates = []
    digest_cache: dict[str, bytes] = {}
    for signer in signers:
        signed_data, pos = _prefixed(signer, 0)
        if scheme == "v3":
            pos += 8  # minSdk, maxSdk of this signer
        signatures_raw, pos = _prefixed(signer, pos)
        public_key, _ = _prefixed(signer, pos)
        signatures = []
        for item in _sequence(signatures_raw):
            algorithm = struct.unpack_from("<I", item, 0)[0]
            signature, _ = _prefixed(item, 4)
            signatures.append((algorithm, signature))
        supported = [(a, s) for a, s in signatures if a in ALGORITHMS]
        if not supported:
            raise SigningBlockError(f"the {scheme} signer uses no signature algorithm PhoneGate can verify")
        for algorithm, signature in supported:
            _verify_signature(public_key, algorithm, signature, signed_data)
        digests_raw, pos = _prefixed(signed_data, 0)
        certs_raw, pos = _prefixed(signed_data, pos)
        digests = {}
        for item in _sequence(digests_raw):
            digest_algorithm = struct.unpack_from("<I", item, 0)[0]
            digests[digest_algorithm], _ = _prefixed(item, 4)
        if sorted(digests) != sorted(a for a, _ in signatures):
            raise SigningBlockError(f"the {scheme} signed digests do not match the signature algorithms")
        certs = _sequence(certs_raw)
        if not certs:
            raise SigningBlockError(f"the {scheme} signer has no certificate")
        cert = x509.load_der_x509_certificate(certs[0])
        cert_key = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if cert_key != serialization.load_der_public_key(public_key).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
            raise SigningBlockError(f"the {scheme} signer's public key is not the one in its certificate")
        for algorithm, _ in supported:
            hash_name = ALGORITHMS[algorithm][2]
            if hash_name not in digest_cache:
                digest_cache[hash_name] = content_digest(data, layout, block_offset, hash_name)
            if digests[algorithm] != digest_cache[hash_name]:
                raise SigningBlockError("the APK's contents do not match its signed digest (changed after signing)")
        certificates.append(certs[0])
    return SchemeResult(scheme=scheme, certificates=certificates)
