"""USB phones through adb-shell's synchronous USB device, run in a worker thread (libusb has no asyncio API).

The fallback for when no adb server can be had: where an adb server runs it holds every USB phone, and libusb
then fails with LIBUSB_ERROR_BUSY (turned into one sentence saying what to do, `USB_BUSY`).
Optional: needs the `usb` extra (libusb1). Importing this module never fails; connecting without libusb1 raises
UsbSupportMissing with the pip command to run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from device_agent.adb.errors import UsbSupportMissing
from phonegate.core.errors import DeviceUnreachable

Progress = Callable[[int, int], None]
USB_BUSY = ("The USB phone is held by another program, almost always an adb server (platform tools, Android Studio, "
            "scrcpy): let PhoneGate go through it (check that `adb devices` lists the phone, then use --serial or --usb "
            "with ANDROID_ADB_SERVER_PORT set as that server's), or stop it with `adb kill-server`.")


def usb_available() -> bool:
    """Whether the `usb` extra (libusb1 and a loadable libusb) is installed."""
    try:
        _usb_device_class()
    except UsbSupportMissing:
        return False
    return True


def busy_error(exc: BaseException) -> DeviceUnreachable | None:
    """LIBUSB_ERROR_BUSY (the interface is claimed by someone else) as the sentence above; None for anything else."""
    try:
        import usb1
    except (ImportError, OSError):
        return None
    if isinstance(exc, usb1.USBErrorBusy):
        return DeviceUnreachable(USB_BUSY)
    return None


def _usb_device_class() -> Any:
    try:
        import usb1  # noqa: F401 - only to learn whether the extra is installed
        from adb_shell.adb_device import AdbDeviceUsb, _AdbIOManager
    except (ImportError, OSError) as exc:
        raise UsbSupportMissing() from exc
    return AdbDeviceUsb, _AdbIOManager


class UsbBackend:
    def __init__(self, serial: str | None, connect_timeout_s: float) -> None:
        self.serial = serial
        self.connect_timeout_s = connect_timeout_s
        self.device: Any = None

    async def connect(self, signer: Any, *, auth_timeout_s: float, read_timeout_s: float, on_prompt: Callable[[], None]) -> bytes:
        device_class, io_manager_class = _usb_device_class()

        class BannerRecording(io_manager_class):  # type: ignore[misc, valid-type]
            device_banner = b""

            def _read_expected_packet_from_device(self, expected_cmds: list[bytes], adb_info: Any) -> tuple:
                packet = super()._read_expected_packet_from_device(expected_cmds, adb_info)
                if packet[0] == b"CNXN":
                    self.device_banner = bytes(packet[3])
                return packet

        def connect() -> bytes:
            device = device_class(serial=self.serial, default_transport_timeout_s=read_timeout_s, banner="phonegate")
            device._io_manager = BannerRecording(device._io_manager._transport)
            self.device = device
            device.connect(
                rsa_keys=[signer],
                transport_timeout_s=read_timeout_s,
                auth_timeout_s=auth_timeout_s,
                read_timeout_s=read_timeout_s,
                auth_callback=lambda _device: on_prompt(),
            )
            return device._io_manager.device_banner

        try:
            return await asyncio.to_thread(connect)
        except Exception as exc:
            busy = busy_error(exc)
            if busy is None:
                raise
            raise busy from exc

    def unauthorised(self, endpoint: str, key: Any) -> Any:
        from device_agent.adb.errors import DeviceUnauthorised

        return DeviceUnauthorised(endpoint, key.fingerprint())

    async def shell(self, command: str, read_timeout_s: float) -> bytes:
        return await asyncio.to_thread(
            self.device.shell, command, transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s, decode=False
        )

    async def service(self, service: str, command: str, read_timeout_s: float) -> bytes:
        return await asyncio.to_thread(
            self.device._service, service.encode("utf-8"), command.encode("utf-8"),
            transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s, decode=False,
        )

    async def push(self, local_path: Path, remote_path: str, mode: int, mtime: int, progress: Progress | None, read_timeout_s: float) -> None:
        total = local_path.stat().st_size
        done = 0

        def report(_path: str, written: int, _total: int) -> None:
            nonlocal done
            done += written
            if progress is not None:
                progress(min(done, total), total)

        await asyncio.to_thread(
            self.device.push, str(local_path), remote_path, st_mode=mode, mtime=mtime, progress_callback=report,
            transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s,
        )

    async def pull(self, remote_path: str, local_path: Path, progress: Progress | None, read_timeout_s: float) -> None:
        done = 0

        def report(_path: str, written: int, total: int) -> None:
            nonlocal done
            done += written
            if progress is not None:
                progress(done, total)

        await asyncio.to_thread(
            self.device.pull, remote_path, str(local_path), progress_callback=report if progress else None,
            transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s,
        )

    async def stat(self, remote_path: str, read_timeout_s: float) -> tuple[int, int, int]:
        return await asyncio.to_thread(self.device.stat, remote_path, transport_timeout_s=read_timeout_s, read_timeout_s=read_timeout_s)

    async def stream_file(self, destination: str, source: BinaryIO, size: int, progress: Progress | None, read_timeout_s: float) -> bytes:
        return await asyncio.to_thread(self._stream_file, destination, source, size, progress, read_timeout_s)

    def _stream_file(self, destination: str, source: BinaryIO, size: int, progress: Progress | None, read_timeout_s: float) -> bytes:
        from adb_shell import constants
        from adb_shell.adb_message import AdbMessage

        device = self.device
        adb_info = device._open(destination.encode("utf-8"), read_timeout_s, read_timeout_s, None)
        output = bytearray()
        sent = 0
        while sent < size:
            chunk = source.read(min(device._maxdata, size - sent))
            if not chunk:
                raise ConnectionError(f"the local file ended after {sent} of {size} bytes")
            device._io_manager.send(AdbMessage(constants.WRTE, adb_info.local_id, adb_info.remote_id, chunk), adb_info)
            sent += len(chunk)
            if progress is not None:
                progress(sent, size)
            command, data = device._read_until([constants.OKAY, constants.WRTE, constants.CLSE], adb_info)
            while command == constants.WRTE:
                output += data
                command, data = device._read_until([constants.OKAY, constants.WRTE, constants.CLSE], adb_info)
            if command == constants.CLSE:
                device._io_manager.send(AdbMessage(constants.CLSE, adb_info.local_id, adb_info.remote_id), adb_info)
                return bytes(output)
        adb_info.transport_timeout_s = None  # the verdict comes when pm is done; the caller's timeout_s bounds it
        adb_info.read_timeout_s = float("inf")
        for data in device._read_until_close(adb_info):
            output += data
        return bytes(output)

    async def close(self) -> None:
        if self.device is not None:
            await asyncio.to_thread(self.device.close)
