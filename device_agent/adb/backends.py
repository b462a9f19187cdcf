"""Thin adapters from the ways to reach a phone to what PhoneSession needs: connect, shell, service, push, pull,
stat, a write-only stream, close.

Three backends, one shape:
- TCP (`AsyncBackend`, here): adb-shell's asyncio device, talking ADB straight to the phone's port;
- USB (`device_agent.adb.usb.UsbBackend`): adb-shell's synchronous libusb device in a worker thread (libusb has
  no asyncio API), the fallback when no adb server can be had;
- the adb server (`device_agent.adb.adb_server.AdbServerBackend`): the host protocol to the adb server, which
  holds the phone (USB, wireless debugging, `adb connect`).
The adb-shell backends reach into a few adb-shell internals (`_open`, `_io_manager`, `_read_until`,
`_read_until_close`) for the one thing adb-shell lacks: writing an APK into an open stream. Those names are stable
across adb-shell 0.4.x; setup.cfg pins the minor version for that reason.

Backends raise adb-shell's exceptions or the three below; connection.py turns all of them into PhoneGate errors.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from adb_shell import constants
from adb_shell.adb_device_async import AdbDeviceAsync, _AdbIOManagerAsync
from adb_shell.adb_message import AdbMessage
from adb_shell.exceptions import InvalidChecksumError, InvalidCommandError, TcpTimeoutException
from adb_shell.transport.tcp_transport_async import TcpTransportAsync

from device_agent.adb import message as m

Progress = Callable[[int, int], None]
_CNXN_WIRE = constants.ID_TO_WIRE[constants.CNXN]

# adb-shell logs every packet's raw payload at DEBUG (whole APK chunks, file contents, shell output). With any
# DEBUG root logger that is personal data in logs and a 5x slower install, so its chatter stops at INFO.
logging.getLogger("adb_shell").setLevel(logging.INFO)


class ConnectionClosedByPhone(ConnectionError):
    """The phone (or the cable, or the adb server in between) closed the connection; `hint` says what to check."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint  # None: nobody knows yet why (the adb server backend then looks)


class PhoneRefused(Exception):
    """The phone answered a file transfer with FAIL (a read-only path, a missing file); the text is the phone's."""


class ReadTimedOut(Exception):
    """One answer did not come within its per-read limit (the whole operation's limit is separate)."""


class NoDelayTcpTransport(TcpTransportAsync):
    """adb-shell's asyncio TCP transport with its own connect timeout, TCP_NODELAY asserted, and EOF as an error.

    Without TCP_NODELAY a header+payload pair stalls ~44 ms on delayed ACK (measured). adb-shell's stock
    transport also returns b"" forever after EOF, which its reader turns into a busy loop until read_timeout_s.
    """

    def __init__(self, host: str, port: int, connect_timeout_s: float) -> None:
        super().__init__(host, port)
        self.connect_timeout_s = connect_timeout_s

    async def connect(self, transport_timeout_s: float | None) -> None:
        await super().connect(self.connect_timeout_s)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def nodelay(self) -> bool:
        sock = self._writer.get_extra_info("socket") if self._writer else None
        return bool(sock and sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    # A timer per read and per write was a third of the event loop's work when 200 phones answer at once (14 timers
    # per phone, each pushed onto and cancelled from the loop's heap). Most reads find the bytes already buffered
    # (a packet's payload right behind its header) and most writes leave nothing queued: those cannot wait, so
    # they take no timer. Anything that may wait keeps its limit.

    async def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
        reader = self._reader
        if reader is None:
            raise ConnectionClosedByPhone("not connected")
        if getattr(reader, "_buffer", None):  # StreamReader's buffer (private, hence getattr): read() returns at once
            data = await reader.read(numbytes)
        else:
            try:
                async with asyncio.timeout(transport_timeout_s):
                    data = await reader.read(numbytes)
            except asyncio.TimeoutError as exc:
                raise TcpTimeoutException(f"no data from {self._host}:{self._port} within {transport_timeout_s} s") from exc
        if not data:
            raise ConnectionClosedByPhone(f"{self._host}:{self._port} closed the connection")
        return data

    async def bulk_write(self, data: bytes, transport_timeout_s: float | None) -> int:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise ConnectionClosedByPhone(f"{self._host}:{self._port} closed the connection")
        writer.write(data)
        transport = writer.transport
        if transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[0]:
            await writer.drain()  # at or below the low-water mark the transport is not paused: drain() cannot wait
            return len(data)
        try:
            async with asyncio.timeout(transport_timeout_s):
                await writer.drain()
        except asyncio.TimeoutError as exc:
            raise TcpTimeoutException(f"sending to {self._host}:{self._port} timed out after {transport_timeout_s} s") from exc
        return len(data)


class _PhoneGateIOManager(_AdbIOManagerAsync):
    """adb-shell's packet I/O with three changes:

    - it keeps the phone's CNXN banner (model, features), which adb-shell reads and then discards;
    - it offers protocol version 0x01000001 like adb >= 29, so phones since Android 9 drop payload checksums:
      summing every byte of a 50 MB APK in Python cost more than the whole transfer. Older phones answer
      0x01000000 and keep getting checksums. TCP and USB bulk transfers carry their own integrity checks;
    - header and payload go out in one write.
    """

    device_banner: bytes = b""
    send_checksums: bool = True  # until the phone's CNXN shows it skips them

    async def _send(self, msg: AdbMessage, adb_info: Any) -> None:
        if msg.command == _CNXN_WIRE:
            msg.arg0 = m.VERSION_SKIP_CHECKSUM
        data = bytes(msg.data)
        data_check = m.checksum(data) if self.send_checksums else 0
        packet = m.HEADER.pack(msg.command, msg.arg0, msg.arg1, len(data), data_check, msg.magic) + data
        await self._transport.bulk_write(packet, adb_info.transport_timeout_s)

    async def _read_packet_from_device(self, adb_info: Any) -> tuple[bytes, int, int, bytes]:
        header = await self._read_bytes_from_device(m.HEADER_SIZE, adb_info)
        wire, arg0, arg1, length, data_check, _magic = m.HEADER.unpack(header)
        command = constants.WIRE_TO_ID.get(wire)
        if command is None:
            raise InvalidCommandError(f"unknown ADB command {m.command_name(wire)!r}")
        data = await self._read_bytes_from_device(length, adb_info) if length else b""
        # A phone that negotiated "skip checksum" sends 0; anything else must add up.
        if data_check and self.send_checksums and m.checksum(data) != data_check:
            raise InvalidChecksumError(f"payload checksum {m.checksum(data)} != {data_check}")
        if command == constants.CNXN:
            self.device_banner = data
            self.send_checksums = min(arg0, m.VERSION_SKIP_CHECKSUM) < m.VERSION_SKIP_CHECKSUM
        return command, arg0, arg1, data


class AsyncBackend:
    """An adb-shell asyncio device on TCP."""

    def __init__(self, host: str, port: int, connect_timeout_s: float) -> None:
        self.transport = NoDelayTcpTransport(host, port, connect_timeout_s)
        self.device = AdbDeviceAsync(self.transport, banner="phonegate")
        self.device._io_manager = _PhoneGateIOManager(self.transport)

    async def connect(self, signer: Any, *, auth_timeout_s: float, read_timeout_s: float, on_prompt: Callable[[], None]) -> bytes:
        await self.device.connect(
            rsa_keys=[signer],
            transport_timeout_s=read_timeout_s,
            auth_timeout_s=auth_timeout_s,
            read_timeout_s=read_timeout_s,
            auth_callback=lambda _device: on_prompt(),
        )
        return self.device._io_manager.device_banner

    def unauthorised(self, endpoint: str, key: Any) -> Any:
        """What to tell the person when the phone does not know `key` (PhoneGate's own key, on a direct connection)."""
        from device_agent.adb.errors import DeviceUnauthorised

        return DeviceUnauthorised(endpoint, key.fingerprint())

    async def shell(self, command: str, read_timeout_s: float) -> bytes:
        return await self.device.shell(command, transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s, decode=False)

    async def service(self, service: str, command: str, read_timeout_s: float) -> bytes:
        """Everything `service:command` writes until the phone closes the stream (e.g. `shell,v2,raw`)."""
        return await self.device._service(
            service.encode("utf-8"), command.encode("utf-8"), transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s, decode=False
        )

    async def push(self, local_path: Path, remote_path: str, mode: int, mtime: int, progress: Progress | None, read_timeout_s: float) -> None:
        total = local_path.stat().st_size
        done = 0

        async def report(_path: str, written: int, _total: int) -> None:
            nonlocal done
            done += written
            if progress is not None:
                progress(min(done, total), total)

        await self.device.push(
            str(local_path), remote_path, st_mode=mode, mtime=mtime, progress_callback=report,
            transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s,
        )

    async def pull(self, remote_path: str, local_path: Path, progress: Progress | None, read_timeout_s: float) -> None:
        done = 0

        async def report(_path: str, written: int, total: int) -> None:  # adb-shell reports each chunk's size
            nonlocal done
            done += written
            if progress is not None:
                progress(done, total)

        await self.device.pull(
            remote_path, str(local_path), progress_callback=report if progress else None,
            transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s,
        )

    async def stat(self, remote_path: str, read_timeout_s: float) -> tuple[int, int, int]:
        return await self.device.stat(remote_path, transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s)

    async def stream_file(self, destination: str, source: BinaryIO, size: int, progress: Progress | None, read_timeout_s: float) -> bytes:
        """Open `destination`, write exactly `size` bytes from `source`, return everything the phone answered."""
        device = self.device
        adb_info = await device._open(destination.encode("utf-8"), read_timeout_s, read_timeout_s, None)
        loop = asyncio.get_running_loop()
        chunk_size = device._maxdata
        output = bytearray()
        sent = 0
        phone_closed = False
        # Read the next chunk from disk while the phone is still acknowledging the current one.
        next_chunk = loop.run_in_executor(None, source.read, min(chunk_size, size))
        try:
            while sent < size and not phone_closed:
                chunk = await next_chunk
                if not chunk:
                    raise ConnectionClosedByPhone(f"the local file ended after {sent} of {size} bytes")
                if sent + len(chunk) < size:
                    next_chunk = loop.run_in_executor(None, source.read, min(chunk_size, size - sent - len(chunk)))
                message = AdbMessage(constants.WRTE, adb_info.local_id, adb_info.remote_id, chunk)
                await device._io_manager.send(message, adb_info)
                sent += len(chunk)
                if progress is not None:
                    progress(sent, size)
                while True:  # wait for this chunk's OKAY; the phone may answer early (e.g. a failure) instead
                    command, data = await device._read_until([constants.OKAY, constants.WRTE, constants.CLSE], adb_info)
                    if command == constants.OKAY:
                        break
                    if command == constants.WRTE:
                        output += data
                        continue
                    await device._io_manager.send(AdbMessage(constants.CLSE, adb_info.local_id, adb_info.remote_id), adb_info)
                    phone_closed = True
                    break
        finally:
            # an abandoned read-ahead must not log 'exception never retrieved' after a failure
            next_chunk.add_done_callback(lambda future: future.cancelled() or future.exception())
        if not phone_closed:
            # The verdict comes when the package manager has finished (tens of seconds on a real phone for a big
            # APK): no per-read limit here; the caller's overall timeout_s bounds it.
            adb_info.transport_timeout_s = None
            adb_info.read_timeout_s = float("inf")
            async for data in device._read_until_close(adb_info):
                output += data
        return bytes(output)

    async def close(self) -> None:
        await self.device.close()
