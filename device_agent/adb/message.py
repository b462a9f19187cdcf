"""ADB message framing, shared by the host side and the simulated phone.

A message is a 24-byte little-endian header (command, arg0, arg1, data length, data checksum, command ^ 0xFFFFFFFF)
followed by the payload. Nothing here does I/O, so the framing can be tested byte for byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = struct.Struct("<6I")
HEADER_SIZE = HEADER.size  # 24

# adb 29 and phones since Android 9 speak 0x01000001 ("skip checksum"); adb-shell still speaks 0x01000000.
VERSION_SKIP_CHECKSUM = 0x01000001
VERSION_CHECKSUM = 0x01000000
MAX_PAYLOAD = 1024 * 1024  # what modern adb and adbd offer in CNXN

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3
AUTH_TOKEN_SIZE = 20  # a longer token crashes adb 29's server (measured)


def _command_value(name: bytes) -> int:
    return int.from_bytes(name, "little")


CNXN = _command_value(b"CNXN")
AUTH = _command_value(b"AUTH")
OPEN = _command_value(b"OPEN")
OKAY = _command_value(b"OKAY")
WRTE = _command_value(b"WRTE")
CLSE = _command_value(b"CLSE")
SYNC = _command_value(b"SYNC")
STLS = _command_value(b"STLS")
KNOWN_COMMANDS = {CNXN, AUTH, OPEN, OKAY, WRTE, CLSE, SYNC, STLS}


class FramingError(ValueError):
    """Bytes that are not a well-formed ADB message header."""


def checksum(payload: bytes | bytearray | memoryview) -> int:
    """The sum of the payload bytes (mod 2**32): adb-shell checks it, adb >= 29 ignores it, so always send it."""
    return sum(payload) & 0xFFFFFFFF


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    payload: bytes = b""

    @property
    def name(self) -> str:
        return command_name(self.command)

    def pack(self) -> bytes:
        return pack_message(self.command, self.arg0, self.arg1, self.payload)


def pack_message(command: int, arg0: int, arg1: int, payload: bytes = b"", *, with_checksum: bool = True) -> bytes:
    """Header and payload as one buffer, so a transport sends them in one write (no Nagle/delayed-ACK stall).

    `with_checksum=False` is for connections that negotiated VERSION_SKIP_CHECKSUM, where adbd sends 0."""
    data_check = checksum(payload) if with_checksum else 0
    header = HEADER.pack(command, arg0, arg1, len(payload), data_check, command ^ 0xFFFFFFFF)
    return header + payload


def unpack_header(header: bytes) -> tuple[int, int, int, int, int]:
    """(command, arg0, arg1, payload length, checksum); raises FramingError on a header that cannot be ADB."""
    if len(header) != HEADER_SIZE:
        raise FramingError(f"an ADB header is {HEADER_SIZE} bytes, got {len(header)}")
    command, arg0, arg1, length, data_check, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise FramingError(f"bad magic for command {command_name(command)!r}")
    if command not in KNOWN_COMMANDS:
        raise FramingError(f"unknown command {command_name(command)!r}")
    return command, arg0, arg1, length, data_check


def command_name(command: int) -> str:
    return command.to_bytes(4, "little").decode("ascii", errors="replace")


def parse_banner(raw: bytes | str) -> dict[str, str]:
    """`device::ro.product.name=x;ro.product.model=y;features=a,b` -> {"state": "device", "ro.product.model": "y", ...}.

    The banner comes from the phone, so anything malformed is skipped rather than raised.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, (bytes, bytearray)) else raw
    text = text.rstrip("\0")
    state, _, rest = text.partition(":")
    result: dict[str, str] = {"state": state}
    _serial, _, properties = rest.partition(":")
    for item in properties.split(";"):
        key, sep, value = item.partition("=")
        if sep and key:
            result[key.strip()] = value.strip()
    return result


def banner_features(banner: dict[str, str]) -> set[str]:
    return {feature for feature in banner.get("features", "").split(",") if feature}


# shell protocol v2: [id u8][length u32 LE][data]; 1 stdout, 2 stderr, 3 exit code (one byte)
SHELL_V2_FRAME = struct.Struct("<BI")


def parse_shell_v2(data: bytes) -> tuple[bytes, bytes, int | None]:
    """(stdout, stderr, exit code or None) from a shell v2 stream; a truncated or garbled tail is ignored."""
    stdout, stderr, exit_code = bytearray(), bytearray(), None
    offset = 0
    while offset + SHELL_V2_FRAME.size <= len(data):
        kind, length = SHELL_V2_FRAME.unpack_from(data, offset)
        offset += SHELL_V2_FRAME.size
        chunk = data[offset : offset + length]
        offset += length
        if kind == 1:
            stdout += chunk
        elif kind == 2:
            stderr += chunk
        elif kind == 3 and chunk:
            exit_code = chunk[0]
    return bytes(stdout), bytes(stderr), exit_code


def merge_shell_v2(data: bytes) -> tuple[bytes, int | None]:
    """(stdout and stderr in the order they arrived, exit code or None) from a shell v2 stream: what a legacy
    `shell:` stream carries (one pipe for both), with the exit frame that proves the stream was not cut short."""
    merged, exit_code = bytearray(), None
    offset = 0
    while offset + SHELL_V2_FRAME.size <= len(data):
        kind, length = SHELL_V2_FRAME.unpack_from(data, offset)
        offset += SHELL_V2_FRAME.size
        chunk = data[offset : offset + length]
        offset += length
        if kind in (1, 2):
            merged += chunk
        elif kind == 3 and chunk and len(chunk) == length:
            exit_code = chunk[0]
    return bytes(merged), exit_code
