"""ADB message framing: byte layout, checksum, header validation and the device banner."""

from __future__ import annotations

import struct

import pytest

from device_agent.adb import message as m


def test_header_layout_matches_the_adb_wire_format() -> None:
    packed = m.pack_message(m.OPEN, 7, 0, b"shell:id\0")
    command, arg0, arg1, length, check, magic = struct.unpack("<6I", packed[:24])
    assert packed[:4] == b"OPEN"
    assert (arg0, arg1, length) == (7, 0, 9)
    assert check == sum(b"shell:id\0")
    assert magic == command ^ 0xFFFFFFFF
    assert packed[24:] == b"shell:id\0"


def test_checksum_wraps_at_32_bits() -> None:
    assert m.checksum(b"") == 0
    assert m.checksum(bytes([255]) * 3) == 765
    huge = bytes([255]) * ((1 << 32) // 255 + 2)
    assert m.checksum(huge) == (255 * len(huge)) & 0xFFFFFFFF


def test_unpack_round_trip() -> None:
    packed = m.Message(m.WRTE, 1, 2, b"abc").pack()
    assert m.unpack_header(packed[:24]) == (m.WRTE, 1, 2, 3, sum(b"abc"))


@pytest.mark.parametrize(
    "header",
    [
        b"\0" * 23,  # short
        struct.pack("<6I", m.CNXN, 0, 0, 0, 0, 0),  # magic wrong
        struct.pack("<6I", 0x41414141, 0, 0, 0, 0, 0x41414141 ^ 0xFFFFFFFF),  # unknown command
    ],
)
def test_malformed_headers_are_refused(header: bytes) -> None:
    with pytest.raises(m.FramingError):
        m.unpack_header(header)


def test_banner_parsing() -> None:
    banner = m.parse_banner(b"device::ro.product.name=tokay;ro.product.model=Pixel 9;ro.product.device=tokay;features=cmd,shell_v2\0")
    assert banner["state"] == "device"
    assert banner["ro.product.model"] == "Pixel 9"
    assert m.banner_features(banner) == {"cmd", "shell_v2"}


@pytest.mark.parametrize("garbage", [b"", b"\xff\xfe", b"device", b"device::;;=;x", "device::features="])
def test_banner_parsing_never_raises_on_garbage(garbage: bytes | str) -> None:
    banner = m.parse_banner(garbage)
    assert isinstance(banner, dict)
    assert m.banner_features(banner) == set()


def test_shell_v2_frames_are_split_by_stream() -> None:
    frames = b"".join(m.SHELL_V2_FRAME.pack(kind, len(data)) + data for kind, data in [(1, b"a"), (2, b"e"), (1, b"b"), (3, b"\x05")])
    assert m.parse_shell_v2(frames) == (b"ab", b"e", 5)


@pytest.mark.parametrize("garbage", [b"", b"\x01", b"\x01\xff\xff\xff\xff", b"\x09\x01\x00\x00\x00x\x03\x00\x00\x00\x00"])
def test_shell_v2_parsing_never_raises_on_garbage(garbage: bytes) -> None:
    stdout, stderr, exit_code = m.parse_shell_v2(garbage)
    assert isinstance(stdout, bytes)
    assert isinstance(stderr, bytes)
    assert exit_code in (None, *range(256))
