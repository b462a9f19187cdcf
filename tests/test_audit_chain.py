"""The audit log's hash chain: appends from concurrent writers stay one chain; an edited or deleted row is found
by `phonegate audit verify` (exit 1, naming the entry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from server.extensions import db
from server.models import GENESIS_HASH, AuditEntry
from server.services import audit, org
from server.services.actor import Actor


def _entries() -> list[AuditEntry]:
    return list(db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)))


def test_entries_link_to_their_predecessor(app, factory):
    it = factory.user("it")
    factory.device()
    entries = _entries()
    assert [e.action for e in entries] == ["user.added", "device.registered"]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[0].target_type == "user"
    assert entries[0].target_id == str(it.id)
    assert audit.verify_chain(db.session) == (True, None, f"Audit log intact: 2 entries, head {entries[1].entry_hash}.")


def test_details_hold_ids_not_personal_data(app, factory):
    factory.user("it", email="someone@example.test")
    entry = _entries()[0]
    assert "someone" not in entry.details
    assert json.loads(entry.details) == {"role": "it"}
    with pytest.raises(ValueError, match="personal data"):
        audit.record(db.session, Actor.system(), "x", details={"email": "a@b.example"})
    with pytest.raises(ValueError, match="email address"):
        audit.record(db.session, Actor.system(), "x", details={"note": "sent to a@b.example"})
    db.session.rollback()


def test_a_change_and_its_audit_entry_roll_back_together(app, factory):
    from server.models import Service

    org.add_service(db.session, "Adults", Actor.system())
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Service.id))) == 0
    assert _entries() == []


def test_concurrent_writers_make_one_unbroken_chain(app):
    """Eight threads, each with its own session and transaction, append at the same time."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            with app.app_context():
                start.wait(timeout=10)
                for i in range(4):
                    if i % 2:
                        org.add_service(db.session, f"Service {n}-{i}", Actor.system())  # a write, then the append
                    else:
                        audit.record(db.session, Actor.system(), "test.ping", details={"n": n, "i": i})  # append only
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    ok, bad, message = audit.verify_chain(db.session)
    assert ok, message
    assert len(_entries()) == 32


def _tamper(sql: str, **params) -> None:
    # Straight SQL, as someone with database access would do it.
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)
    db.session.expire_all()


def _three_entries(factory) -> list[AuditEntry]:
    service = factory.service()
    factory.team(service=service)
    factory.device()
    return _entries()


def test_verify_passes_on_an_intact_log(app, factory, runner):
    _three_entries(factory)
    result = runner.invoke(["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 3 entries" in result.stdout


def test_verify_names_an_edited_entry(app, factory, runner):
    entries = _three_entries(factory)
    _tamper("UPDATE audit_entries SET action = 'nothing.happened' WHERE id = :id", id=entries[1].id)
    result = runner.invoke(["audit", "verify"])
    assert result.exit_code == 1
    assert f"Audit entry {entries[1].id} is broken" in result.stderr
    assert "changed" in result.stderr


def test_verify_names_an_entry_whose_details_were_edited(app, factory, runner):
    entries = _three_entries(factory)
    _tamper("UPDATE audit_entries SET details = '{}' WHERE id = :id", id=entries[1].id)
    result = runner.invoke(["audit", "verify"])
    assert result.exit_code == 1
    assert f"Audit entry {entries[1].id} is broken" in result.stderr


def test_verify_notices_a_recomputed_hash_because_the_next_link_breaks(app, factory, runner):
    entries = _three_entries(factory)
    forged = entries[1]
    forged.action = "nothing.happened"
    new_hash = audit.entry_hash(forged)
    db.session.rollback()
    _tamper("UPDATE audit_entries SET action = 'nothing.happened', entry_hash = :h WHERE id = :id",
            h=new_hash, id=entries[1].id)
    result = runner.invoke(["audit", "verify"])
    assert result.exit_code == 1
    assert f"Audit entry {entries[2].id} is broken" in result.stderr


def test_verify_names_the_entry_after_a_deleted_one(app, factory, runner):
    entries = _three_entries(factory)
    _tamper("DELETE FROM audit_entries WHERE id = :id", id=entries[1].id)
    result = runner.invoke(["audit", "verify"])
    assert result.exit_code == 1
    assert f"Audit entry {entries[2].id} is broken" in result.stderr
    assert "deleted" in result.stderr


def test_verify_notices_a_deleted_first_entry(app, factory, runner):
    entries = _three_entries(factory)
    _tamper("DELETE FROM audit_entries WHERE id = :id", id=entries[0].id)
    result = runner.invoke(["audit", "verify"])
    assert result.exit_code == 1
    assert f"Audit entry {entries[1].id} is broken" in result.stderr


def test_the_installed_console_script_reports_tampering(app, factory):
    entries = _three_entries(factory)
    settings = app.config["PHONEGATE"]
    env = {**os.environ, "PHONEGATE_DATABASE_URL": settings.database_url,
           "PHONEGATE_INSTANCE": str(settings.instance_path)}
    script = str(Path(sys.executable).with_name("phonegate"))
    intact = subprocess.run([script, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert intact.returncode == 0, intact.stderr
    _tamper("UPDATE audit_entries SET target_id = '999' WHERE id = :id", id=entries[0].id)
    broken = subprocess.run([script, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert broken.stderr.strip() == (f"Error: Audit entry {entries[0].id} is broken: its contents were changed after "
                                     "it was written.")
    assert "Traceback" not in broken.stderr


def test_a_kept_head_hash_catches_entries_cut_from_the_end(app, factory, runner):
    entries = _three_entries(factory)
    kept = runner.invoke(["audit", "verify"]).stdout.split("head ")[1].rstrip(".\n")
    assert kept == entries[-1].entry_hash
    factory.service()  # the log goes on growing: the kept head is still inside it
    assert runner.invoke(["audit", "verify", "--expect-head", kept]).exit_code == 0
    _tamper("DELETE FROM audit_entries WHERE id >= :id", id=entries[-1].id)
    assert runner.invoke(["audit", "verify"]).exit_code == 0  # the chain alone cannot see a cut end
    result = runner.invoke(["audit", "verify", "--expect-head", kept])
    assert result.exit_code == 1
    assert "entries at its end were deleted" in result.stderr
    assert runner.invoke(["audit", "verify", "--expect-head", "xyz"]).exit_code == 2
