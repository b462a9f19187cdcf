"""The host side of ADB: keys, connections to phones over TCP or USB, shell, push and install.

Built on adb-shell's async device (framing, auth handshake, file sync); PhoneGate adds the fast signer, the
streamed install, one exception per failure and timeouts on every step.
"""

from device_agent.adb.connection import (
    PhoneSession,
    ShellResult,
    connect,
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
    "connect_tcp",
    "connect_usb",
    "session",
    "wait_for_authorisation",
]
