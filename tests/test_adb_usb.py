"""USB without phones: the optional extra's error, and "no phone" as a clear unreachable error."""

from __future__ import annotations

import asyncio
import sys

import pytest

from device_agent.adb import AdbKey, DeviceUnreachable, connect, connect_usb
from device_agent.adb.errors import UsbSupportMissing


def test_missing_usb_extra_says_what_to_install(adb_key: AdbKey, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "usb1", None)  # what an install without phonegate[usb] looks like to Python
    with pytest.raises(UsbSupportMissing) as caught:
        asyncio.run(connect_usb(adb_key))
    assert "phonegate[usb]" in str(caught.value)
    assert caught.value.exit_code == 2


def test_no_phone_on_usb_is_unreachable(adb_key: AdbKey) -> None:
    with pytest.raises(DeviceUnreachable) as caught:
        asyncio.run(connect("usb:NO-SUCH-SERIAL", adb_key, connect_timeout_s=2, read_timeout_s=2, auth_timeout_s=1))
    assert "NO-SUCH-SERIAL" in str(caught.value)
    assert caught.value.exit_code == 4


def test_usb_phone_held_by_an_adb_server_gets_one_sentence() -> None:
    # LIBUSB_ERROR_BUSY needs a real phone claimed by a real adb server; the mapping is what can be checked here.
    import usb1

    from device_agent.adb.usb import busy_error

    error = busy_error(usb1.USBErrorBusy())
    assert error is not None
    assert error.exit_code == 4
    assert "adb server" in str(error)
    assert "adb kill-server" in str(error)
    assert str(error).count(".") <= 3  # one sentence, not a traceback
    assert busy_error(usb1.USBErrorAccess()) is None
