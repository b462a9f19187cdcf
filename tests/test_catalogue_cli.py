"""`phonegate app add` and `phonegate policy publish` through the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from fixtures_enrolment import pins_for
from server.extensions import db
from server.models import AuditEntry, CatalogueApp, PolicyVersion

PHONEGATE = str(Path(sys.executable).with_name("phonegate"))
# The console script in a subprocess, on SQLite only (the services below it are tested on both databases).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli(app, test_apks):
    settings = app.config["PHONEGATE"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PHONEGATE_DATABASE_URL": settings.database_url,
           "PHONEGATE_INSTANCE": str(settings.instance_path), "PHONEGATE_SIGNER_PINS": pins_for(test_apks.key_a.sha256)}

    def run(*args, **extra_env):
        result = subprocess.run([PHONEGATE, *args], env={**env, **extra_env}, capture_output=True, text=True, timeout=120,
                                check=False)
        db.session.expire_all()
        return result

    return run


def test_app_add_verifies_and_stores(cli, test_apks, app):
    result = cli("app", "add", str(test_apks.whatsapp), "--role", "individual")
    assert result.returncode == 0, result.stderr
    entry = db.session.scalars(select(CatalogueApp)).one()
    assert entry.signer_sha256 in result.stdout
    assert entry.sha256 in result.stdout
    assert (Path(app.config["PHONEGATE"].instance_path) / "catalogue" / f"{entry.sha256}.apk").is_file()


def test_app_add_wrong_signer_exits_3_and_is_audited(cli, test_apks):
    result = cli("app", "add", str(test_apks.wrong_signer), "--role", "individual")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not pinned" in result.stderr
    assert "Traceback" not in result.stderr
    assert db.session.scalars(select(CatalogueApp)).all() == []
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.add_refused")).one()


def test_app_add_with_default_pins_refuses_a_self_signed_whatsapp(cli, test_apks):
    result = cli("app", "add", str(test_apks.whatsapp), "--role", "individual", PHONEGATE_SIGNER_PINS="")
    assert result.returncode == 3
    assert "not pinned" in result.stderr


@pytest.mark.parametrize("args", [
    ["app", "add", "/nonexistent/WhatsApp.apk", "--role", "individual"],
    ["app", "add", "APK", "--role", "manager"],
    ["app", "add", "NOT_APK", "--role", "individual"],
])
def test_app_add_bad_input_exits_2(cli, test_apks, args):
    args = [str(test_apks.whatsapp) if a == "APK" else str(test_apks.not_apk) if a == "NOT_APK" else a for a in args]
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_app_add_package_not_allowed_for_role_exits_3(cli, test_apks):
    result = cli("app", "add", str(test_apks.w4b), "--role", "individual")
    assert result.returncode == 3
    assert "not an approved app for individual" in result.stderr


def test_policy_publish(cli, tmp_path):
    text = tmp_path / "policy.txt"
    text.write_text("Use WhatsApp only for work.\n", encoding="utf-8")
    first = cli("policy", "publish", str(text), "--version", "2026-11")
    assert first.returncode == 0, first.stderr
    version = db.session.scalars(select(PolicyVersion)).one()
    assert version.label == "2026-11"
    assert version.sha256 in first.stdout
    assert cli("policy", "publish", str(text), "--version", "2026-12").returncode == 2  # same text again
    assert cli("policy", "publish", str(tmp_path / "missing.txt"), "--version", "x").returncode == 2
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert cli("policy", "publish", str(binary), "--version", "x").returncode == 2
    assert cli("policy", "publish", str(text)).returncode == 2  # --version is required
