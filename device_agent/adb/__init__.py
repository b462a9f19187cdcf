"""The host side of ADB: keys, connections to phones (over TCP, through the adb server, or over libusb), shell,
push, pull and install.

Direct connections are built on adb-shell's async device (framing, auth handshake, file sync); phones the adb
server holds go through PhoneGate's own host-protocol client (adb_server.py). PhoneGate adds the fast signer, the
streamed install, one exception per failure and timeouts on every step, the same on every way.
"""

from device_agent.adb.connection import (
    PhoneSession,
    ShellResult,
    connect,
    connect_adb_server,
    connect_tcp,
    connect_usb,
    session,
    wait_for_authorisation,
)
from device_agent.adb.errors import (
    AdbCommandFailed,
    AdbTimeout,
    DeviceUnauthorised,
    DeviceUnreachable,
    InstallFailed,
)
from device_agent.adb.keys import AdbKey

__all__ = [
    "AdbCommandFailed",
    "AdbKey",
    "AdbTimeout",
    "DeviceUnauthorised",
    "DeviceUnreachable",
    "InstallFailed",
    "PhoneSession",
    "ShellResult",
    "connect",
    "connect_adb_server",
    "connect_tcp",
    "connect_usb",
    "session",
    "wait_for_authorisation",
]
