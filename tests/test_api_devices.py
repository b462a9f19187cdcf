"""/api/v1/devices: registration (idempotent, also under concurrency), reads, filters, auth, input errors."""

from __future__ import annotations

import threading

import pytest
import requests

from server.extensions import db
from server.models import ApiToken, AuditEntry, Device

FACTS = {"serial": "R58N91XYZ", "manufacturer": "samsung", "model": "SM-S921B", "android_release": "14", "sdk": 34,
         "security_patch": "2026-10-01", "build_fingerprint": "samsung/e1sxeea/e1s:14/UP1A/S921BXXU1:user/release-keys"}


def _auth(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def provision(factory) -> dict[str, str]:
    plaintext, _ = factory.token(factory.user("it"), "provision")
    return _auth(plaintext)


def _count(model) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_register_then_register_again_gives_the_same_device(client, provision):
    first = client.post("/api/v1/devices", json=FACTS, headers=provision)
    assert first.status_code == 201
    body = first.get_json()
    assert body["serial"] == FACTS["serial"]
    assert body["state"] == "registered"
    assert body["sdk"] == 34
    assert body["security_patch"] == "2026-10-01"
    assert body["created_at"].endswith("+00:00")
    again = client.post("/api/v1/devices", json={**FACTS, "security_patch": "2026-11-01"}, headers=provision)
    assert again.status_code == 200
    assert again.get_json()["id"] == body["id"]
    assert again.get_json()["security_patch"] == "2026-11-01"
    assert _count(Device) == 1
    actions = list(db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["device.registered", "device.facts_updated"]


def test_the_audit_entry_names_the_token_and_its_user(client, factory):
    user = factory.user("it")
    plaintext, token = factory.token(user, "provision")
    client.post("/api/v1/devices", json={"serial": "S1"}, headers=_auth(plaintext))
    entry = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.actor, entry.actor_user_id) == ("device.registered", f"token:{token.id}", user.id)


def test_read_by_serial(client, provision, factory):
    factory.device(serial="ABC-1", model="Pixel 8")
    response = client.get("/api/v1/devices/ABC-1", headers=provision)
    assert response.status_code == 200
    assert response.get_json()["model"] == "Pixel 8"
    missing = client.get("/api/v1/devices/NOPE", headers=provision)
    assert missing.status_code == 404
    assert missing.get_json()["message"] == "No device has that serial number."


def test_list_filters_and_pages(client, provision, factory):
    team, other_team = factory.team(), factory.team()
    factory.device(serial="A1", team_id=team.id, service_id=team.service_id, site="Town Hall", model="Pixel 8")
    factory.device(serial="A2", team_id=team.id, service_id=team.service_id, state="approved")
    factory.device(serial="B1", service_id=other_team.service_id, role="broadcast", site="Depot")
    factory.device(serial="B2_x", model="Galaxy A55")

    def serials(query: str) -> list[str]:
        response = client.get(f"/api/v1/devices{query}", headers=provision)
        assert response.status_code == 200, response.get_json()
        return [item["serial"] for item in response.get_json()]

    assert serials("") == ["A1", "A2", "B1", "B2_x"]
    assert serials("?state=approved") == ["A2"]
    assert serials("?role=broadcast") == ["B1"]
    assert serials(f"?team={team.id}") == ["A1", "A2"]
    assert serials(f"?team={other_team.id}") == []
    assert serials(f"?service={other_team.service_id}") == ["B1"]
    assert serials("?site=Depot") == ["B1"]
    assert serials("?q=galaxy") == ["B2_x"]
    assert serials("?q=_") == ["B2_x"]  # LIKE wildcards in the search text are taken literally
    paged = client.get("/api/v1/devices?page=2&page_size=3", headers=provision)
    assert [d["serial"] for d in paged.get_json()] == ["B2_x"]
    assert '"total": 4' in paged.headers["X-Pagination"]


@pytest.mark.parametrize("query, field", [("?state=lost", "state"), ("?team=abc", "team"), ("?page_size=100000", "page_size")])
def test_bad_filters_are_400_with_the_field_named(client, provision, query, field):
    response = client.get(f"/api/v1/devices{query}", headers=provision)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"model": "x"}, "serial", "Missing data for required field."),
        ({"serial": "   "}, "serial", "Must not be empty."),
        ({"serial": "S", "sdk": "34"}, "sdk", "Not a valid integer."),
        ({"serial": "S", "security_patch": "last tuesday"}, "security_patch", "Not a valid date."),
        ({"serial": "S", "colour": "blue"}, "colour", "Unknown field."),
        ({"serial": "S" * 129}, "serial", "Longer than maximum length 128."),
    ],
)
def test_bad_registration_is_400_with_field_messages_and_changes_nothing(client, provision, body, field, message):
    audit_before = _count(AuditEntry)
    response = client.post("/api/v1/devices", json=body, headers=provision)
    assert response.status_code == 400
    payload = response.get_json()
    assert set(payload) >= {"code", "status", "message", "errors"}
    assert payload["code"] == 400
    assert payload["errors"][field] == [message]
    assert _count(Device) == 0
    assert _count(AuditEntry) == audit_before


def test_a_body_that_is_not_json_is_400(client, provision):
    response = client.post("/api/v1/devices", data="serial=S", headers={**provision, "Content-Type": "text/plain"})
    assert response.status_code in (400, 415)
    assert response.is_json
    assert _count(Device) == 0


def test_no_token_is_401(client):
    response = client.post("/api/v1/devices", json=FACTS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/devices").status_code == 401
    assert _count(Device) == 0


@pytest.mark.parametrize("header", ["Bearer pgt_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "pgt_x"])
def test_unknown_or_malformed_token_is_401(client, header):
    assert client.get("/api/v1/devices", headers={"Authorization": header}).status_code == 401


def test_revoked_token_changed_role_and_deactivated_user_are_401(client, factory):
    user = factory.user("it")
    plaintext, token = factory.token(user, "provision")
    assert client.get("/api/v1/devices", headers=_auth(plaintext)).status_code == 200
    from server.models import utcnow

    db.session.get(ApiToken, token.id).revoked_at = utcnow()
    db.session.commit()
    assert client.get("/api/v1/devices", headers=_auth(plaintext)).status_code == 401
    second, _ = factory.token(user, "provision")
    user.role = "auditor"  # moved to a role that may not provision: old tokens stop working
    db.session.commit()
    assert client.get("/api/v1/devices", headers=_auth(second)).status_code == 401
    user.role = "it"
    db.session.commit()
    assert client.get("/api/v1/devices", headers=_auth(second)).status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/api/v1/devices", headers=_auth(second)).status_code == 401


def test_a_token_of_the_wrong_scope_is_403_and_changes_nothing(client, factory):
    plaintext, _ = factory.token(factory.user("it"), "agent")
    response = client.post("/api/v1/devices", json=FACTS, headers=_auth(plaintext))
    assert response.status_code == 403
    assert "scope" in response.get_json()["message"]
    assert _count(Device) == 0
    assert client.get("/api/v1/devices", headers=_auth(plaintext)).status_code == 200  # agents may read


def test_only_the_hash_of_a_token_is_stored(factory):
    plaintext, token = factory.token(factory.user("it"), "provision")
    import hashlib

    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in (token.prefix * 2)
    assert len(plaintext) > 40


@pytest.mark.slow
def test_concurrent_registration_of_one_serial_makes_one_device(live_server, factory):
    """Two HTTP clients in two threads register the same phone at the same moment, repeatedly."""
    plaintext, _ = factory.token(factory.user("it"), "provision")
    rounds = 6
    statuses: list[list[int]] = [[] for _ in range(rounds)]
    ids: list[set[int]] = [set() for _ in range(rounds)]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def register() -> None:
        try:
            with requests.Session() as http:
                for n in range(rounds):
                    barrier.wait(timeout=20)
                    response = http.post(f"{live_server.url}/api/v1/devices", json={"serial": f"RACE{n}"},
                                         headers=_auth(plaintext), timeout=30)
                    statuses[n].append(response.status_code)
                    ids[n].add(response.json()["id"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=register) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    for n in range(rounds):
        assert sorted(statuses[n]) == [200, 201], statuses[n]
        assert len(ids[n]) == 1
    db.session.expire_all()
    assert _count(Device) == rounds
    registered = db.session.scalar(db.select(db.func.count(AuditEntry.id)).where(AuditEntry.action == "device.registered"))
    assert registered == rounds
