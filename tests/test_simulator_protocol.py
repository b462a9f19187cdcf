"""The simulated phone's end of ADB, spoken to byte by byte: handshake, the Allow prompt, streams, sync formats."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from device_agent.adb import message as m
from device_agent.adb.keys import AdbKey

HOST_BANNER = b"host::features=shell_v2,cmd,stat_v2,ls_v2\0"


class RawHost:
    """A minimal ADB host over a blocking socket, so the tests see exactly what the phone sends."""

    def __init__(self, endpoint: str) -> None:
        self.version = m.VERSION_SKIP_CHECKSUM
        host, port = endpoint.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, command: int, arg0: int, arg1: int, payload: bytes = b"") -> None:
        self.sock.sendall(m.pack_message(command, arg0, arg1, payload))

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def recv(self, timeout_s: float = 20.0) -> m.Message | None:  # generous: CI machines get busy
        self.sock.settimeout(timeout_s)
        try:
            header = self._exactly(m.HEADER_SIZE)
        except socket.timeout:
            return None
        command, arg0, arg1, length, check = m.unpack_header(header)
        payload = self._exactly(length) if length else b""
        if self.version < m.VERSION_SKIP_CHECKSUM:  # adb-shell's version: it checks every checksum
            assert check == m.checksum(payload)
        else:  # like adbd after "skip checksum" was negotiated
            assert check == 0
        return m.Message(command, arg0, arg1, payload)

    def handshake(self, key: AdbKey, max_payload: int = m.MAX_PAYLOAD) -> m.Message:
        self.send(m.CNXN, m.VERSION_SKIP_CHECKSUM, max_payload, HOST_BANNER)
        token = self.recv()
        assert token is not None
        assert token.command == m.AUTH
        assert token.arg0 == m.AUTH_TOKEN
        self.send(m.AUTH, m.AUTH_SIGNATURE, 0, key.sign(token.payload))
        reply = self.recv()
        assert reply is not None
        return reply

    def open(self, local_id: int, destination: bytes) -> m.Message:
        self.send(m.OPEN, local_id, 0, destination + b"\0")
        reply = self.recv()
        assert reply is not None
        return reply

    def read_stream(self, local_id: int) -> bytes:
        """Collect WRTE data (acknowledging each) until the phone closes the stream."""
        data = b""
        while True:
            message = self.recv()
            assert message is not None, "the phone stopped talking mid-stream"
            assert message.arg1 == local_id
            if message.command == m.CLSE:
                self.send(m.CLSE, local_id, message.arg0)
                return data
            assert message.command == m.WRTE
            data += message.payload
            self.send(m.OKAY, local_id, message.arg0)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(phone_simulator, adb_key):  # type: ignore[no-untyped-def]
    hosts: list[RawHost] = []

    def connect(**start_options: object) -> tuple[RawHost, object]:
        running = phone_simulator(1, **start_options)[0]
        host = RawHost(running.endpoint)
        hosts.append(host)
        return host, running

    yield connect
    for host in hosts:
        host.close()


def test_authorised_key_gets_cnxn_with_banner_and_negotiated_limits(raw, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    host, running = raw()
    host.version = m.VERSION_CHECKSUM  # speak like adb-shell: every payload must carry its checksum
    host.send(m.CNXN, m.VERSION_CHECKSUM, 4096, b"host::\0")
    token = host.recv()
    assert token is not None
    assert token.command == m.AUTH
    assert token.arg0 == m.AUTH_TOKEN
    assert len(token.payload) == 20
    host.send(m.AUTH, m.AUTH_SIGNATURE, 0, adb_key.sign(token.payload))
    reply = host.recv()
    assert reply is not None
    assert reply.command == m.CNXN
    assert reply.arg0 == m.VERSION_SKIP_CHECKSUM
    banner = m.parse_banner(reply.payload)
    assert banner["state"] == "device"
    assert banner["ro.product.model"] == running.phone.properties["ro.product.model"]
    assert m.banner_features(banner) == running.phone.features()


def test_unknown_key_waits_silently_until_allow_is_tapped(raw, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stranger = AdbKey.create(tmp_path / "stranger")
    host, running = raw(authorised=False)
    host.send(m.CNXN, m.VERSION_SKIP_CHECKSUM, m.MAX_PAYLOAD, HOST_BANNER)
    token = host.recv()
    host.send(m.AUTH, m.AUTH_SIGNATURE, 0, stranger.sign(token.payload))
    retry = host.recv()
    assert retry is not None
    assert retry.command == m.AUTH
    assert retry.arg0 == m.AUTH_TOKEN  # "try your next key"
    assert retry.payload != token.payload
    host.send(m.AUTH, m.AUTH_RSAPUBLICKEY, 0, stranger.public_line.encode() + b"\0")
    assert host.recv(timeout_s=0.3) is None  # the prompt is showing; nothing on the wire
    assert running.waiting_for_allow()
    assert running.allow() == 1
    online = host.recv()
    assert online is not None
    assert online.command == m.CNXN
    # "Always allow": a new connection with the same key now passes on its signature alone.
    again = RawHost(running.endpoint)
    try:
        assert again.handshake(stranger).command == m.CNXN
    finally:
        again.close()


def test_accept_on_prompt_adds_the_key_to_the_authorised_file(raw, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stranger = AdbKey.create(tmp_path / "stranger")
    host, running = raw(authorised=False, accept_on_prompt=True)
    host.send(m.CNXN, m.VERSION_SKIP_CHECKSUM, m.MAX_PAYLOAD, HOST_BANNER)
    host.recv()
    host.send(m.AUTH, m.AUTH_RSAPUBLICKEY, 0, stranger.public_line.encode() + b"\0")
    online = host.recv()
    assert online is not None
    assert online.command == m.CNXN
    keys_file = running.simulated.keys.path
    assert stranger.public_line.split()[0] in keys_file.read_text()


def test_nothing_but_the_handshake_is_answered_before_auth(raw) -> None:  # type: ignore[no-untyped-def]
    host, _ = raw()
    host.send(m.CNXN, m.VERSION_SKIP_CHECKSUM, m.MAX_PAYLOAD, HOST_BANNER)
    host.recv()
    host.send(m.OPEN, 1, 0, b"shell:id\0")
    assert host.recv(timeout_s=0.3) is None


def test_unknown_service_is_closed(raw, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    host, _ = raw()
    host.handshake(adb_key)
    reply = host.open(5, b"jdwp:1234")
    assert (reply.command, reply.arg0, reply.arg1) == (m.CLSE, 0, 5)
    # the connection still works afterwards, and a CLSE for a stream that does not exist is ignored
    host.send(m.CLSE, 99, 42)
    assert host.open(6, b"shell:echo ok").command == m.OKAY
    assert host.read_stream(6) == b"ok\n"


def test_shell_v2_frames_output_and_exit_code(raw, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    host, _ = raw()
    host.handshake(adb_key)
    assert host.open(1, b"shell,v2,TERM=xterm,raw:echo out; echo err >&2; exit 3").command == m.OKAY
    data = host.read_stream(1)
    frames = []
    while data:
        kind, length = struct.unpack("<BI", data[:5])
        frames.append((kind, data[5 : 5 + length]))
        data = data[5 + length :]
    assert (1, b"out\n") in frames
    assert (2, b"err\n") in frames
    assert frames[-1] == (3, b"\x03")


def test_legacy_shell_mixes_stderr_and_has_no_exit_code(raw, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    host, _ = raw()
    host.handshake(adb_key)
    host.open(1, b"shell:echo out; echo err >&2; exit 3")
    assert sorted(host.read_stream(1).split()) == [b"err", b"out"]


def test_phone_keeps_one_unacknowledged_write_per_stream(raw, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    host, running = raw()
    host.handshake(adb_key, max_payload=4096)
    running.phone.write_file("/data/local/tmp/big.bin", bytes(range(256)) * 100, 0o100644, 0)
    remote = host.open(1, b"sync:").arg0
    host.send(m.WRTE, 1, remote, b"RECV" + struct.pack("<I", 23) + b"/data/local/tmp/big.bin")
    acknowledged = host.recv()
    assert acknowledged is not None
    assert acknowledged.command == m.OKAY  # every host WRTE gets an OKAY
    first = host.recv()
    assert first is not None
    assert first.command == m.WRTE
    assert len(first.payload) <= 4096
    assert host.recv(timeout_s=0.3) is None  # no second WRTE until we acknowledge the first


def test_sync_done_sizes_and_stat_formats(raw, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    host, running = raw()
    host.handshake(adb_key)
    running.phone.write_file("/data/local/tmp/a.txt", b"hello", 0o100644, 1_700_000_000)
    remote = host.open(1, b"sync:").arg0

    def request(kind: bytes, path: bytes) -> None:
        host.send(m.WRTE, 1, remote, kind + struct.pack("<I", len(path)) + path)

    def collect(size: int) -> bytes:
        data = b""
        while len(data) < size:
            message = host.recv()
            assert message is not None
            if message.command == m.OKAY:  # the phone acknowledging our request
                continue
            assert message.command == m.WRTE
            data += message.payload
            host.send(m.OKAY, 1, remote)
        return data

    request(b"STA2", b"/data/local/tmp/a.txt")
    reply = collect(72)
    assert reply[:4] == b"STA2"
    assert struct.unpack("<I", reply[4:8])[0] == 0
    assert struct.unpack("<Q", reply[40:48])[0] == 5
    request(b"STA2", b"/nope")
    assert struct.unpack("<I", collect(72)[4:8])[0] == 2  # ENOENT
    request(b"LIS2", b"/data/local/tmp")
    listing = collect(76 + len(b"a.txt") + 76)
    assert listing[:4] == b"DNT2"
    assert listing[76:81] == b"a.txt"
    assert listing[81:] == b"DONE" + bytes(72)
    request(b"LIST", b"/data/local/tmp")
    listing = collect(20 + len(b"a.txt") + 20)
    assert listing[:4] == b"DENT"
    assert listing[-20:] == b"DONE" + bytes(16)
    request(b"STAT", b"/data/local/tmp/a.txt")
    kind, mode, size, mtime = struct.unpack("<4sIII", collect(16))
    assert (kind, size, mtime) == (b"STAT", 5, 1_700_000_000)
    assert mode & 0o170000 == 0o100000


def test_sendrecv_v2_round_trip(raw, adb_key: AdbKey) -> None:  # type: ignore[no-untyped-def]
    # Newer adb clients (31+) use SND2/RCV2 when the phone advertises sendrecv_v2, as modern profiles do.
    host, running = raw()
    host.handshake(adb_key)
    remote = host.open(1, b"sync:").arg0
    path = b"/data/local/tmp/v2.bin"
    content = bytes(range(256)) * 10
    request = (b"SND2" + struct.pack("<I", len(path)) + path + b"SND2" + struct.pack("<II", 0o100640, 0)
               + b"DATA" + struct.pack("<I", len(content)) + content + b"DONE" + struct.pack("<I", 1_700_000_000))
    host.send(m.WRTE, 1, remote, request)

    def next_data() -> bytes:
        while True:
            message = host.recv()
            assert message is not None
            if message.command == m.WRTE:
                host.send(m.OKAY, 1, remote)
                return message.payload

    assert next_data() == b"OKAY" + bytes(4)
    assert running.phone.read_file("/data/local/tmp/v2.bin") == content
    host.send(m.WRTE, 1, remote, b"RCV2" + struct.pack("<I", len(path)) + path + b"RCV2" + struct.pack("<I", 0))
    reply = next_data()
    assert reply[:4] == b"DATA"
    assert struct.unpack("<I", reply[4:8])[0] == len(content)
    assert reply[8 : 8 + len(content)] == content
    assert reply[8 + len(content) :] == b"DONE" + bytes(4)


def test_stopping_the_simulator_closes_listeners_and_connections(adb_key: AdbKey, tmp_path: Path) -> None:
    from device_agent.simulator.phone import VirtualPhone
    from device_agent.simulator.server import SimulatorThread

    keys = tmp_path / "adb_keys"
    keys.write_text(adb_key.public_line + "\n")
    simulator = SimulatorThread(authorized_keys=keys).start()
    running = simulator.add_phone(VirtualPhone.from_profile("google-pixel-9", serial="STOPME"))
    host = RawHost(running.endpoint)
    assert host.handshake(adb_key).command == m.CNXN
    simulator.stop()
    with pytest.raises(ConnectionError):
        host.recv()  # the open connection was closed
    host.close()
    with pytest.raises(ConnectionRefusedError):
        RawHost(running.endpoint)  # and nothing listens any more


def test_allow_on_one_phone_does_not_authorise_the_others(phone_simulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stranger = AdbKey.create(tmp_path / "stranger")
    first, second = phone_simulator(2, authorised=False)
    host = RawHost(first.endpoint)
    try:
        host.send(m.CNXN, m.VERSION_SKIP_CHECKSUM, m.MAX_PAYLOAD, HOST_BANNER)
        host.recv()
        host.send(m.AUTH, m.AUTH_RSAPUBLICKEY, 0, stranger.public_line.encode() + b"\0")
        assert host.recv(timeout_s=0.2) is None
        first.allow()
        assert host.recv().command == m.CNXN  # type: ignore[union-attr]
    finally:
        host.close()
    other = RawHost(second.endpoint)
    try:
        reply = other.handshake(stranger)
        assert reply.command == m.AUTH
        assert reply.arg0 == m.AUTH_TOKEN  # the second phone still asks
    finally:
        other.close()


def test_adding_the_key_to_the_keys_file_taps_allow(raw, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # With `phonegate simulate`, appending the waiting key to --authorized-keys is how a person taps Allow.
    stranger = AdbKey.create(tmp_path / "stranger")
    host, running = raw(authorised=False)
    host.send(m.CNXN, m.VERSION_SKIP_CHECKSUM, m.MAX_PAYLOAD, HOST_BANNER)
    host.recv()
    host.send(m.AUTH, m.AUTH_RSAPUBLICKEY, 0, stranger.public_line.encode() + b"\0")
    assert host.recv(timeout_s=0.3) is None
    with running.simulated.keys.path.open("a") as keys_file:
        keys_file.write(stranger.public_line + "\n")
    online = host.recv(timeout_s=5)
    assert online is not None
    assert online.command == m.CNXN
