"""The adb server's host protocol as bytes in and values out: no sockets, so every rule can be tested on its own.

What the adb server speaks on its port (127.0.0.1:5037 unless told otherwise), measured against Debian's server
29.0.6 and Google's 34.0.1 (see shared/notes/adb-server.md):

- a request is 4 hex digits of length and the text (`000chost:version`); the answer starts with `OKAY` or
  `FAIL` + 4 hex digits + message; data answers (version, device lists) are length-prefixed the same way;
- `host:devices-l` / `host:track-devices-l`: one line per phone, `SERIAL  STATE key:value ...`;
- `host:tport:serial:SERIAL` answers `OKAY` + the 8-byte little-endian transport id, and the socket then
  carries one service on that phone (`shell,v2,raw:...`, `exec:...`, `sync:`, `abb_exec:...`);
- `sync:` is the file-sync protocol: 4-byte id + u32 length (+ payload), as on a direct connection.

Everything here reads bytes that came from the adb server or, through it, from a phone: untrusted. Anything that
is not the protocol raises HostProtocolError with a sentence; nothing here can loop or allocate without bound.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ENDPOINT_PREFIX = "adb:"  # `adb:SERIAL` names a phone of the adb server wherever PhoneGate takes an endpoint
OKAY = b"OKAY"
FAIL = b"FAIL"
MAX_REQUEST = 0xFFFF  # 4 hex digits of length
TRANSPORT_ID = struct.Struct("<Q")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5037
MIN_TPORT_VERSION = 41  # `host:tport:` (and transport ids) came with adb 1.0.41; older servers get `host:transport:`

# sync: protocol
SYNC_HEADER = struct.Struct("<4sI")  # id, length (or mode / mtime, depending on the id)
SYNC_STAT = struct.Struct("<4sIII")  # "STAT", mode, size, mtime
SYNC_DATA_MAX = 64 * 1024  # adb's SYNC_DATA_MAX: no DATA chunk is larger
SYNC_PATH_MAX = 1024
MAX_SERIAL = 255

# States `adb devices` shows. Only `device` can run services; the others are reported to the person.
ONLINE_STATE = "device"
KNOWN_STATES = frozenset({
    "device", "offline", "unauthorized", "authorizing", "connecting", "bootloader", "recovery", "sideload",
    "rescue", "host", "unknown", "no permissions", "disconnected",
})
_PROPERTY_KEYS = ("product", "model", "device", "transport_id", "usb")


class HostProtocolError(ValueError):
    """Bytes from the adb server that are not its protocol (a different program on the port, or a broken reply)."""


def encode_request(service: str | bytes) -> bytes:
    """`host:version` -> b"000chost:version"; raises HostProtocolError for what the protocol cannot carry."""
    payload = service.encode("utf-8") if isinstance(service, str) else bytes(service)
    if not payload:
        raise HostProtocolError("an empty request cannot be sent to the adb server")
    if len(payload) > MAX_REQUEST:
        raise HostProtocolError(f"a request of {len(payload)} bytes is longer than the adb server accepts ({MAX_REQUEST})")
    return b"%04x" % len(payload) + payload


def decode_length(digits: bytes) -> int:
    """4 hex digits -> int (0..65535)."""
    if len(digits) != 4 or not all(chr(byte) in "0123456789abcdefABCDEF" for byte in digits):
        raise HostProtocolError(f"expected 4 hex digits of length from the adb server, got {_show(digits)}")
    return int(digits, 16)


def check_status(status: bytes) -> bool:
    """True for OKAY, False for FAIL (its message follows); anything else is not an adb server."""
    if status == OKAY:
        return True
    if status == FAIL:
        return False
    raise HostProtocolError(f"expected OKAY or FAIL from the adb server, got {_show(status)}")


def decode_transport_id(data: bytes) -> int:
    if len(data) != TRANSPORT_ID.size:
        raise HostProtocolError(f"a transport id is {TRANSPORT_ID.size} bytes, got {len(data)}")
    return TRANSPORT_ID.unpack(data)[0]


def decode_version(text: bytes) -> int:
    """`host:version` answers the protocol version as hex text (`0029` = 41)."""
    try:
        value = int(text.decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HostProtocolError(f"the adb server's version is not a number: {_show(text)}") from exc
    return value


@dataclass(frozen=True)
class AttachedPhone:
    """One line of `adb devices -l`: a phone the adb server knows, in whatever state it is."""

    serial: str
    state: str
    product: str | None = None
    model: str | None = None  # as adb shows it: spaces become `_`
    device: str | None = None
    transport_id: int | None = None
    usb: str | None = None  # the USB port path (`1-1.2`) for USB phones; None for `adb connect`/wireless ones

    @property
    def online(self) -> bool:
        return self.state == ONLINE_STATE


def parse_devices(text: bytes | str) -> list[AttachedPhone]:
    """Every well-formed line of a `host:devices-l` answer; lines that are not one phone are skipped.

    `SERIAL<spaces or tab>STATE [key:value ...]`. The state is one word except `no permissions (...)`, whose
    explanation runs up to the first `key:value` we know; unknown `key:value` words are ignored.
    """
    raw = text.decode("utf-8", errors="replace") if isinstance(text, (bytes, bytearray)) else text
    phones: list[AttachedPhone] = []
    seen: set[str] = set()
    for line in raw.splitlines():
        phone = parse_device_line(line)
        if phone is not None and phone.serial not in seen:
            seen.add(phone.serial)
            phones.append(phone)
    return phones


def parse_device_line(line: str) -> AttachedPhone | None:
    words = line.split()
    if len(words) < 2 or line[:1].isspace() or words[0].startswith("*"):
        return None  # blank, continuation, or the `* daemon started` chatter some clients print
    serial, rest = words[0], words[1:]
    if len(serial) > MAX_SERIAL or not serial.isprintable():
        return None
    if rest[:2] == ["no", "permissions"]:
        state = "no permissions"
        rest = [word for word in rest[2:] if _property(word) is not None]
    else:
        state, rest = rest[0], rest[1:]
    if state not in KNOWN_STATES:
        return None
    values: dict[str, str] = {}
    for word in rest:
        pair = _property(word)
        if pair is not None:
            values.setdefault(*pair)
    transport = values.get("transport_id", "")
    return AttachedPhone(
        serial=serial,
        state=state,
        product=values.get("product"),
        model=values.get("model"),
        device=values.get("device"),
        transport_id=int(transport) if transport.isdigit() and len(transport) < 20 else None,
        usb=values.get("usb"),
    )


def _property(word: str) -> tuple[str, str] | None:
    key, sep, value = word.partition(":")
    if sep and key in _PROPERTY_KEYS and value and value.isprintable() and len(value) <= 200:
        return key, value
    return None


@dataclass(frozen=True)
class DeviceEvent:
    """A change `host:track-devices-l` reported: a phone arrived, changed state (e.g. Allow tapped), or left."""

    kind: str  # "arrived", "changed", "removed"
    phone: AttachedPhone


def device_changes(before: Mapping[str, AttachedPhone], after: Iterable[AttachedPhone]) -> list[DeviceEvent]:
    """What differs between two device lists, in the order of the new list, removals last.

    A phone whose transport id changed was unplugged and plugged in again between two lists: removed, then arrived.
    """
    events: list[DeviceEvent] = []
    current = {phone.serial: phone for phone in after}
    for serial, phone in current.items():
        old = before.get(serial)
        if old is None:
            events.append(DeviceEvent("arrived", phone))
        elif old.transport_id is not None and phone.transport_id is not None and old.transport_id != phone.transport_id:
            events.extend((DeviceEvent("removed", old), DeviceEvent("arrived", phone)))
        elif old != phone:
            events.append(DeviceEvent("changed", phone))
    events.extend(DeviceEvent("removed", old) for serial, old in before.items() if serial not in current)
    return events


def banner_for(phone: AttachedPhone, features: Iterable[str]) -> bytes:
    """A CNXN-style banner (what a direct connection gets from the phone) from what the adb server knows."""
    fields = [("ro.product.name", phone.product), ("ro.product.model", phone.model), ("ro.product.device", phone.device)]
    properties = ";".join(f"{key}={value}" for key, value in fields if value)
    feature_text = ",".join(sorted({feature for feature in features if feature}))
    return f"device::{properties};features={feature_text}".encode("utf-8")


def parse_features(text: bytes) -> set[str]:
    words = text.decode("utf-8", errors="replace").strip().split(",")
    return {word.strip() for word in words if word.strip() and word.strip().isprintable() and len(word) < 100}


def check_serial(serial: str) -> str:
    """A serial a person typed (or the adb server reported), safe to put in a host request."""
    text = serial.strip()
    if not text or len(text) > MAX_SERIAL or not text.isprintable() or any(ch.isspace() for ch in text):
        raise HostProtocolError(f"{text[:80]!r} is not a phone serial (printable, no spaces, at most {MAX_SERIAL} characters)")
    return text


# -- where the adb server is -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerAddress:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    source: str = "default"  # which setting named it, for error sentences

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_local(self) -> bool:
        """Only a server on this machine can be started with `adb start-server`."""
        return self.host in ("localhost", "::1") or self.host.startswith("127.")


class ServerAddressInvalid(ValueError):
    """ADB_SERVER_SOCKET / ANDROID_ADB_SERVER_PORT hold something adb would not accept either."""


def server_address(environ: Mapping[str, str]) -> ServerAddress:
    """Where the adb server is, found the way adb finds it: ADB_SERVER_SOCKET=tcp:HOST:PORT (or tcp:PORT) first,
    else ANDROID_ADB_SERVER_ADDRESS and ANDROID_ADB_SERVER_PORT, else 127.0.0.1:5037."""
    socket_spec = environ.get("ADB_SERVER_SOCKET", "").strip()
    if socket_spec:
        kind, sep, rest = socket_spec.partition(":")
        if kind != "tcp" or not sep:
            raise ServerAddressInvalid(f"ADB_SERVER_SOCKET={socket_spec[:80]!r} is not tcp:HOST:PORT (the only form PhoneGate speaks).")
        host, sep, port_text = rest.rpartition(":")
        host = host.strip("[]") if sep else DEFAULT_HOST
        return ServerAddress(host or DEFAULT_HOST, _port(port_text, "ADB_SERVER_SOCKET", socket_spec), "ADB_SERVER_SOCKET")
    host = environ.get("ANDROID_ADB_SERVER_ADDRESS", "").strip() or DEFAULT_HOST
    port_text = environ.get("ANDROID_ADB_SERVER_PORT", "").strip()
    if port_text:
        return ServerAddress(host, _port(port_text, "ANDROID_ADB_SERVER_PORT", port_text), "ANDROID_ADB_SERVER_PORT")
    return ServerAddress(host, DEFAULT_PORT, "ANDROID_ADB_SERVER_ADDRESS" if host != DEFAULT_HOST else "default")


def _port(text: str, name: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ServerAddressInvalid(f"{name}={whole[:80]!r}: the port must be a number from 1 to 65535.")
    return int(text)


# -- sync: ------------------------------------------------------------------------------------------------------


def sync_request(command: bytes, path: str) -> bytes:
    """STAT/RECV/LIST/SEND request: id + u32 length + path (SEND's path carries `,mode`)."""
    encoded = path.encode("utf-8")
    if len(command) != 4:
        raise HostProtocolError(f"a sync id is 4 bytes, not {command!r}")
    if not encoded or len(encoded) > SYNC_PATH_MAX or b"\0" in encoded:
        raise HostProtocolError(f"{path[:80]!r} is not a path the phone accepts (1 to {SYNC_PATH_MAX} bytes, no NUL)")
    return SYNC_HEADER.pack(command, len(encoded)) + encoded


def sync_send_request(remote_path: str, mode: int) -> bytes:
    return sync_request(b"SEND", f"{remote_path},{mode}")


def sync_data(chunk: bytes | memoryview) -> bytes:
    if len(chunk) > SYNC_DATA_MAX:
        raise HostProtocolError(f"a sync DATA chunk holds at most {SYNC_DATA_MAX} bytes")
    return SYNC_HEADER.pack(b"DATA", len(chunk)) + bytes(chunk)


def sync_done(mtime: int) -> bytes:
    return SYNC_HEADER.pack(b"DONE", max(0, min(int(mtime), 0xFFFFFFFF)))


SYNC_QUIT = SYNC_HEADER.pack(b"QUIT", 0)


def parse_sync_header(data: bytes) -> tuple[bytes, int]:
    """(id, length-or-value) of an 8-byte sync header from the phone."""
    if len(data) != SYNC_HEADER.size:
        raise HostProtocolError(f"a sync header is {SYNC_HEADER.size} bytes, got {len(data)}")
    command, value = SYNC_HEADER.unpack(data)
    if command not in (b"DATA", b"DONE", b"OKAY", b"FAIL", b"STAT", b"DENT"):
        raise HostProtocolError(f"unexpected sync answer {_show(command)}")
    return command, value


@dataclass(frozen=True)
class RemoteStat:
    """`adb shell stat` in three numbers, as the sync protocol's STAT gives them. mode 0: the path does not exist."""

    mode: int
    size: int
    mtime: int

    @property
    def exists(self) -> bool:
        return self.mode != 0


def parse_stat(data: bytes) -> RemoteStat:
    if len(data) != SYNC_STAT.size:
        raise HostProtocolError(f"a STAT answer is {SYNC_STAT.size} bytes, got {len(data)}")
    command, mode, size, mtime = SYNC_STAT.unpack(data)
    if command != b"STAT":
        raise HostProtocolError(f"expected STAT, got {_show(command)}")
    return RemoteStat(mode, size, mtime)


def _show(data: bytes) -> str:
    """Untrusted bytes in an error sentence: printable ASCII only, short."""
    text = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in bytes(data[:32]))
    return repr(text) + ("..." if len(data) > 32 else "")


def printable_message(data: bytes, limit: int = 200) -> str:
    """A FAIL message from the adb server (it may quote a phone's serial) made safe for a terminal: one line."""
    text = data.decode("utf-8", errors="replace")
    line = " ".join(text.split())
    return "".join(ch for ch in line if ch.isprintable())[:limit]
