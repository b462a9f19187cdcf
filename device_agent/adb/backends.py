"""Thin adapters from adb-shell's devices to what PhoneSession needs: shell, push, a write-only stream, close.

Two backends, one shape: TCP uses adb-shell's asyncio device directly; USB uses its synchronous device in a worker
thread (libusb has no asyncio API). Both reach into a few adb-shell internals (`_open`, `_io_manager`,
`_read_until`, `_read_until_close`) for the one thing adb-shell lacks: writing an APK into an open stream.
Those names are stable across adb-shell 0.4.x; setup.cfg pins the minor version for that reason.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import async_timeout
from adb_shell import constants
from adb_shell.adb_device_async import AdbDeviceAsync, _AdbIOManagerAsync
from adb_shell.adb_message import AdbMessage
from adb_shell.exceptions import TcpTimeoutException
from adb_shell.transport.tcp_transport_async import TcpTransportAsync

Progress = Callable[[int, int], None]


class ConnectionClosedByPhone(ConnectionError):
    """The phone (or the cable) closed the connection."""


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

    async def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
        if self._reader is None:
            raise ConnectionClosedByPhone("not connected")
        try:
            async with async_timeout.timeout(transport_timeout_s):
                data = await self._reader.read(numbytes)
        except asyncio.TimeoutError as exc:
            raise TcpTimeoutException(f"no data from {self._host}:{self._port} within {transport_timeout_s} s") from exc
        if not data:
            raise ConnectionClosedByPhone(f"{self._host}:{self._port} closed the connection")
        return data

    async def bulk_write(self, data: bytes, transport_timeout_s: float | None) -> int:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionClosedByPhone(f"{self._host}:{self._port} closed the connection")
        return await super().bulk_write(data, transport_timeout_s)


class _BannerRecordingIOManager(_AdbIOManagerAsync):
    """Keeps the phone's CNXN banner (model, features), which adb-shell reads and then discards."""

    device_banner: bytes = b""

    async def _read_expected_packet_from_device(self, expected_cmds: list[bytes], adb_info: Any) -> tuple:
        packet = await super()._read_expected_packet_from_device(expected_cmds, adb_info)
        if packet[0] == constants.CNXN:
            self.device_banner = bytes(packet[3])
        return packet


class AsyncBackend:
    """An adb-shell asyncio device on TCP."""

    def __init__(self, host: str, port: int, connect_timeout_s: float) -> None:
        self.transport = NoDelayTcpTransport(host, port, connect_timeout_s)
        self.device = AdbDeviceAsync(self.transport, banner="phonegate")
        self.device._io_manager = _BannerRecordingIOManager(self.transport)

    async def connect(self, signer: Any, *, auth_timeout_s: float, read_timeout_s: float, on_prompt: Callable[[], None]) -> bytes:
        await self.device.connect(
            rsa_keys=[signer],
            transport_timeout_s=read_timeout_s,
            auth_timeout_s=auth_timeout_s,
            read_timeout_s=read_timeout_s,
            auth_callback=lambda _device: on_prompt(),
        )
        return self.device._io_manager.device_banner

    async def shell(self, command: str, read_timeout_s: float) -> bytes:
        return await self.device.shell(command, read_timeout_s=read_timeout_s, decode=False)

    async def push(self, local_path: Path, remote_path: str, mode: int, mtime: int, progress: Progress | None, read_timeout_s: float) -> None:
        total = local_path.stat().st_size
        done = 0

        async def report(_path: str, written: int, _total: int) -> None:
            nonlocal done
            done += written
            if progress is not None:
                progress(min(done, total), total)

        await self.device.push(str(local_path), remote_path, st_mode=mode, mtime=mtime, progress_callback=report, read_timeout_s=read_timeout_s)

    async def stream_file(self, destination: str, source: BinaryIO, size: int, progress: Progress | None, read_timeout_s: float) -> bytes:
        """Open `destination`, write exactly `size` bytes from `source`, return everything the phone answered."""
        device = self.device
        adb_info = await device._open(destination.encode("utf-8"), None, read_timeout_s, None)
        loop = asyncio.get_running_loop()
        chunk_size = device._maxdata
        output = bytearray()
        sent = 0
        phone_closed = False
        while sent < size and not phone_closed:
            chunk = await loop.run_in_executor(None, source.read, min(chunk_size, size - sent))
            if not chunk:
                raise ConnectionClosedByPhone(f"the local file ended after {sent} of {size} bytes")
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
        if not phone_closed:
            async for data in device._read_until_close(adb_info):
                output += data
        return bytes(output)

    async def close(self) -> None:
        await self.device.close()
