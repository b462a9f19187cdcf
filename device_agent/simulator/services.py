"""What a simulated phone does when a host opens a stream: shell (v1 and v2), exec, abb_exec installs, sync.

Each service is a coroutine over a `DeviceStream`; `open_service` picks one from the destination string, the way
adbd does. The phone's state and its shell belong to VirtualPhone; this module only speaks the service formats.
"""

from __future__ import annotations

import shlex
import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from device_agent.simulator.phone import ShellOutcome

if TYPE_CHECKING:
    from device_agent.simulator.phone import FileStat, VirtualPhone
    from device_agent.simulator.protocol import DeviceStream

Service = Callable[["DeviceStream"], Awaitable[None]]

# shell protocol v2 packet ids
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN = 0, 1, 2, 3, 4

SYNC_DATA_MAX = 64 * 1024
_STAT_V1 = struct.Struct("<4sIII")
_STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")  # 72 bytes: id error dev ino mode nlink uid gid size atime mtime ctime
_DENT_V1 = struct.Struct("<4sIIII")
_DENT_V2 = struct.Struct("<4sIQQIIIIQqqqI")
_ENOENT = 2
_SHELL_UID = 2000


def open_service(destination: str, phone: VirtualPhone) -> Service | None:
    """The coroutine serving `destination`, or None for a service this phone does not offer (-> CLSE)."""
    name, sep, argument = destination.partition(":")
    if not sep:
        return None
    options = name.split(",")
    if options[0] == "shell":
        if not argument.strip():
            return None  # interactive shells are not simulated
        framed = "v2" in options[1:] and "shell_v2" in phone.features()
        return lambda stream: _shell(stream, phone, argument, framed)
    if name == "exec":
        return lambda stream: _exec(stream, phone, argument)
    if name == "abb_exec" and "abb_exec" in phone.features():
        return lambda stream: _abb_exec(stream, phone, argument.split("\0"))
    if name == "sync":
        return lambda stream: _sync(stream, phone)
    return None


async def _shell(stream: DeviceStream, phone: VirtualPhone, command: str, framed: bool) -> None:
    streamed = _streamed(_split(command)) if _may_stream(command) else None
    if streamed is not None:  # `adb shell cmd package install -S N < app.apk`: stdin comes framed with shell_v2
        outcome = await _run_streamed(stream, phone, *streamed, framed_stdin=framed)
    else:
        outcome = phone.run_shell(command)
    if not framed:
        # Without shell_v2 stdout and stderr share the pipe and the exit code is lost, as on old phones.
        await stream.write(outcome.stdout + outcome.stderr)
        return
    frames = b""
    if outcome.stdout:
        frames += _frame(SHELL_STDOUT, outcome.stdout)
    if outcome.stderr:
        frames += _frame(SHELL_STDERR, outcome.stderr)
    frames += _frame(SHELL_EXIT, bytes([outcome.exit_code & 0xFF]))
    await stream.write(frames)


async def _exec(stream: DeviceStream, phone: VirtualPhone, command: str) -> None:
    streamed = _streamed(_split(command)) if _may_stream(command) else None
    outcome = await _run_streamed(stream, phone, *streamed) if streamed is not None else phone.run_shell(command)
    await stream.write(outcome.stdout + outcome.stderr)


async def _abb_exec(stream: DeviceStream, phone: VirtualPhone, argv: list[str]) -> None:
    # abb runs the service's command itself: no shell in between, so no quoting, globs or redirections
    command = ["cmd", *argv]
    streamed = _streamed(command)
    outcome = await _run_streamed(stream, phone, *streamed) if streamed is not None else phone.run_command(command)
    await stream.write(outcome.stdout + outcome.stderr)


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)  # the client single-quotes arguments; split them as sh -c would
    except ValueError:
        return []


# Package manager verbs whose bytes follow the command on the same stream (`-S BYTES` of them).
STREAMED_VERBS = ("install", "install-write")


def _may_stream(command: str) -> bool:
    """Whether `command` can be a streamed install, from its first words only. shlex over a whole collection
    script (1.4 KB) cost 1 ms per phone, more than running it; only `cmd package VERB`/`pm VERB` needs it."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    try:
        first = [word for _, word in zip(range(3), lexer)]
    except ValueError:
        return False  # an unterminated quote: shlex.split fails as well, which means "not an install"
    verb = first[2:3] if first[:2] == ["cmd", "package"] else first[1:2] if first[:1] == ["pm"] else []
    return bool(verb) and verb[0] in STREAMED_VERBS


def _streamed(argv: list[str]) -> tuple[int | None, list[str]] | None:
    """(bytes to read, argv) when argv is a package manager command whose data follows on the stream: `install`
    or `install-write` with `-S BYTES` (and for install-write, no file path to read instead). Else None."""
    if argv[:2] == ["cmd", "package"]:
        rest = argv[2:]
    elif argv[:1] == ["pm"]:
        rest = argv[1:]
    else:
        return None
    if not rest or rest[0] not in STREAMED_VERBS or "-S" not in rest:
        return None
    index = rest.index("-S")
    if rest[0] == "install-write":
        positional = rest[1:index] + rest[index + 2:]
        if len(positional) >= 3 and positional[2] != "-":
            return None  # the file is on the phone already
    size_text = rest[index + 1] if index + 1 < len(rest) else ""
    return (int(size_text) if size_text.isdigit() else None), argv


async def _run_streamed(stream: DeviceStream, phone: VirtualPhone, size: int | None, argv: list[str], *,
                        framed_stdin: bool = False) -> ShellOutcome:
    if size is None:
        return ShellOutcome(b"Error: -S needs the APK size in bytes\n", b"", 255)
    data = await (_receive_framed_stdin(stream, phone, size) if framed_stdin else _receive_apk(stream, phone, size))
    return phone.run_command(argv, data)


async def _receive_apk(stream: DeviceStream, phone: VirtualPhone, size: int) -> bytes:
    if phone.faults.drop_mid_install and size > 1:
        await stream.read_exactly(size // 2)
        _pull_cable(stream, phone)
    return await stream.read_exactly(size)


async def _receive_framed_stdin(stream: DeviceStream, phone: VirtualPhone, size: int) -> bytes:
    """Up to `size` bytes of stdin from shell-v2 packets; fewer if the host closes stdin first."""
    data = bytearray()
    while len(data) < size:
        header = await stream.read_exactly(5)
        kind, length = header[0], int.from_bytes(header[1:], "little")
        payload = await stream.read_exactly(length)
        if kind == SHELL_CLOSE_STDIN:
            break
        if kind == SHELL_STDIN:
            data += payload
            if phone.faults.drop_mid_install and len(data) >= size // 2:
                _pull_cable(stream, phone)
    return bytes(data[:size])


def _pull_cable(stream: DeviceStream, phone: VirtualPhone) -> None:
    """The drop_mid_install fault: the connection dies halfway through an APK, once; the phone then takes the
    reconnection as a phone plugged back in does."""
    phone.faults.drop_mid_install = False
    stream.connection.writer.transport.abort()
    raise ConnectionError("the cable was pulled in the middle of an install")


def _frame(kind: int, data: bytes) -> bytes:
    return struct.pack("<BI", kind, len(data)) + data


async def _sync(stream: DeviceStream, phone: VirtualPhone) -> None:
    while True:
        try:
            header = await stream.read_exactly(8)
        except EOFError:
            return
        request, length = header[:4], int.from_bytes(header[4:], "little")
        if request == b"QUIT":
            return
        if length > 4096:
            await stream.write(_fail("path too long"))
            return
        path = (await stream.read_exactly(length)).decode("utf-8", errors="surrogateescape")
        if request == b"STAT":
            stat = phone.stat(path)
            await stream.write(_STAT_V1.pack(b"STAT", *(_v1(stat) if stat else (0, 0, 0))))
        elif request in (b"STA2", b"LST2"):
            await stream.write(_stat_v2(request, phone.stat(path)))
        elif request in (b"LIST", b"LIS2"):
            await stream.write(_listing(request == b"LIS2", phone.listdir(path) or []))
        elif request == b"RECV":
            await _send_file(stream, phone, path)
        elif request == b"SEND":
            if not await _receive_file(stream, phone, path):
                return
        elif request in (b"SND2", b"RCV2"):  # sendrecv_v2 (adb >= 31): a second header carries mode and flags
            if not await _sync_v2(stream, phone, request, path):
                return
        else:
            await stream.write(_fail(f"unknown sync request {request!r}"))
            return


def _v1(stat: FileStat) -> tuple[int, int, int]:
    return stat.mode & 0xFFFFFFFF, stat.size & 0xFFFFFFFF, stat.mtime & 0xFFFFFFFF


def _stat_v2(request: bytes, stat: FileStat | None) -> bytes:
    if stat is None:
        return _STAT_V2.pack(request, _ENOENT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return _STAT_V2.pack(request, 0, 0, 0, stat.mode, 1, _SHELL_UID, _SHELL_UID, stat.size, stat.mtime, stat.mtime, stat.mtime)


def _listing(version2: bool, entries: list[tuple[str, FileStat]]) -> bytes:
    out = bytearray()
    for name, stat in entries:
        encoded = name.encode("utf-8", errors="surrogateescape")
        if version2:
            out += _DENT_V2.pack(
                b"DNT2", 0, 0, 0, stat.mode, 1, _SHELL_UID, _SHELL_UID, stat.size, stat.mtime, stat.mtime, stat.mtime, len(encoded)
            )
        else:
            out += _DENT_V1.pack(b"DENT", *_v1(stat), len(encoded))
        out += encoded
    # The DONE entry is a whole empty dirent: 16 bytes after the id for LIST, 72 for LIS2 (68 hangs `adb ls`).
    out += b"DONE" + bytes(72 if version2 else 16)
    return bytes(out)


async def _send_file(stream: DeviceStream, phone: VirtualPhone, path: str) -> None:
    data = phone.read_file(path)
    if data is None:
        await stream.write(_fail("No such file or directory" if phone.stat(path) is None else "Permission denied"))
        return
    out = bytearray()
    for start in range(0, len(data), SYNC_DATA_MAX):
        chunk = data[start : start + SYNC_DATA_MAX]
        out += b"DATA" + struct.pack("<I", len(chunk)) + chunk
        if len(out) >= stream.connection.max_payload:
            await stream.write(bytes(out))
            out = bytearray()
    out += b"DONE" + bytes(4)
    await stream.write(bytes(out))


_SYNC_FLAG_DRY_RUN = 0x80000000


async def _sync_v2(stream: DeviceStream, phone: VirtualPhone, request: bytes, path: str) -> bool:
    """SND2 path + {SND2, mode, flags} / RCV2 path + {RCV2, flags}; compression is not offered, so flags are 0."""
    if request == b"SND2":
        header = await stream.read_exactly(12)
        mode, flags = struct.unpack("<II", header[4:])
    else:
        header = await stream.read_exactly(8)
        mode, flags = 0, struct.unpack("<I", header[4:])[0]
    if header[:4] != request or flags & ~_SYNC_FLAG_DRY_RUN:
        await stream.write(_fail("unsupported sync v2 flags (this phone offers no compression)"))
        return False
    if request == b"RCV2":
        await _send_file(stream, phone, path)
        return True
    return await _receive_file(stream, phone, f"{path},{mode}", dry_run=bool(flags & _SYNC_FLAG_DRY_RUN))


async def _receive_file(stream: DeviceStream, phone: VirtualPhone, spec: str, *, dry_run: bool = False) -> bool:
    """SEND "path,mode" then DATA... DONE(mtime). Returns False when the stream must end (protocol error)."""
    path, _, mode_text = spec.rpartition(",")
    try:
        mode = int(mode_text)
    except ValueError:
        path, mode = spec, 0o100644
    data = bytearray()
    while True:
        header = await stream.read_exactly(8)
        kind, length = header[:4], int.from_bytes(header[4:], "little")
        if kind == b"DATA":
            if length > SYNC_DATA_MAX:
                await stream.write(_fail("data chunk too large"))
                return False
            data += await stream.read_exactly(length)
            if phone.faults.drop_mid_install and path.endswith(".apk"):  # old phones: push, then pm install
                _pull_cable(stream, phone)
        elif kind == b"DONE":
            error = None if dry_run else phone.write_file(path, bytes(data), mode, length)
            await stream.write(b"OKAY" + bytes(4) if error is None else _fail(error))
            return True
        else:
            await stream.write(_fail("invalid data message"))
            return False


def _fail(message: str) -> bytes:
    encoded = message.encode("utf-8", errors="replace")
    return b"FAIL" + struct.pack("<I", len(encoded)) + encoded
