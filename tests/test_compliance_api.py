"""Compliance API: rule versions, sweep plans, claims, idempotent result batches, finishing."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fixtures_compliance import RULES_FOR_TESTS, SweepApi, result, sighting
from sqlalchemy import func, select

from server.extensions import db
from server.models import ComplianceResult, Device, Sweep, SweepClaim


def now() -> datetime:
    """The next whole second: later than any registration time (registration counts as being seen)."""
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)


def test_plan_lists_phones_with_endpoints_and_their_approved_apps(app, factory, sweep_api, compliance_rules):
    team = factory.team()
    staff = factory.staff(team)
    provisioned = factory.device(serial="P1", state="provisioned", team_id=team.id, staff_member_id=staff.id,
                                 adb_endpoint="127.0.0.1:5555", site="Town Hall", model="Pixel 8")
    factory.device(serial="R1", state="registered", adb_endpoint="127.0.0.1:5556", site="Depot")
    factory.device(serial="NOEP", state="provisioned", team_id=team.id)  # no endpoint: cannot be swept
    factory.device(serial="RET", state="retired", adb_endpoint="127.0.0.1:5557")

    plan = sweep_api.start()
    assert plan["created"] is True
    assert plan["rules"]["version"] == compliance_rules.version
    assert "storage_encrypted" in plan["rules"]["document"]
    by_serial = {d["serial"]: d for d in plan["devices"]}
    assert set(by_serial) == {"P1", "R1"}
    assert by_serial["P1"] == {**by_serial["P1"], "endpoint": "127.0.0.1:5555", "site": "Town Hall", "role": "individual",
                               "state": "provisioned", "model": "Pixel 8", "device_id": provisioned.id}
    assert isinstance(by_serial["P1"]["approved_apps"], list)

    # A retried create returns the same sweep (200), and a site narrows the plan.
    again = sweep_api.start(plan["sweep_id"], site="Depot")
    assert again["created"] is False
    assert again["sweep_id"] == plan["sweep_id"]
    assert [d["serial"] for d in again["devices"]] == ["R1"]
    assert db.session.scalar(select(func.count()).select_from(Sweep)) == 1


@pytest.mark.parametrize("path", ["/compliance/policies/current", "/compliance/policies", "/compliance/policies/1"])
def test_the_old_policies_addresses_still_answer(app, sweep_api, compliance_rules, path):
    """The compliance YAML is the rules; the addresses from when it was called a policy keep working."""
    assert sweep_api.get(path) == sweep_api.get(path.replace("/policies", "/rules"))


def test_the_old_publish_address_still_publishes(app, factory, client, compliance_rules):
    token, _ = factory.token(factory.user("admin"), "agent")
    created = SweepApi(client, token).post("/compliance/policies", {"document": RULES_FOR_TESTS}, expect=201)
    assert created["version"] == compliance_rules.version + 1


def test_first_sweep_publishes_the_packaged_default_rules(app, sweep_api):
    sweep_api.get("/compliance/rules/current", expect=404)
    plan = sweep_api.start()
    assert plan["rules"]["version"] == 1
    current = sweep_api.get("/compliance/rules/current")
    assert current["version"] == 1
    assert current["document"] == plan["rules"]["document"]


def test_same_batch_twice_is_stored_once(app, factory, sweep_api, compliance_rules):
    for serial in ("A1", "A2"):
        factory.device(serial=serial, state="provisioned", adb_endpoint=f"127.0.0.1:{5000 + len(serial)}")
    sweep_id = sweep_api.start()["sweep_id"]
    t = now()
    batch = [result("A1", "storage_encrypted", "pass", t), result("A1", "disallowed_apps", "fail", t),
             result("A2", "storage_encrypted", "fail", t), result("GHOST", "storage_encrypted", "pass", t)]
    first = sweep_api.results(sweep_id, batch, [sighting("A1", t, security_patch="2026-10-05", sdk=34)])
    assert first == {"stored": 3, "duplicates": 0, "unknown_serials": ["GHOST"]}
    second = sweep_api.results(sweep_id, batch, [sighting("A1", t)])
    assert second == {"stored": 0, "duplicates": 3, "unknown_serials": ["GHOST"]}
    assert db.session.scalar(select(func.count()).select_from(ComplianceResult)) == 3
    a1 = db.session.scalar(select(Device).where(Device.serial == "A1"))
    assert a1.last_seen_at == t
    assert a1.sdk == 34
    assert a1.security_patch.isoformat() == "2026-10-05"

    summary = sweep_api.finish(sweep_id)
    assert summary["already_finished"] is False
    # Finished: more results are refused, a second finish only reports.
    sweep_api.results(sweep_id, batch, expect=409)
    again = sweep_api.finish(sweep_id)
    assert again["already_finished"] is True
    assert again["counts"] == summary["counts"]


def test_bad_batches_are_refused_with_field_errors_and_store_nothing(app, factory, sweep_api, compliance_rules):
    factory.device(serial="B1", state="provisioned", adb_endpoint="127.0.0.1:5001")
    sweep_id = sweep_api.start()["sweep_id"]
    t = now()
    bad_outcome = sweep_api.results(sweep_id, [result("B1", "storage_encrypted", "maybe", t)], expect=400)
    assert any("outcome" in field for field in bad_outcome["errors"])
    naive = result("B1", "storage_encrypted", "pass", t)
    naive["checked_at"] = "2026-11-28T10:00:00"
    assert sweep_api.results(sweep_id, [naive], expect=400)["errors"]
    extra = result("B1", "storage_encrypted", "pass", t) | {"surprise": 1}
    assert sweep_api.results(sweep_id, [extra], expect=400)["errors"]
    huge = result("B1", "storage_encrypted", "pass", t) | {"evidence": {"blob": "x" * 20_000}}
    assert "results.0.evidence" in sweep_api.results(sweep_id, [huge], expect=400)["errors"]
    assert db.session.scalar(select(func.count()).select_from(ComplianceResult)) == 0
    sweep_api.post("/sweeps", {"sweep_id": "not-a-uuid", "source": "cli"}, expect=400)
    sweep_api.post(f"/sweeps/{uuid.uuid4()}/finish", {}, expect=404)


def test_claims_grant_each_phone_to_one_worker(app, factory, sweep_api, compliance_rules):
    serials = [f"C{i:03d}" for i in range(60)]
    for i, serial in enumerate(serials):
        factory.device(serial=serial, state="provisioned", adb_endpoint=f"127.0.0.1:{6000 + i}")
    sweep_id = sweep_api.start()["sweep_id"]

    granted: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            with app.app_context():
                api = SweepApi(app.test_client(), sweep_api.headers["Authorization"].split()[1])
                start.wait()
                mine: list[str] = []
                for offset in range(0, len(serials), 10):  # overlapping asks, as two agents racing through one plan
                    mine += api.claim(sweep_id, serials[offset:offset + 10], worker=name)["granted"]
                granted[name] = mine
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(granted["w1"] + granted["w2"]) == serials  # every phone granted exactly once
    assert not set(granted["w1"]) & set(granted["w2"])
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(SweepClaim)) == len(serials)
    # Asking again: your own phones come back granted, the other worker's are refused.
    again = sweep_api.claim(sweep_id, serials[:10] + ["NOPE"], worker="w1")
    assert set(again["granted"]) == set(granted["w1"]) & set(serials[:10])
    assert "NOPE" in again["refused"]


def test_rule_versions_admin_only_validated_and_all_kept(app, factory, client, compliance_rules):
    admin_token, _ = factory.token(factory.user("admin"), "agent")
    it_token, _ = factory.token(factory.user("it"), "agent")
    admin, it = SweepApi(client, admin_token), SweepApi(client, it_token)

    it.post("/compliance/rules", {"document": RULES_FOR_TESTS}, expect=403)
    refused = admin.post("/compliance/rules", {"document": "schema: 1\nrules:\n  no_such_rule: {}\n"}, expect=400)
    assert "no_such_rule" in " ".join(refused["errors"]["document"])
    created = admin.post("/compliance/rules", {"document": RULES_FOR_TESTS.replace("grace_days: 3", "grace_days: 4"),
                                                  "comment": "longer patch grace"}, expect=201)
    assert created["version"] == compliance_rules.version + 1
    listing = admin.get("/compliance/rules")
    assert [row["version"] for row in listing] == [created["version"], compliance_rules.version]
    assert admin.get(f"/compliance/rules/{compliance_rules.version}")["document"] == RULES_FOR_TESTS
    assert admin.get("/compliance/rules/current")["version"] == created["version"]


def test_compliance_api_needs_an_agent_token(app, factory, client):
    provision_token, _ = factory.token(factory.user("it"), "provision")
    assert client.post("/api/v1/sweeps", json={"sweep_id": str(uuid.uuid4()), "source": "cli"}).status_code == 401
    response = client.post("/api/v1/sweeps", json={"sweep_id": str(uuid.uuid4()), "source": "cli"},
                           headers={"Authorization": f"Bearer {provision_token}"})
    assert response.status_code == 403


def test_late_redelivery_does_not_move_last_seen_backwards(app, factory, sweep_api, compliance_rules):
    factory.device(serial="L1", state="provisioned", adb_endpoint="127.0.0.1:5001")
    t = now()
    sweep_id = sweep_api.start()["sweep_id"]
    sweep_api.results(sweep_id, [], [sighting("L1", t)])
    sweep_api.results(sweep_id, [], [sighting("L1", t - timedelta(hours=5))])
    assert db.session.scalar(select(Device.last_seen_at).where(Device.serial == "L1")) == t


def test_two_finishes_at_once_run_the_actions_once(app, factory, client, agent_token, compliance_rules):
    factory.device(serial="F1", role="broadcast", state="provisioned", adb_endpoint="127.0.0.1:5001")
    api = SweepApi(client, agent_token)
    sweep_id = api.start()["sweep_id"]
    # Checked a minute ago: storage_encrypted has no grace, so finishing suspends the phone.
    api.results(sweep_id, [result("F1", "storage_encrypted", "fail", now() - timedelta(minutes=1))], [sighting("F1", now())])
    answers, errors = [], []
    start = threading.Barrier(2)

    def finish() -> None:
        try:
            with app.app_context():
                start.wait()
                answers.append(SweepApi(app.test_client(), agent_token).finish(sweep_id))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(a["already_finished"] for a in answers) == [False, True]
    assert [a["actions"]["suspended"] for a in answers if not a["already_finished"]] == [["F1"]]
    db.session.expire_all()
    from server.models import AuditEntry

    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "sweep.finished")) == 1
