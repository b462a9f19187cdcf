"""`phonegate provision --usb/--serial` end to end through a real adb server (Debian's and Google's): the real console
script and server, simulated phones that trust only the adb server's key, approval on the web page."""

from __future__ import annotations

import subprocess

import pytest
from test_provision_e2e import PHONEGATE, URL, _device, big_apk, provisioning  # noqa: F401,F811 - shared fixtures

from server.models import DeviceState

pytestmark = [pytest.mark.slow, pytest.mark.adb, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


def _provision(provisioning, adb_server, *phones: str, staff=None):  # type: ignore[no-untyped-def]
    env = dict(provisioning.env, **adb_server.env)  # the adb server's HOME, port and PATH
    args = [PHONEGATE, "provision", *phones, "--staff", (staff or provisioning.staff).email]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=240, check=False)


@pytest.fixture
def staffed(provisioning, web):  # type: ignore[no-untyped-def]
    provisioning.staff = web.staff
    return provisioning


def _packages(adb_server, attached) -> str:  # type: ignore[no-untyped-def]
    return adb_server.run("-s", attached.adb_serial, "shell", "pm list packages").stdout.decode()


def test_usb_provisions_the_one_attached_phone(staffed, adb_server, attached_phones, web):  # type: ignore[no-untyped-def]
    # With several phones attached, --usb needs a holder per phone (--plan: tests/test_provision_plan.py, which
    # also covers an unauthorised phone among them).
    (good,) = attached_phones(1)
    first = _provision(staffed, adb_server, "--usb")
    output = first.stdout + first.stderr
    assert first.returncode == 3, output  # waiting for its manager
    assert _device(good.serial).state == DeviceState.PENDING_APPROVAL.value

    staffed.approve(int(URL.search(output).group(2)))
    second = _provision(staffed, adb_server, "--serial", good.serial)  # by the phone's own serial number
    assert second.returncode == 0, second.stdout + second.stderr
    assert _device(good.serial).state == DeviceState.PROVISIONED.value
    assert "package:com.whatsapp" in _packages(adb_server, good)


def test_phone_pulled_mid_install_then_plugged_back_the_rerun_finishes(staffed, adb_server, attached_phones, big_apk, pinned_app):  # type: ignore[no-untyped-def]  # noqa: F811
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    entry, _ = add_app(db.session, big_apk, "individual", Actor.system())  # newer version: becomes the current app
    db.session.commit()
    (attached,) = attached_phones(1)
    first = _provision(staffed, adb_server, "--serial", attached.adb_serial)
    staffed.approve(int(URL.search(first.stdout + first.stderr).group(2)))

    attached.phone.faults.drop_after_bytes = big_apk.stat().st_size // 2  # the cable is pulled halfway through the APK
    dropped = _provision(staffed, adb_server, "--serial", attached.adb_serial)
    assert dropped.returncode == 4, dropped.stdout + dropped.stderr
    assert "was lost" in dropped.stdout + dropped.stderr
    assert _device(attached.serial).state == DeviceState.APPROVED.value

    attached.phone.faults.drop_after_bytes = None  # plugged back in
    assert adb_server.connect(attached.adb_serial) == "device"
    again = _provision(staffed, adb_server, "--serial", attached.adb_serial)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _device(attached.serial).state == DeviceState.PROVISIONED.value
    dump = adb_server.run("-s", attached.adb_serial, "shell", "dumpsys package com.whatsapp").stdout.decode()
    assert f"versionCode={entry.version_code}" in dump
