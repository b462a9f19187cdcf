"""One exception per way talking to a phone can fail, each a PhoneGate error with an exit code and a sentence.

`DeviceUnreachable` is phonegate.core.errors.DeviceUnreachable itself (one class, one exit code); the classes below
subclass it only where they carry something more.
"""

from __future__ import annotations

import re

from phonegate.core import errors as base
from phonegate.core.errors import BadInput, DeviceUnreachable

__all__ = [
    "AdbCommandFailed",
    "AdbKeyError",
    "AdbServerUnavailable",
    "AdbTimeout",
    "BadEndpoint",
    "DeviceUnauthorised",
    "DeviceUnreachable",
    "InstallFailed",
    "LocalFileError",
    "UsbSupportMissing",
]


class DeviceUnauthorised(base.DeviceUnauthorised):
    """The phone answered but has not allowed this computer's key (yet); carries the key's fingerprint, which is
    what "Allow USB debugging?" shows. Through an adb server the key is the server's (`~/.android/adbkey`)."""

    def __init__(self, endpoint: str, fingerprint: str | None, key_note: str | None = None) -> None:
        self.endpoint = endpoint
        self.fingerprint = fingerprint
        self.key_note = key_note
        key = f"key fingerprint {fingerprint}" if fingerprint else "this computer's key"
        note = f" ({key_note})" if key_note else ""
        super().__init__(
            f"The phone at {endpoint} has not authorised this computer. Unlock the phone and tap Allow on "
            f"'Allow USB debugging?' for {key}{note}; tick 'Always allow from this computer'."
        )


class AdbTimeout(base.DeviceUnreachable):
    """A step (connect, auth, read, a whole command) took longer than its limit."""


class AdbServerUnavailable(base.DeviceUnreachable):
    """No adb server answers and none could be started: the cue to fall back to libusb."""


class AdbCommandFailed(base.DeviceProblem):
    """The phone answered, but refused a file transfer or command (e.g. read-only path)."""


class AdbKeyError(BadInput):
    """The ADB key file is unreadable or not in adb's format."""


class LocalFileError(BadInput):
    """The file to push or install is missing or unreadable on this computer."""


class BadEndpoint(BadInput):
    """An endpoint that is not HOST:PORT, adb:SERIAL or usb[:SERIAL]."""


class UsbSupportMissing(BadInput):
    """USB needs libusb1, which is an optional extra."""

    def __init__(self) -> None:
        super().__init__("USB support is not installed: run `pip install 'phonegate[usb]'` (needs libusb-1.0 on the system).")


# Plain English for the failures people actually meet; the raw code is always kept alongside.
INSTALL_FAILURE_EXPLANATIONS: dict[str, str] = {
    "INSTALL_FAILED_INSUFFICIENT_STORAGE": "the phone does not have enough free storage",
    "INSTALL_FAILED_UPDATE_INCOMPATIBLE": "a version signed with a different key is already installed; uninstall it first",
    "INSTALL_FAILED_VERSION_DOWNGRADE": "a newer version of the app is already installed",
    "INSTALL_FAILED_ALREADY_EXISTS": "the app is already installed",
    "INSTALL_FAILED_OLDER_SDK": "the phone's Android version is too old for this app",
    "INSTALL_FAILED_NEWER_SDK": "the phone's Android version is too new for this app",
    "INSTALL_FAILED_NO_MATCHING_ABIS": "the app has no code for this phone's processor",
    "INSTALL_FAILED_INVALID_APK": "the file is not a valid APK",
    "INSTALL_PARSE_FAILED_NO_CERTIFICATES": "the APK is not signed",
    "INSTALL_PARSE_FAILED_NOT_APK": "the file is not an APK",
    "INSTALL_PARSE_FAILED_INCONSISTENT_CERTIFICATES": "the APK's signatures do not match each other",
    "INSTALL_FAILED_TEST_ONLY": "the APK is marked test-only and needs -t to install",
    "INSTALL_FAILED_USER_RESTRICTED": "installing apps over USB is disabled on the phone (or the person declined the prompt)",
    "INSTALL_FAILED_VERIFICATION_FAILURE": "Play Protect or the package verifier rejected the app",
    "INSTALL_FAILED_DUPLICATE_PERMISSION": "another installed app already defines one of this app's permissions",
    "INSTALL_FAILED_CONFLICTING_PROVIDER": "another installed app already uses one of this app's content providers",
    "INSTALL_FAILED_MISSING_SHARED_LIBRARY": "the phone lacks a library the app needs",
    "INSTALL_FAILED_ABORTED": "the installation was cancelled on the phone",
    "INSTALL_FAILED_INTERNAL_ERROR": "the phone's package manager hit an internal error",
}

_FAILURE = re.compile(r"Failure\s*\[(?P<code>[A-Z_]+)(?::\s*(?P<detail>.*?))?\]", re.DOTALL)


class InstallFailed(base.DeviceProblem):
    """The phone's package manager refused the APK."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        explanation = INSTALL_FAILURE_EXPLANATIONS.get(code, "the phone's package manager refused it")
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"The app could not be installed: {explanation} [{code}]{suffix}.")

    @classmethod
    def from_output(cls, output: str) -> InstallFailed:
        """Build from `pm install` output that did not start with Success (untrusted text, never raises)."""
        match = _FAILURE.search(output)
        if match:
            return cls(match.group("code"), (match.group("detail") or "").strip()[:300])
        lines = [line.strip() for line in output.splitlines() if line.strip()] or ["no output"]
        # `cmd package` reports a Java exception as "Exception occurred while executing 'VERB':" and then the exception
        # (an install-write the phone has no room for): the second line is the one that says what happened
        detail = " ".join(lines[:2]) if lines[0].startswith("Exception occurred while executing") else lines[0]
        return cls("INSTALL_FAILED_UNKNOWN", detail[:300])
