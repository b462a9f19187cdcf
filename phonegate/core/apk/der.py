"""A minimal DER reader: just enough to walk a PKCS#7 SignedData (v1 JAR signature) and find its SignerInfo."""

from __future__ import annotations

from dataclasses import dataclass


class DerError(ValueError):
    pass


@dataclass
class Tlv:
    tag: int
    value: bytes
    raw: bytes  # the whole element, header included (signed attributes are verified over it)

    def children(self) -> list[Tlv]:
        return read_all(self.value)


def read_one(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    if offset + 2 > len(data):
        raise DerError("truncated DER element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte DER tags are not used in APK signatures")
    length = data[offset + 1]
    pos = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise DerError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise DerError("DER element runs past its container")
    return Tlv(tag, data[pos:end], data[offset:end]), end


def read_all(data: bytes) -> list[Tlv]:
    items, offset = [], 0
    while offset < len(data):
        item, offset = read_one(data, offset)
        items.append(item)
    return items


def oid_text(value: bytes) -> str:
    if not value:
        raise DerError("empty OID")
    parts = [value[0] // 40, value[0] % 40]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(map(str, parts))
