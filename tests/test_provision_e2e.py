"""`phonegate provision` end to end: the real console script, the real server (waitress), simulated phones over
ADB, and Debian's `adb` to look at the phone afterwards. The manager approves through the web page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from server.models import AuditEntry, DeviceState, Installation
from server.services.errors import NotFound

# End to end on SQLite only: the rules underneath are tested on both databases in the service tests.
pytestmark = [pytest.mark.slow, pytest.mark.adb, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

PHONEGATE = str(Path(sys.executable).with_name("phonegate"))
URL = re.compile(r"(http://127\.0\.0\.1:\d+/requests/(\d+))")


@pytest.fixture
def provisioning(web, pinned_app, test_apks, live_server, phone_simulator, adb_key, factory, tmp_path):
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    entry, _ = add_app(db.session, test_apks.whatsapp, "individual", Actor.system())
    db.session.commit()
    token, _ = factory.token(user=web.it, scope="provision")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "PHONEGATE_SERVER": live_server.url,
        "PHONEGATE_TOKEN": token,
        "PHONEGATE_ADB_KEY": str(adb_key.path),
    }

    def provision(endpoints, *extra, staff=None, timeout=180):
        args = [PHONEGATE, "provision"]
        for endpoint in endpoints:
            args += ["--tcp", endpoint]
        if staff is not False:
            args += ["--staff", (staff or web.staff).email]
        result = subprocess.run([*args, *extra], env=env, capture_output=True, text=True, timeout=timeout, check=False)
        db.session.expire_all()
        return result

    def approve(request_id, manager=None, **extra):
        client = live_server.app.test_client()
        web.login(client, manager or web.manager)
        page = client.get(f"/requests/{request_id}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        day = date.today() - timedelta(days=20)
        response = client.post(f"/requests/{request_id}/decision", data={
            "csrf_token": token, "decision": "approve", "acknowledged": "yes", "training_confirmed": "yes", "policy_sha256": web.policy.sha256,
            "training-day": str(day.day), "training-month": str(day.month), "training-year": str(day.year),
            "confirm": "yes", **extra,
        })
        db.session.expire_all()
        return response

    return SimpleNamespace(entry=entry, token=token, env=env, provision=provision, approve=approve)


def _packages(adb_client, endpoint: str) -> str:
    connected = adb_client.run("connect", endpoint)
    assert connected.returncode == 0, connected.stderr
    result = adb_client.run("-s", endpoint, "shell", "pm list packages")
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


def _device(serial):
    from server.extensions import db
    from server.services.devices import get_by_serial

    return get_by_serial(db.session, serial)


def test_unapproved_phone_is_refused_then_installed_after_web_approval(provisioning, phone_simulator, adb_client, test_apks):
    from device_agent.parsers.dumpsys_package import java_signature_hashcode

    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    assert first.returncode == 3, first.stdout + first.stderr
    match = URL.search(first.stdout + first.stderr)
    assert match, first.stdout + first.stderr
    assert "package:com.whatsapp\n" not in _packages(adb_client, phone.endpoint) + "\n"
    assert _device(phone.serial).state == DeviceState.PENDING_APPROVAL.value

    response = provisioning.approve(int(match.group(2)))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert _device(phone.serial).state == DeviceState.APPROVED.value

    second = provisioning.provision([phone.endpoint])
    assert second.returncode == 0, second.stdout + second.stderr
    assert "provisioned" in second.stdout
    assert "package:com.whatsapp" in _packages(adb_client, phone.endpoint)
    dump = adb_client.run("-s", phone.endpoint, "shell", "dumpsys package com.whatsapp").stdout.decode()
    assert f"versionCode={provisioning.entry.version_code}" in dump
    assert java_signature_hashcode(test_apks.key_a.der) in dump  # the signer Android shows is key A's certificate
    assert _device(phone.serial).state == DeviceState.PROVISIONED.value

    # Running it again is safe: the installed app is recognised, nothing is installed twice.
    third = provisioning.provision([phone.endpoint])
    assert third.returncode == 0, third.stdout + third.stderr
    assert "Already provisioned" in third.stdout + third.stderr

    from server.extensions import db

    installations = db.session.scalars(select(Installation)).all()
    assert len(installations) == 1
    assert installations[0].signer_sha256 == test_apks.key_a.sha256


def test_wrong_signer_apk_is_refused_by_provision(provisioning, phone_simulator, adb_client, web, test_apks):
    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    provisioning.approve(int(URL.search(first.stdout + first.stderr).group(2)))
    refused = provisioning.provision([phone.endpoint], "--apk", str(test_apks.wrong_signer))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "not signed by the catalogue's pinned certificate" in refused.stdout + refused.stderr
    assert "package:com.whatsapp" not in _packages(adb_client, phone.endpoint)
    # The right file given with --apk is accepted (it is the catalogue's, byte for byte).
    accepted = provisioning.provision([phone.endpoint], "--apk", str(test_apks.whatsapp))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_preinstalled_whatsapp_is_reported_as_unauthorised(provisioning, phone_simulator, test_apks):
    phone = phone_simulator(1)[0]
    reply = phone.simulator.call(_install_on_phone(phone, test_apks.whatsapp_newer))
    assert reply == "Success"
    result = provisioning.provision([phone.endpoint])
    assert result.returncode == 3
    assert "unauthorised install" in result.stdout
    from server.extensions import db

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "device.unauthorised_install")).one()
    assert entry.target_id == str(_device(phone.serial).id)
    assert '"package":"com.whatsapp"' in entry.details


async def _install_on_phone(phone, apk: Path) -> str:
    return phone.phone.install_apk(apk.read_bytes(), ["-r"])


def test_one_staff_member_for_several_phones_is_refused_before_anything_is_registered(provisioning, phone_simulator, web):
    # Several phones need a holder each (provision --plan; tests/test_provision_plan.py): one --staff for two
    # phones is a mistake found before any phone or server state is touched.
    phones = phone_simulator(2)
    result = provisioning.provision([p.endpoint for p in phones])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--plan" in result.stderr
    for phone in phones:
        with pytest.raises(NotFound):
            _device(phone.serial)


def test_dropped_connection_mid_install_then_rerun_finishes(provisioning, phone_simulator, big_apk, adb_client, pinned_app):
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    entry, _ = add_app(db.session, big_apk, "individual", Actor.system())  # newer version: becomes the current app
    db.session.commit()
    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    provisioning.approve(int(URL.search(first.stdout + first.stderr).group(2)))

    phone.phone.faults.drop_after_bytes = big_apk.stat().st_size // 2  # the cable is pulled halfway through the APK
    dropped = provisioning.provision([phone.endpoint])
    assert dropped.returncode == 4, dropped.stdout + dropped.stderr
    assert _device(phone.serial).state == DeviceState.APPROVED.value

    phone.phone.faults.drop_after_bytes = None  # plugged back in
    again = provisioning.provision([phone.endpoint])
    assert again.returncode == 0, again.stdout + again.stderr
    assert _device(phone.serial).state == DeviceState.PROVISIONED.value
    assert "package:com.whatsapp" in _packages(adb_client, phone.endpoint)
    dump = adb_client.run("-s", phone.endpoint, "shell", "dumpsys package com.whatsapp").stdout.decode()
    assert f"versionCode={entry.version_code}" in dump


def test_server_down_is_reported_and_nothing_installed(provisioning, phone_simulator, adb_client):
    phone = phone_simulator(1)[0]
    env = dict(provisioning.env, PHONEGATE_SERVER="http://127.0.0.1:9")  # nothing listens on the discard port
    result = subprocess.run([PHONEGATE, "provision", "--tcp", phone.endpoint, "--broadcast", "Rights and Participation"],
                            env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 7  # the README's "server could not be reached"
    assert "Cannot reach the PhoneGate server" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "package:com.whatsapp" not in _packages(adb_client, phone.endpoint)


def _entries() -> int:
    from sqlalchemy import func

    from server.extensions import db

    return db.session.scalar(select(func.count(AuditEntry.id)))


@pytest.mark.parametrize("holder, message", [
    (["--staff", "typo@example.test"], "the server has no staff member with the e-mail typo@example.test"),
    (["--staff", "INACTIVE"], "is no longer active"),
    (["--broadcast", "No Such Service"], "the server has no service called 'No Such Service'"),
])
def test_a_wrong_holder_exits_2_before_the_phone_is_registered(provisioning, phone_simulator, factory, web, holder, message):
    from server.extensions import db

    leaver = factory.staff(team=web.team)
    leaver.active = False  # (staff members leave; nothing in PhoneGate deactivates them yet)
    db.session.commit()
    phone = phone_simulator(1)[0]
    entries = _entries()
    holder = [leaver.email if part == "INACTIVE" else part for part in holder]
    result = provisioning.provision([phone.endpoint], *holder, staff=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Nothing was registered" in result.stderr
    with pytest.raises(NotFound):
        _device(phone.serial)
    assert _entries() == entries


def test_an_install_the_phone_refuses_exits_with_the_phone_problem_code(provisioning, phone_simulator, adb_client):
    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    provisioning.approve(int(URL.search(first.stdout + first.stderr).group(2)))
    phone.phone.faults.install_failure = "INSTALL_FAILED_INSUFFICIENT_STORAGE"
    refused = provisioning.provision([phone.endpoint])
    assert refused.returncode == 4, refused.stdout + refused.stderr  # the README's "a phone problem"
    assert "not have enough free storage" in refused.stdout + refused.stderr
    assert _device(phone.serial).state == DeviceState.APPROVED.value


@pytest.mark.parametrize("args, message", [
    ([], "--tcp HOST:PORT"),
    (["--tcp", "127.0.0.1:1", "--staff", "a@example.test", "--broadcast", "X"], "exactly one"),
])
def test_bad_usage_exits_2(provisioning, args, message):
    result = subprocess.run([PHONEGATE, "provision", *args], env=provisioning.env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.fixture(scope="session")
def big_apk(test_apks, tmp_path_factory):
    """A 2 MiB com.whatsapp APK signed by key A, so a mid-install drop lands well inside the APK's bytes."""
    from fixtures_apks import _framework, sign

    directory = tmp_path_factory.mktemp("big-apk")
    source = directory / "src"
    (source / "assets").mkdir(parents=True)
    (source / "AndroidManifest.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.whatsapp"'
        ' android:versionCode="242401000" android:versionName="2.24.24.0">\n'
        '  <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="34"/>\n'
        '  <application android:label="PhoneGate test"/>\n</manifest>\n')
    (source / "assets" / "padding.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    raw, aligned = directory / "raw.apk", directory / "aligned.apk"
    subprocess.run(["aapt", "package", "-f", "-M", str(source / "AndroidManifest.xml"), "-I", str(_framework(directory)),
                    "-A", str(source / "assets"), "-F", str(raw)], check=True, capture_output=True)
    subprocess.run(["zipalign", "-f", "4", str(raw), str(aligned)], check=True, capture_output=True)
    return sign(aligned, directory / "big.apk", test_apks.key_a)


def test_broadcast_phone_then_a_second_one_needs_an_explicit_handover(provisioning, phone_simulator, web, test_apks, adb_client):
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    add_app(db.session, test_apks.w4b, "broadcast", Actor.system())
    db.session.commit()
    first, second = phone_simulator(2, profiles=["google-pixel-9"])
    asked = provisioning.provision([first.endpoint], "--broadcast", web.service.name, staff=False)
    assert asked.returncode == 3, asked.stdout + asked.stderr
    assert provisioning.approve(int(URL.search(asked.stdout + asked.stderr).group(2))).status_code == 302
    done = provisioning.provision([first.endpoint], "--broadcast", web.service.name, staff=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "package:com.whatsapp.w4b" in _packages(adb_client, first.endpoint)

    asked2 = provisioning.provision([second.endpoint], "--broadcast", web.service.name, staff=False)
    request_id = int(URL.search(asked2.stdout + asked2.stderr).group(2))
    refused = provisioning.approve(request_id)  # a plain approval: the page asks for the explicit handover
    assert refused.status_code == 400
    assert "Confirm that the Broadcast role is handed over from the current phone" in refused.get_data(as_text=True)
    assert _device(second.serial).state == DeviceState.PENDING_APPROVAL.value
    still = provisioning.provision([second.endpoint], "--broadcast", web.service.name, staff=False)
    assert still.returncode == 3
    assert "package:com.whatsapp.w4b" not in _packages(adb_client, second.endpoint)

    # The explicit handover: the new phone is approved and designated, the old one suspended, then provisioned.
    handed = provisioning.approve(request_id, handover="yes", handover_reason="Replacing the Broadcast phone")
    assert handed.status_code == 302
    assert _device(first.serial).state == DeviceState.SUSPENDED.value
    assert _device(second.serial).state == DeviceState.APPROVED.value
    done2 = provisioning.provision([second.endpoint], "--broadcast", web.service.name, staff=False)
    assert done2.returncode == 0, done2.stdout + done2.stderr
    assert "package:com.whatsapp.w4b" in _packages(adb_client, second.endpoint)


def test_manager_of_another_team_cannot_approve_on_the_web(provisioning, phone_simulator, web):
    phone = phone_simulator(1)[0]
    asked = provisioning.provision([phone.endpoint])
    request_id = int(URL.search(asked.stdout + asked.stderr).group(2))
    refused = provisioning.approve(request_id, manager=web.other_manager)
    assert refused.status_code in (403, 404)
    assert _device(phone.serial).state == DeviceState.PENDING_APPROVAL.value


def test_wait_polls_until_the_manager_approves(provisioning, phone_simulator, web):
    phone = phone_simulator(1)[0]
    args = [PHONEGATE, "provision", "--tcp", phone.endpoint, "--staff", web.staff.email, "--wait", "90"]
    process = subprocess.Popen(args, env=provisioning.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        while (line := process.stdout.readline()):
            seen += line
            if match := URL.search(line):
                assert provisioning.approve(int(match.group(2))).status_code == 302
                break
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, seen + out + err
    assert "waiting for the manager's decision" in seen
    assert "provisioned" in out


def test_phone_approved_for_someone_else_is_refused_and_unchanged(provisioning, phone_simulator, web, factory, adb_client):
    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    first_id = int(URL.search(first.stdout + first.stderr).group(2))
    provisioning.approve(first_id)
    colleague = factory.staff(team=web.team)
    other = provisioning.provision([phone.endpoint], staff=colleague)
    assert other.returncode == 3, other.stdout + other.stderr
    assert f"approved for {web.staff.name}" in other.stderr
    assert "--reassign --reason" in other.stderr
    device = _device(phone.serial)
    assert device.state == DeviceState.APPROVED.value
    assert device.staff_member_id == web.staff.id


def test_explicit_reassignment_goes_through_the_manager(provisioning, phone_simulator, web, factory, adb_client):
    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    first_id = int(URL.search(first.stdout + first.stderr).group(2))
    provisioning.approve(first_id)
    colleague = factory.staff(team=web.team)
    moved = provisioning.provision([phone.endpoint], "--reassign", "--reason", "Sam left the team", staff=colleague)
    assert moved.returncode == 3, moved.stdout + moved.stderr
    new_id = int(URL.search(moved.stdout + moved.stderr).group(2))
    assert new_id != first_id
    assert _device(phone.serial).state == DeviceState.PENDING_APPROVAL.value
    assert "package:com.whatsapp" not in _packages(adb_client, phone.endpoint)
    approved = provisioning.approve(new_id)
    assert approved.status_code == 302
    assert _device(phone.serial).staff_member_id == colleague.id


def test_rejection_stops_until_asked_again(provisioning, phone_simulator, live_server, web):
    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    request_id = int(URL.search(first.stdout + first.stderr).group(2))
    client = live_server.app.test_client()
    web.login(client, web.manager)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/requests/{request_id}").get_data(as_text=True)).group(1)
    rejected = client.post(f"/requests/{request_id}/decision",
                           data={"csrf_token": token, "decision": "reject", "reason": "Training record not found"})
    assert rejected.status_code == 302
    again = provisioning.provision([phone.endpoint])
    assert again.returncode == 3
    assert "rejected this enrolment (Training record not found)" in again.stderr
    assert URL.search(again.stderr).group(2) == str(request_id)  # no new request was opened
    asked = provisioning.provision([phone.endpoint], "--ask-again")
    assert asked.returncode == 3
    assert "Not approved yet" in asked.stderr
    assert int(URL.search(asked.stderr).group(2)) != request_id


def test_newer_catalogue_version_upgrades_a_provisioned_phone(provisioning, phone_simulator, test_apks, adb_client):
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.catalogue import add_app

    phone = phone_simulator(1)[0]
    first = provisioning.provision([phone.endpoint])
    provisioning.approve(int(URL.search(first.stdout + first.stderr).group(2)))
    assert provisioning.provision([phone.endpoint]).returncode == 0
    newer, _ = add_app(db.session, test_apks.whatsapp_newer, "individual", Actor.system())
    db.session.commit()
    upgraded = provisioning.provision([phone.endpoint])
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert f"Installed com.whatsapp version {newer.version_code}" in upgraded.stdout
    assert "package:com.whatsapp" in _packages(adb_client, phone.endpoint)  # (also connects adb)
    dump = adb_client.run("-s", phone.endpoint, "shell", "dumpsys package com.whatsapp").stdout.decode()
    assert f"versionCode={newer.version_code}" in dump
    assert _device(phone.serial).state == DeviceState.PROVISIONED.value


def test_a_rooted_phone_is_shown_refused_and_approvable_once_fixed(provisioning, phone_simulator, live_server, web):
    phone = phone_simulator(1, profiles=["rooted-oneplus"])[0]
    first = provisioning.provision([phone.endpoint])
    assert first.returncode == 3, first.stdout + first.stderr
    assert "cannot be approved until IT fixes: not_rooted" in first.stdout + first.stderr
    request_id = int(URL.search(first.stderr).group(2))
    client = live_server.app.test_client()
    web.login(client, web.manager)
    assert "What IT must fix" in client.get(f"/requests/{request_id}").get_data(as_text=True)
    assert provisioning.approve(request_id).status_code == 403
    assert _device(phone.serial).state == DeviceState.PENDING_APPROVAL.value

    phone.simulator.reflash_phone(phone.serial, "google-pixel-9")  # IT re-images the phone
    again = provisioning.provision([phone.endpoint])
    assert "pre-check: all" in again.stdout + again.stderr, again.stdout + again.stderr
    assert provisioning.approve(request_id).status_code == 302
    done = provisioning.provision([phone.endpoint])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first compliance check: all" in done.stdout + done.stderr
