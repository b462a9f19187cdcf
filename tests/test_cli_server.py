"""The server's commands: each change is audited; bad input exits 2 with one sentence and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from phonegate.cli import COMMANDS
from server.extensions import db
from server.models import ApiToken, AuditEntry, Service, StaffMember, Team, User
from server.services import passwords
from ports import free_port


def _count(model) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def _last_actions(n: int) -> list[str]:
    return list(reversed(list(db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(n)))))


def _refused(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) >= 1
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_help_lists_every_subcommand(runner):
    result = runner.invoke(["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_organisation_and_people_from_the_command_line(runner):
    assert runner.invoke(["service", "add", "Children's Services"]).exit_code == 0
    assert runner.invoke(["team", "add", "Rights and Participation", "--service", "children's services"]).exit_code == 0
    result = runner.invoke(["user", "add", "Manager@Example.test", "--role", "manager", "--team",
                            "Rights and Participation", "--password-stdin"], input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    assert "Manager@Example.test".lower() not in result.stdout  # no personal data echoed back
    result = runner.invoke(["staff", "add", "sam@example.test", "--name", "Sam Jones", "--team",
                            "Rights and Participation", "--training-completed", "2026-09-30"])
    assert result.exit_code == 0, result.output

    user = db.session.scalar(db.select(User))
    assert user.email == "manager@example.test"
    assert user.role == "manager"
    assert user.team.name == "Rights and Participation"
    assert user.password_hash.startswith("$argon2id$")
    assert passwords.verify_password(user.password_hash, "a long enough secret")
    assert not user.must_change_password
    staff = db.session.scalar(db.select(StaffMember))
    assert staff.training_completed_on.isoformat() == "2026-09-30"
    assert _last_actions(4) == ["service.added", "team.added", "user.added", "staff.added"]
    for details in db.session.scalars(db.select(AuditEntry.details)):
        assert "@" not in details
        assert "Sam" not in details


def test_user_without_password_gets_a_one_time_password(runner):
    result = runner.invoke(["user", "add", "ig@example.test", "--role", "auditor"])
    assert result.exit_code == 0, result.output
    one_time = result.stdout.split("One-time password: ")[1].split()[0]
    user = db.session.scalar(db.select(User))
    assert user.must_change_password
    assert passwords.verify_password(user.password_hash, one_time)


@pytest.mark.parametrize(
    "args, stdin, words",
    [
        (["team", "add", "T", "--service", "Nope"], None, ["no service called"]),
        (["user", "add", "a@example.test", "--role", "manager", "--team", "Nope", "--password-stdin"], "long enough pw\n",
         ["no team called"]),
        (["user", "add", "a@example.test", "--role", "manager", "--password-stdin"], "long enough pw\n", ["needs a team"]),
        (["user", "add", "a@example.test", "--role", "boss", "--password-stdin"], "long enough pw\n", ["boss"]),
        (["user", "add", "a@example.test", "--role", "it", "--password-stdin"], "\n", ["empty"]),
        (["user", "add", "a@example.test", "--role", "it", "--password-stdin"], "", ["empty"]),
        (["user", "add", "a@example.test", "--role", "it", "--password-stdin"], "short\n", ["too short"]),
        (["user", "add", "not-an-email", "--role", "it", "--password-stdin"], "long enough pw\n", ["not an email"]),
        (["staff", "add", "s@example.test", "--name", "S", "--team", "Nope"], None, ["no team called"]),
        (["staff", "add", "s@example.test", "--name", "S", "--team", "Existing", "--training-completed", "30/09/2026"],
         None, ["YYYY-MM-DD"]),
        (["staff", "add", "s@example.test", "--name", " ", "--team", "Existing"], None, ["name is empty"]),
        (["token", "create", "--user", "ghost@example.test", "--scope", "provision"], None, ["no user"]),
        (["token", "create", "--user", "aud@example.test", "--scope", "provision"], None, ["auditor cannot hold"]),
        (["token", "create", "--user", "aud@example.test", "--scope", "admin"], None, ["admin"]),
        (["service", "add", "  "], None, ["empty"]),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(runner, factory, args, stdin, words):
    factory.team(name="Existing")
    factory.user("auditor", email="aud@example.test")
    counts = {model: _count(model) for model in (Service, Team, User, StaffMember, ApiToken, AuditEntry)}
    _refused(runner.invoke(args, input=stdin), *words)
    assert {model: _count(model) for model in counts} == counts


def test_duplicates_exit_2(runner, factory):
    team = factory.team(name="Existing")
    factory.user("it", email="dup@example.test")
    factory.staff(team=team, email="held@example.test")
    entries = _count(AuditEntry)
    _refused(runner.invoke(["user", "add", "DUP@example.test", "--role", "it", "--password-stdin"],
                           input="long enough pw\n"), "already exists")
    _refused(runner.invoke(["staff", "add", "held@example.test", "--name", "X", "--team", "Existing"]), "already exists")
    _refused(runner.invoke(["service", "add", team.service.name.upper()]), "already exists")
    _refused(runner.invoke(["team", "add", "existing", "--service", team.service.name]), "already exists")
    assert _count(AuditEntry) == entries


def test_token_create_prints_only_the_token_and_stores_its_hash(runner, factory, client):
    factory.user("it", email="tech@example.test")
    result = runner.invoke(["token", "create", "--user", "tech@example.test", "--scope", "provision"])
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip()
    assert "\n" not in plaintext
    assert plaintext.startswith("pgt_")
    assert "not be shown again" in result.stderr
    token = db.session.scalar(db.select(ApiToken))
    assert plaintext not in token.token_hash
    assert token.scope == "provision"
    assert _last_actions(1) == ["token.created"]
    assert client.get("/api/v1/devices", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 200
    assert runner.invoke(["token", "revoke", str(token.id)]).exit_code == 0
    assert client.get("/api/v1/devices", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401


def test_db_upgrade_on_an_empty_database_creates_the_first_admin_once(runner):
    first = runner.invoke(["db", "upgrade"])
    assert first.exit_code == 0, first.output
    line = next(line for line in first.stdout.splitlines() if line.startswith("First admin:"))
    assert line.startswith("First admin: admin@localhost / ")
    assert line.endswith("(change it after logging in)")
    password = line.split(" / ")[1].split(" (")[0]
    admin = db.session.scalar(db.select(User))
    assert admin.role == "admin"
    assert admin.must_change_password
    assert passwords.verify_password(admin.password_hash, password)
    second = runner.invoke(["db", "upgrade"])
    assert second.exit_code == 0
    assert "First admin" not in second.stdout
    assert _count(User) == 1




@pytest.mark.slow
def test_make_run_path_fresh_instance_migrates_and_serves(tmp_path):
    """What `make run` does on a fresh machine: db upgrade, then serve (waitress) with login page and OpenAPI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHONEGATE_")}
    env.update(PHONEGATE_INSTANCE=str(tmp_path / "instance"), PHONEGATE_DEMO_PHONES="0")
    script = str(Path(sys.executable).with_name("phonegate"))
    upgrade = subprocess.run([script, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "First admin: admin@localhost / " in upgrade.stdout
    assert (tmp_path / "instance" / "phonegate.sqlite3").exists()
    port = free_port()
    server = subprocess.Popen([script, "serve", "--port", str(port), "--no-scheduler"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                openapi = requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert openapi.status_code == 200
        assert "/api/v1/devices" in openapi.json()["paths"]
        assert openapi.headers["Server"] == "PhoneGate"  # waitress, not Flask's development server
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=10)
        assert login.status_code == 200
        assert "text/html" in login.headers["Content-Type"]
    finally:
        server.terminate()
        try:
            _, stderr = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    assert "First admin" not in stderr  # created by db upgrade already, not printed twice
    assert "Traceback" not in stderr
