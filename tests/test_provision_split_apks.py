"""`phonegate provision` with an APK set in the catalogue (base plus splits), end to end: the real console script and
server, simulated phones over direct TCP and through Debian's adb server (`adb connect`), approval on the web page.
A failure in the middle of the set leaves the phone with no app and no open install session; the re-run finishes."""

from __future__ import annotations

import dataclasses

import pytest
from test_provision_adb_server import _provision, staffed  # noqa: F401 - shared fixtures
from test_provision_e2e import URL, _device, _packages, big_apk, provisioning  # noqa: F401 - shared fixtures

from server.models import DeviceState

pytestmark = [pytest.mark.slow, pytest.mark.adb, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture
def catalogue_set(provisioning, whatsapp_split_apks):  # type: ignore[no-untyped-def]  # noqa: F811
    """A com.whatsapp set (base, a 2 MiB ABI split, a language split), newer than the single APK: the current app."""
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    files = [whatsapp_split_apks.base, whatsapp_split_apks.split_big, whatsapp_split_apks.split_en]
    entry, _ = add_app(db.session, files, "individual", Actor.system())
    db.session.commit()
    return entry


def _approved_over_tcp(provisioning, phone):  # type: ignore[no-untyped-def]  # noqa: F811
    first = provisioning.provision([phone.endpoint])
    provisioning.approve(int(URL.search(first.stdout + first.stderr).group(2)))


def test_a_set_is_provisioned_over_tcp(provisioning, catalogue_set, phone_simulator, adb_client):  # type: ignore[no-untyped-def]  # noqa: F811
    (phone,) = phone_simulator(1)
    _approved_over_tcp(provisioning, phone)
    done = provisioning.provision([phone.endpoint])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "APK set verified" in done.stdout + done.stderr
    assert _device(phone.serial).state == DeviceState.PROVISIONED.value
    assert "package:com.whatsapp" in _packages(adb_client, phone.endpoint)  # (also connects adb)
    dump = adb_client.run("-s", phone.endpoint, "shell", "dumpsys package com.whatsapp").stdout.decode()
    assert "    splits=[base, config.arm64_v8a, config.en]" in dump.splitlines()


def test_a_set_is_provisioned_through_the_adb_server(staffed, catalogue_set, adb_server, attached_phones):  # type: ignore[no-untyped-def]  # noqa: F811
    (attached,) = attached_phones(1)
    first = _provision(staffed, adb_server, "--serial", attached.adb_serial)
    staffed.approve(int(URL.search(first.stdout + first.stderr).group(2)))
    done = _provision(staffed, adb_server, "--serial", attached.adb_serial)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _device(attached.serial).state == DeviceState.PROVISIONED.value
    assert attached.phone.package_db.packages["com.whatsapp"].splits == ["config.arm64_v8a", "config.en"]


def test_a_failure_mid_set_leaves_no_app_and_the_rerun_finishes(provisioning, catalogue_set, phone_simulator, adb_client):  # type: ignore[no-untyped-def]  # noqa: F811
    (phone,) = phone_simulator(1)
    _approved_over_tcp(provisioning, phone)
    roomy = phone.phone.profile
    phone.phone.profile = dataclasses.replace(roomy, storage_free_mb=1)  # the base fits, the 2 MiB split does not
    failed = provisioning.provision([phone.endpoint])
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert "Failed to free" in failed.stdout + failed.stderr
    assert (phone.phone.installer.sessions, "package:com.whatsapp" in _packages(adb_client, phone.endpoint)) == ({}, False)
    assert _device(phone.serial).state == DeviceState.APPROVED.value

    phone.phone.profile = roomy  # room made on the phone
    again = provisioning.provision([phone.endpoint])
    assert again.returncode == 0, again.stdout + again.stderr
    assert _device(phone.serial).state == DeviceState.PROVISIONED.value


def test_a_set_entry_with_apk_given_is_refused(provisioning, catalogue_set, phone_simulator, whatsapp_split_apks):  # type: ignore[no-untyped-def]  # noqa: F811
    (phone,) = phone_simulator(1)
    _approved_over_tcp(provisioning, phone)
    refused = provisioning.provision([phone.endpoint], "--apk", str(whatsapp_split_apks.base))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--apk takes one APK" in refused.stdout + refused.stderr


def test_a_tampered_split_in_the_servers_folder_is_refused_and_nothing_installed(provisioning, catalogue_set, phone_simulator, adb_client):  # type: ignore[no-untyped-def]  # noqa: F811
    from server.services.catalogue import apk_path

    (phone,) = phone_simulator(1)
    _approved_over_tcp(provisioning, phone)
    split = apk_path(catalogue_set.files[2])
    data = bytearray(split.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed on the server's disk: the file is no longer the catalogue's
    split.write_bytes(bytes(data))
    refused = provisioning.provision([phone.endpoint])
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "does not match the catalogue's SHA-256" in refused.stdout + refused.stderr
    assert "package:com.whatsapp" not in _packages(adb_client, phone.endpoint)
