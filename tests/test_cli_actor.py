"""A person behind every server command: the operating-system account and host, and with --as the PhoneGate
user, checked before anything is changed; the audit pages say it in words."""

from __future__ import annotations

import getpass
import socket

import pytest
from fixtures_enrolment import pins_for

from server.extensions import db
from server.models import AuditEntry, Service

ACCOUNT = f"{getpass.getuser()}@{socket.gethostname()[:27]}"


def _count(model) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def _last_entry() -> AuditEntry:
    return db.session.scalar(db.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))


def test_a_command_without_as_records_the_operating_system_account_and_host(runner):
    result = runner.invoke(["service", "add", "Adults"])
    assert result.exit_code == 0, result.output
    assert _last_entry().actor == f"cli:{ACCOUNT}"


def test_a_command_without_as_names_no_phonegate_user(runner):
    runner.invoke(["service", "add", "Adults"])
    assert _last_entry().actor_user_id is None


def test_as_records_the_user_and_still_the_account(runner, factory):
    admin = factory.user("admin", email="admin@example.test")
    result = runner.invoke(["service", "add", "Adults", "--as", "Admin@Example.test"])
    assert result.exit_code == 0, result.output
    entry = _last_entry()
    assert entry.actor_user_id == admin.id
    assert entry.actor == f"cli:{ACCOUNT}"


@pytest.mark.parametrize("args", [
    ["service", "add", "Adults"],
    ["team", "add", "Youth Voice", "--service", "Children's Services"],
    ["user", "add", "new@example.test", "--role", "auditor"],
    ["staff", "add", "sam@example.test", "--name", "Sam Jones", "--team", "Participation Team"],
    ["token", "create", "--user", "it@example.test", "--scope", "provision"],
    ["token", "revoke", "{token_id}"],
    ["policy", "publish", "{policy}", "--version", "2026-12"],
    ["app", "add", "{apk}", "--role", "individual"],
])
def test_every_state_changing_command_takes_as(runner, factory, test_apks, tmp_path, args):
    factory.team("Participation Team", service=factory.service("Children's Services"))
    admin = factory.user("admin", email="admin@example.test")
    _, token = factory.token(user=factory.user("it", email="it@example.test"))
    policy = tmp_path / "policy.txt"
    policy.write_text("Use WhatsApp for work only.\n", encoding="utf-8")
    before = db.session.scalar(db.select(db.func.max(AuditEntry.id)))
    filled = [arg.format(token_id=token.id, policy=policy, apk=test_apks.whatsapp) for arg in args]
    result = runner.invoke([*filled, "--as", "admin@example.test"],
                           env={"PHONEGATE_SIGNER_PINS": pins_for(test_apks.key_a.sha256)})
    assert result.exit_code == 0, result.output
    actors = set(db.session.scalars(db.select(AuditEntry.actor_user_id).where(AuditEntry.id > before)))
    assert actors == {admin.id}


def test_as_acts_with_that_users_role(runner, factory, tmp_path):
    # --as is not a label only: the services apply the named user's role, as on the web.
    factory.user("manager", email="manager@example.test")
    policy = tmp_path / "policy.txt"
    policy.write_text("Use WhatsApp for work only.\n", encoding="utf-8")
    result = runner.invoke(["policy", "publish", str(policy), "--version", "2026-12", "--as", "manager@example.test"])
    assert result.exit_code == 3, result.output


@pytest.mark.parametrize("as_email, words", [
    ("nobody@example.test", "no PhoneGate user has that e-mail"),
    ("gone@example.test", "deactivated"),
    ("  ", "--as needs"),
])
def test_as_naming_no_active_user_exits_2_and_writes_nothing(runner, factory, as_email, words):
    from server.services import accounts
    from server.services.actor import Actor

    admin = factory.user("admin", email="admin@example.test")
    gone = factory.user("it", email="gone@example.test")
    accounts.deactivate(db.session, gone, Actor.for_user(admin))
    db.session.commit()
    entries = _count(AuditEntry)
    result = runner.invoke(["service", "add", "Adults", "--as", as_email])
    assert result.exit_code == 2, result.output
    assert words in result.stderr
    assert "nothing was changed" in result.stderr
    assert _count(AuditEntry) == entries
    assert _count(Service) == 0


def test_the_account_is_printable_and_fits_the_audit_entry(runner):
    # getpass reads LOGNAME first: whatever the machine says is untrusted (an escape, a name longer than the column).
    result = runner.invoke(["service", "add", "Adults"], env={"LOGNAME": "\x1b[31m" + "a" * 100})
    assert result.exit_code == 0, result.output
    actor = _last_entry().actor
    assert len(actor) <= 64
    assert "\x1b" not in actor


def test_the_audit_log_page_says_who_at_which_computer(runner, client, web):
    runner.invoke(["service", "add", "Adults"])
    runner.invoke(["service", "add", "Older People", "--as", web.admin.email])
    web.sign_in(client, web.auditor)
    html = client.get("/audit?action=service.").get_data(as_text=True)
    host = socket.gethostname()[:27]
    assert f"{getpass.getuser()} on {host}" in html
    assert f"{web.admin.email} (at the command line on {host})" in html
