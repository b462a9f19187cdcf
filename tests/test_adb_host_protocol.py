"""The adb server's host protocol, byte for byte, and what the client does with garbage: a clear error, never a
hang or a crash. The lines below are what Debian's 29.0.6 and Google's 34.0.1 servers answered (measured)."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_agent.adb import host_protocol as hp
from device_agent.adb.adb_server import AdbServer
from device_agent.adb.connection import connect
from phonegate.core.errors import PhoneGateError

REAL_DEVICES = (
    b"127.0.0.1:35823        device product:tokay model:Pixel_9 device:tokay transport_id:1\n"
    b"127.0.0.1:43417        unauthorized transport_id:2\n"
)
USB_LINES = (
    "0123456789ABCDEF       device usb:1-1.2 product:e3qxeea model:SM_S928B device:e3q transport_id:7\n"
    "R58M12345      no permissions (missing udev rules? user is in the plugdev group); see "
    "[http://developer.android.com/tools/device.html] usb:1-1.3 transport_id:8\n"
    "emulator-5554\toffline\n"
)


def test_request_is_four_hex_digits_and_the_text() -> None:
    assert hp.encode_request("host:version") == b"000chost:version"
    assert hp.encode_request(b"abb_exec:package\0install") == b"0018abb_exec:package\0install"


@pytest.mark.parametrize("service", ["", "x" * 0x10000])
def test_requests_the_protocol_cannot_carry_are_refused(service: str) -> None:
    with pytest.raises(hp.HostProtocolError):
        hp.encode_request(service)


@given(st.text(min_size=1, max_size=300))
def test_any_request_round_trips_through_its_length(service: str) -> None:
    encoded = hp.encode_request(service)
    assert hp.decode_length(encoded[:4]) == len(encoded) - 4
    assert encoded[4:].decode("utf-8") == service


def test_real_device_list_parses_into_phones() -> None:
    pixel, stranger = hp.parse_devices(REAL_DEVICES)
    assert pixel == hp.AttachedPhone("127.0.0.1:35823", "device", "tokay", "Pixel_9", "tokay", 1, None)
    assert pixel.online
    assert (stranger.state, stranger.transport_id, stranger.model) == ("unauthorized", 2, None)


def test_usb_no_permissions_and_tab_separated_lines() -> None:
    samsung, locked, emulator = hp.parse_devices(USB_LINES)
    assert (samsung.usb, samsung.model, samsung.transport_id) == ("1-1.2", "SM_S928B", 7)
    assert (locked.state, locked.usb, locked.transport_id) == ("no permissions", "1-1.3", 8)
    assert (emulator.serial, emulator.state, emulator.transport_id) == ("emulator-5554", "offline", None)


@pytest.mark.parametrize("line", ["", "   ", "* daemon started successfully", "serial-only", "abc weird-state",
                                  "\x1b[31mred device", " indented device"])
def test_lines_that_are_not_a_phone_are_skipped(line: str) -> None:
    assert hp.parse_devices(line) == []


@given(st.binary(max_size=2000))
def test_device_lists_of_garbage_never_crash(data: bytes) -> None:
    for phone in hp.parse_devices(data):
        assert phone.state in hp.KNOWN_STATES
        assert phone.serial.isprintable()
        assert not any(ch.isspace() for ch in phone.serial)


def test_changes_between_two_lists() -> None:
    before = {phone.serial: phone for phone in hp.parse_devices(REAL_DEVICES)}
    after = hp.parse_devices(
        b"127.0.0.1:43417        device product:p model:M device:d transport_id:2\n"  # Allow was tapped
        b"127.0.0.1:50000        offline transport_id:3\n"  # a new one
    )
    events = [(event.kind, event.phone.serial) for event in hp.device_changes(before, after)]
    assert events == [("changed", "127.0.0.1:43417"), ("arrived", "127.0.0.1:50000"), ("removed", "127.0.0.1:35823")]


def test_a_new_transport_id_is_a_removal_and_an_arrival() -> None:
    before = {phone.serial: phone for phone in hp.parse_devices(b"X device transport_id:1\n")}
    events = hp.device_changes(before, hp.parse_devices(b"X device transport_id:5\n"))
    assert [(event.kind, event.phone.transport_id) for event in events] == [("removed", 1), ("arrived", 5)]


@pytest.mark.parametrize("environ, expected", [
    ({}, hp.ServerAddress("127.0.0.1", 5037, "default")),
    ({"ANDROID_ADB_SERVER_PORT": "5099"}, hp.ServerAddress("127.0.0.1", 5099, "ANDROID_ADB_SERVER_PORT")),
    ({"ADB_SERVER_SOCKET": "tcp:10.0.0.5:6000", "ANDROID_ADB_SERVER_PORT": "5099"}, hp.ServerAddress("10.0.0.5", 6000, "ADB_SERVER_SOCKET")),
    ({"ADB_SERVER_SOCKET": "tcp:6001"}, hp.ServerAddress("127.0.0.1", 6001, "ADB_SERVER_SOCKET")),
    ({"ADB_SERVER_SOCKET": "tcp:[::1]:6002"}, hp.ServerAddress("::1", 6002, "ADB_SERVER_SOCKET")),
    ({"ANDROID_ADB_SERVER_ADDRESS": "adbhost", "ANDROID_ADB_SERVER_PORT": "5040"}, hp.ServerAddress("adbhost", 5040, "ANDROID_ADB_SERVER_PORT")),
])
def test_server_is_found_as_adb_finds_it(environ: dict[str, str], expected: hp.ServerAddress) -> None:
    assert hp.server_address(environ) == expected


@pytest.mark.parametrize("environ", [
    {"ADB_SERVER_SOCKET": "localfilesystem:/tmp/adb"}, {"ADB_SERVER_SOCKET": "tcp:host:notaport"},
    {"ANDROID_ADB_SERVER_PORT": "0"}, {"ANDROID_ADB_SERVER_PORT": "70000"}, {"ANDROID_ADB_SERVER_PORT": "-1"},
])
def test_bad_server_settings_are_bad_input(environ: dict[str, str]) -> None:
    with pytest.raises(hp.ServerAddressInvalid):
        hp.server_address(environ)
    with pytest.raises(PhoneGateError) as caught:
        AdbServer.from_environment(environ)
    assert caught.value.exit_code == 2


def test_only_loopback_servers_are_started() -> None:
    assert hp.ServerAddress("127.0.0.1", 5037).is_local
    assert not hp.ServerAddress("10.0.0.5", 5037).is_local


def test_sync_framing() -> None:
    assert hp.sync_request(b"STAT", "/sdcard/x") == b"STAT" + struct.pack("<I", 9) + b"/sdcard/x"
    assert hp.sync_send_request("/data/local/tmp/a.apk", 0o100644) == b"SEND" + struct.pack("<I", 27) + b"/data/local/tmp/a.apk,33188"
    assert hp.sync_data(b"abc") == b"DATA\x03\x00\x00\x00abc"
    assert hp.sync_done(1_700_000_000) == b"DONE" + struct.pack("<I", 1_700_000_000)
    assert hp.parse_stat(b"STAT" + struct.pack("<III", 0o100644, 12, 99)) == hp.RemoteStat(0o100644, 12, 99)


@pytest.mark.parametrize("path", ["", "a\0b", "x" * 1025])
def test_paths_the_phone_cannot_take_are_refused(path: str) -> None:
    with pytest.raises(hp.HostProtocolError):
        hp.sync_request(b"RECV", path)


@given(st.binary(max_size=16))
def test_garbage_headers_are_a_clear_error(data: bytes) -> None:
    for parse in (hp.decode_length, hp.check_status, hp.parse_sync_header, hp.parse_stat, hp.decode_transport_id, hp.decode_version):
        try:
            parse(data)
        except hp.HostProtocolError as exc:
            assert str(exc)


def test_fail_messages_are_printable_and_one_line() -> None:
    assert hp.printable_message(b"device 'x\x1b[2J' not\nfound\xff") == "device 'x[2J' not found\ufffd"


@pytest.mark.parametrize("serial", ["", "has space", "bell\x07", "x" * 256])
def test_serials_that_cannot_be_a_phone_are_refused(serial: str) -> None:
    with pytest.raises(hp.HostProtocolError):
        hp.check_serial(serial)


# -- the asyncio client against a port that answers garbage ---------------------------------------------------


async def _garbage_server(answer: bytes, keep_open: bool, writers: set[asyncio.StreamWriter]) -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            await reader.read(64)
            writer.write(answer)
            await writer.drain()
            if keep_open:
                await asyncio.sleep(2)
        except ConnectionError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(
    st.binary(max_size=64),
    st.builds(lambda body: b"OKAY" + b"%04x" % len(body) + body, st.binary(max_size=200)),
    st.builds(lambda body, cut: (b"OKAY" + b"%04x" % len(body) + body)[:cut], st.binary(min_size=1, max_size=50), st.integers(0, 20)),
    st.builds(lambda body: b"FAIL" + b"%04x" % len(body) + body, st.binary(max_size=100)),
), keep_open=st.booleans())
def test_a_garbage_server_gives_a_clear_error_quickly(answer: bytes, keep_open: bool, adb_key) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        writers: set[asyncio.StreamWriter] = set()
        listener = await _garbage_server(answer, keep_open, writers)
        port = listener.sockets[0].getsockname()[1]
        server = AdbServer.from_environment({"PATH": "", "ANDROID_ADB_SERVER_PORT": str(port)}, read_timeout_s=0.3)
        try:
            try:
                await connect("adb:PHONE1", adb_key, server=server, connect_timeout_s=0.3, read_timeout_s=0.3, auth_timeout_s=0.1)
            except PhoneGateError as exc:  # the only acceptable outcome besides a phone
                assert str(exc)
                assert exc.exit_code in (1, 4)
        finally:
            listener.close()
            for writer in writers:
                writer.close()
            await listener.wait_closed()
            await asyncio.sleep(0.01)  # let the closed transports release their sockets

    asyncio.run(asyncio.wait_for(scenario(), 10))  # the client's own limits end it first: never a hang


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=st.one_of(
    st.binary(max_size=64),
    st.builds(lambda body: b"OKAY" + b"%04x" % len(body) + body, st.binary(max_size=200)),
    st.builds(lambda body: b"OKAY" + body, st.binary(max_size=100)),
))
def test_following_a_garbage_server_ends_with_one_clear_error(answer: bytes) -> None:
    from device_agent.adb.errors import AdbServerUnavailable

    async def scenario() -> None:
        writers: set[asyncio.StreamWriter] = set()
        listener = await _garbage_server(answer, False, writers)
        port = listener.sockets[0].getsockname()[1]
        server = AdbServer.from_environment({"PATH": "", "ANDROID_ADB_SERVER_PORT": str(port)}, read_timeout_s=0.3)
        tracker = server.track_devices()
        try:
            async for event in tracker:
                assert event.kind in ("arrived", "changed", "removed")
        except AdbServerUnavailable as exc:  # the one way following ends
            assert str(exc)
        finally:
            await tracker.aclose()
            listener.close()
            for writer in writers:
                writer.close()
            await listener.wait_closed()
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(scenario(), 10))
