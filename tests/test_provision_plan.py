"""`phonegate provision --plan FILE.csv`: several phones for several people through a real adb server (Debian's),
the real console script and server, simulated phones that trust only the adb server's key. Every bad row stops the
run before anything is registered; a good plan provisions its phones at once, each for its own holder."""

from __future__ import annotations

import os
import pty
import select
import subprocess

import pytest

from server.models import DeviceState, EnrolmentRequest
from server.services.errors import NotFound
from test_provision_e2e import PHONEGATE, URL, _device, provisioning  # noqa: F401 - shared fixtures

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the CLI's behaviour, not database rules
ADB = [pytest.mark.slow, pytest.mark.adb, SQLITE, pytest.mark.parametrize("adb_server_binary", ["debian-29.0.6"], indirect=True)]
# The whole plan, also through Google's current adb server (34.0.1, what IT runs): the refusals above are ours,
# the same whichever server lists the phones.
BOTH_ADB_SERVERS = [pytest.mark.slow, pytest.mark.adb, SQLITE,
                    pytest.mark.parametrize("adb_server_binary", ["debian-29.0.6", "google-34.0.1"], indirect=True)]


def _plan(tmp_path, text: str | bytes, name: str = "bench.csv"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _run(env, *args: str, timeout: float = 240):  # type: ignore[no-untyped-def]
    from server.extensions import db

    result = subprocess.run([PHONEGATE, "provision", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    db.session.expire_all()
    return result


def _env(provisioning, adb_server):  # type: ignore[no-untyped-def]
    return dict(provisioning.env, **adb_server.env)


def _requests() -> int:
    from sqlalchemy import func, select

    from server.extensions import db

    return db.session.scalar(select(func.count(EnrolmentRequest.id)))


# -- the file's shape: refused before the server or a phone is asked ------------------------------------------

@pytest.mark.parametrize(("content", "message"), [
    (b"serial,staff\nABC,\xff\xfe@example.test\n", "not UTF-8 text (line 2)"),
    (b"serial,staff\nABC,a@example.test\x00\n", "NUL bytes"),
    (b"serial,staff\n" + b"ABC,a@example.test\n" * 20000, "larger than 256 KiB"),
    (b"ABC,a@example.test\n", "header must be `serial,staff`"),
    (b"serial,staff,team\nABC,a@example.test,x\n", "header must be"),
    (b"serial,staff\nABC,a@example.test,extra\n", "line 2: a row has two columns"),
    (b"serial,staff\nABC,a@example.test\nABC,b@example.test\n", "line 3: serial ABC is already on line 2"),
    (b"serial,staff\nABC,\n", "line 2: both the serial and the staff column"),
    (b"serial,staff\n", "header but no phones"),
    (b"", "is empty"),
    (b"serial,staff\n\"AB C\",a@example.test\n", "line 2"),
    (b"serial,broadcast\nA1,Rights\nA2,rights\n", "line 3: 'rights' already has its Broadcast phone on line 2"),
    (b"serial,staff\n\"ABC,a@example.test\n", "not valid CSV"),
])
def test_a_bad_plan_file_exits_2_and_says_why(tmp_path, content, message):  # type: ignore[no-untyped-def]
    plan = _plan(tmp_path, content)
    result = subprocess.run([PHONEGATE, "provision", "--plan", str(plan)], env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_a_plan_with_excel_byte_order_mark_is_read(tmp_path):  # type: ignore[no-untyped-def]
    from provisioning.plan import read_plan

    plan = read_plan(_plan(tmp_path, "\ufeffSerial,Staff\r\nABC,a@example.test\r\n\r\nDEF,b@example.test\r\n"))
    assert [(row.line, row.serial, row.staff_email) for row in plan.rows] == [(2, "ABC", "a@example.test"), (4, "DEF", "b@example.test")]


def test_plan_leaves_no_room_for_other_phone_options(tmp_path):  # type: ignore[no-untyped-def]
    plan = _plan(tmp_path, "serial,staff\nABC,a@example.test\n")
    result = subprocess.run([PHONEGATE, "provision", "--plan", str(plan), "--staff", "a@example.test"],
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "leave out --tcp, --serial, --usb, --staff" in result.stderr


# -- the read-only check of holders -------------------------------------------------------------------------

@SQLITE
def test_the_holder_check_answers_who_is_unknown_and_changes_nothing(live_server, web, factory):  # type: ignore[no-untyped-def]
    from device_agent.client import PhoneGateClient

    token, _ = factory.token(user=web.it, scope="provision")
    before = _requests()
    with PhoneGateClient(live_server.url, token) as client:
        answer = client.unknown_targets([web.staff.email.upper(), "nobody@example.test"], [web.service.name, "No Such Service"])
    assert answer == {"unknown_staff_emails": ["nobody@example.test"], "inactive_staff_emails": [],
                      "unknown_broadcast_services": ["No Such Service"]}
    assert _requests() == before


@SQLITE
def test_the_holder_check_names_staff_members_who_are_no_longer_active(live_server, web, factory):  # type: ignore[no-untyped-def]
    from device_agent.client import PhoneGateClient
    from server.extensions import db

    leaver = factory.staff(team=web.team)
    leaver.active = False
    db.session.commit()
    token, _ = factory.token(user=web.it, scope="provision")
    with PhoneGateClient(live_server.url, token) as client:
        answer = client.unknown_targets([web.staff.email, leaver.email], [])
    assert answer["inactive_staff_emails"] == [leaver.email]


@SQLITE
def test_the_holder_check_needs_the_provision_scope(live_server, web, factory):  # type: ignore[no-untyped-def]
    from device_agent.client import PhoneGateClient
    from phonegate.core.errors import PolicyRefusal

    token, _ = factory.token(user=web.it, scope="agent")
    with PhoneGateClient(live_server.url, token) as client, pytest.raises(PolicyRefusal):
        client.unknown_targets([web.staff.email], [])


# -- through the adb server ---------------------------------------------------------------------------------

def _apply(marks):  # type: ignore[no-untyped-def]
    def wrap(function):  # type: ignore[no-untyped-def]
        for mark in reversed(marks):
            function = mark(function)
        return function
    return wrap


@_apply(ADB)
def test_an_unknown_email_stops_the_plan_naming_the_row(provisioning, adb_server, attached_phones, web, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    first, second = attached_phones(2)
    plan = _plan(tmp_path, f"serial,staff\n{first.adb_serial},{web.staff.email}\n{second.adb_serial},typo@example.test\n")
    result = _run(_env(provisioning, adb_server), "--plan", str(plan))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"line 3 ({second.adb_serial}): the server has no staff member with the e-mail typo@example.test" in result.stderr
    with pytest.raises(NotFound):
        _device(first.serial)  # the good row was not registered either


@_apply(ADB)
def test_a_serial_the_adb_server_lacks_stops_the_plan_naming_the_row(provisioning, adb_server, attached_phones, web, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    (attached,) = attached_phones(1)
    plan = _plan(tmp_path, f"serial,staff\n{attached.serial},{web.staff.email}\nNOT-PLUGGED-IN,{web.staff.email}\n")
    result = _run(_env(provisioning, adb_server), "--plan", str(plan))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 3 (NOT-PLUGGED-IN): No phone with serial NOT-PLUGGED-IN" in result.stderr
    with pytest.raises(NotFound):
        _device(attached.serial)


@_apply(ADB)
def test_the_same_phone_twice_by_two_serials_is_refused(provisioning, adb_server, attached_phones, web, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    (attached,) = attached_phones(1)
    plan = _plan(tmp_path, f"serial,staff\n{attached.adb_serial},{web.staff.email}\n{attached.serial},{web.staff.email}\n")
    result = _run(_env(provisioning, adb_server), "--plan", str(plan))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 3" in result.stderr
    with pytest.raises(NotFound):
        _device(attached.serial)


@_apply(ADB)
def test_one_staff_for_several_phones_is_refused(provisioning, adb_server, attached_phones, web):  # type: ignore[no-untyped-def]  # noqa: F811
    first, second = attached_phones(2)
    env = _env(provisioning, adb_server)
    by_usb = _run(env, "--usb", "--staff", web.staff.email)
    by_serial = _run(env, "--serial", first.adb_serial, "--serial", second.adb_serial, "--staff", web.staff.email)
    assert by_usb.returncode == 2, by_usb.stdout + by_usb.stderr
    assert "--plan FILE.csv" in by_usb.stderr
    assert by_serial.returncode == 2, by_serial.stdout + by_serial.stderr
    with pytest.raises(NotFound):
        _device(first.serial)


@_apply(BOTH_ADB_SERVERS)
def test_a_plan_provisions_each_phone_for_its_own_holder(provisioning, adb_server, attached_phones, web, factory, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    other = factory.staff(team=web.team)
    first, second = attached_phones(2)
    (stranger,) = attached_phones(1, authorised=False)
    plan = _plan(tmp_path, f"serial,staff\n{first.serial},{web.staff.email}\n{second.adb_serial},{other.email}\n"
                           f"{stranger.adb_serial},{other.email}\n")
    env = _env(provisioning, adb_server)
    asked = _run(env, "--plan", str(plan))
    output = asked.stdout + asked.stderr
    assert asked.returncode == 4, output  # the unauthorised phone is the worst; the others wait for their manager
    assert any(stranger.adb_serial in line and "Allow" in line for line in output.splitlines())
    assert _holder_of(first.serial) == web.staff.id
    assert _holder_of(second.serial) == other.id
    summary = asked.stdout.split("Waiting for a manager (2):", 1)[1]
    assert len(set(URL.findall(summary))) == 2

    for _url, request_id in set(URL.findall(summary)):
        provisioning.approve(int(request_id))
    done = _run(env, "--plan", str(plan))
    assert done.returncode == 4, done.stdout + done.stderr
    assert _device(first.serial).state == DeviceState.PROVISIONED.value
    assert _device(second.serial).state == DeviceState.PROVISIONED.value


def _holder_of(serial: str) -> int | None:
    from server.extensions import db
    from server.services import enrolment

    return enrolment.open_request_for(db.session, _device(serial)).staff_member_id


def _run_in_terminal(env, args, columns: int) -> str:  # type: ignore[no-untyped-def]
    """Run the console script on a pseudo-terminal `columns` wide; what the terminal received."""
    controller, terminal = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen([PHONEGATE, "provision", *args], env=dict(env, COLUMNS=str(columns), TERM="xterm"),
                               stdin=terminal, stdout=terminal, stderr=terminal, close_fds=True)
    os.close(terminal)
    received = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 240)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the other end closed: the process is done
            break
        if not chunk:
            break
        received += chunk
    process.wait(30)
    os.close(controller)
    return received.decode(errors="replace")


@_apply(ADB)
def test_on_a_narrow_terminal_no_serial_or_address_is_cut(provisioning, adb_server, attached_phones, web, factory, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    other = factory.staff(team=web.team)
    first, second = attached_phones(2)
    plan = _plan(tmp_path, f"serial,staff\n{first.adb_serial},{web.staff.email}\n{second.adb_serial},{other.email}\n")
    shown = _run_in_terminal(_env(provisioning, adb_server), ["--plan", str(plan)], columns=40)
    lines = shown.replace("\r", "").splitlines()
    assert any(first.adb_serial in line for line in lines), shown
    assert any(second.adb_serial in line for line in lines), shown
    addresses = [line.strip() for line in lines[lines.index("Waiting for a manager (2):") + 1:] if "://" in line]
    assert len({URL.fullmatch(address).group(2) for address in addresses}) == 2, shown
