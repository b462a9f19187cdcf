"""The spot-check API: an agent token reads the phone's open spot check and posts its snapshot; every field of the
snapshot is checked (bad input is 400 and changes nothing), another phone's snapshot is refused, a completed spot
check is closed, and a chat's name never reaches the database whatever the client sends."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, SpotCheck
from server.services.actor import Actor
from server.services.spot_checks import completion, starting

SNAPSHOT = {
    "serial": "APISPOT1",
    "rules_version": None,
    "facts": {"collected_at": "2026-12-01T10:00:00+00:00", "manufacturer": "samsung", "model": "SM-S921B",
              "android_release": "14", "sdk": 34, "security_patch": "2026-10-01", "build_fingerprint": "x",
              "encrypted": True, "secure_lock": True,
              "root": {"su_paths": [], "test_keys": False, "debuggable": False, "verified_boot_state": "green",
                       "bootloader_locked": True},
              "account_types": ["com.google"], "packages": 120,
              "messaging_apps": [{"package": "com.whatsapp", "version_name": "2.24", "version_code": 1}]},
    "compliance": [{"rule": "storage_encrypted", "outcome": "pass", "severity": "critical", "observed": "encrypted"}],
    "whatsapp": {"media": [{"folder": "WhatsApp/Media/WhatsApp Images", "files": 2, "oldest_age_days": 40,
                            "newest_age_days": 1, "older_than_limit": 1}], "media_limit_days": 30,
                 "backups": [{"folder": "WhatsApp/Databases", "name": "msgstore.db.crypt14", "age_days": 1, "size_bytes": 10}],
                 "exports": [{"folder": "Download", "name": "WhatsApp Chat with Jordan Smith.txt", "age_days": 3,
                              "size_bytes": 9}],
                 "google_account_present": True},
    "problems": [],
}


@pytest.fixture
def open_check(web, factory, smtp_settings):
    staff = factory.staff(team=web.team)
    device = factory.device(serial="APISPOT1", state="provisioned", role="individual", team_id=web.team.id,
                            service_id=web.service.id, staff_member_id=staff.id)
    check = starting.start_spot_check(db.session, device, Actor.for_user(web.manager), smtp_settings)
    db.session.commit()
    return check


@pytest.fixture
def agent(factory, web):
    token, _ = factory.token(web.it, "agent")
    return {"Authorization": f"Bearer {token}"}


def test_the_open_spot_check_comes_with_the_rules_and_the_phone(client, open_check, agent):
    answer = client.get("/api/v1/spot-checks/open?serial=APISPOT1", headers=agent)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["spot_check_id"] == open_check.id
    assert "media_retention" in body["rules"]["document"]
    assert body["device"]["role"] == "individual"


def test_no_open_spot_check_and_unknown_phones_are_404(client, agent, factory):
    factory.device(serial="NOCHECK1")
    assert client.get("/api/v1/spot-checks/open?serial=NOCHECK1", headers=agent).status_code == 404
    assert client.get("/api/v1/spot-checks/open?serial=NOSUCH", headers=agent).status_code == 404
    assert client.get("/api/v1/spot-checks/open", headers=agent).status_code == 400


def test_a_provision_token_or_none_is_refused(client, open_check, factory, web):
    provision, _ = factory.token(web.it, "provision")
    assert client.get("/api/v1/spot-checks/open?serial=APISPOT1",
                      headers={"Authorization": f"Bearer {provision}"}).status_code == 403
    assert client.post(f"/api/v1/spot-checks/{open_check.id}/evidence", json=SNAPSHOT).status_code == 401


def test_the_snapshot_is_recorded_and_the_chats_name_withheld_by_the_server(client, open_check, agent):
    answer = client.post(f"/api/v1/spot-checks/{open_check.id}/evidence", json=SNAPSHOT, headers=agent)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["url"].endswith(f"/spot-checks/{open_check.id}")
    stored = db.session.get(SpotCheck, open_check.id)
    assert stored.status == "evidence_recorded"
    assert "Jordan" not in stored.evidence
    assert "WhatsApp Chat with [name withheld].txt" in stored.evidence


def _with(path: str, value):
    snapshot = copy.deepcopy(SNAPSHOT)
    *parents, last = path.split(".")
    target = snapshot
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return snapshot


@pytest.mark.parametrize("path, value", [
    ("extra", 1),
    ("facts.root.extra", True),
    ("serial", ""),
    ("facts", KeyError),
    ("facts.sdk", "34"),
    ("facts.collected_at", "2026-12-01T10:00:00"),  # no time zone
    ("compliance.0.outcome", "maybe"),
    ("compliance", [SNAPSHOT["compliance"][0]] * 101),
    ("whatsapp.exports", [SNAPSHOT["whatsapp"]["exports"][0]] * 201),
    ("whatsapp.backups.0.name", "x" * 256),
    ("whatsapp.media.0.files", -1),
    ("problems", ["x" * 301]),
])
def test_a_bad_snapshot_is_400_and_changes_nothing(client, open_check, agent, path, value):
    answer = client.post(f"/api/v1/spot-checks/{open_check.id}/evidence", json=_with(path, value), headers=agent)
    assert answer.status_code == 400, answer.get_json()
    assert db.session.get(SpotCheck, open_check.id).evidence is None


def test_another_phones_snapshot_is_refused_and_audited(client, open_check, agent):
    answer = client.post(f"/api/v1/spot-checks/{open_check.id}/evidence", json=_with("serial", "SOMEOTHER"), headers=agent)
    assert answer.status_code == 403
    assert db.session.get(SpotCheck, open_check.id).evidence is None
    refused = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "spot_check.evidence_refused"))
    assert refused.actor.startswith("token:")


def test_a_completed_spot_check_takes_no_more_evidence(client, open_check, agent, web):
    answers = {"no_sensitive_data": "yes", "case_record": "yes", "inactive_deleted": "yes", "media_retention": "yes",
               "service_users_told": "yes"}
    completion.complete_spot_check(db.session, open_check, Actor.for_user(web.manager), answers=answers,
                                   outcome="no_concerns", notes=None, drafts=[])
    db.session.commit()
    assert client.post(f"/api/v1/spot-checks/{open_check.id}/evidence", json=SNAPSHOT, headers=agent).status_code == 409
    assert client.post("/api/v1/spot-checks/99999/evidence", json=SNAPSHOT, headers=agent).status_code == 404


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/spot-checks/open" in paths
    assert "/api/v1/spot-checks/{spot_check_id}/evidence" in paths
