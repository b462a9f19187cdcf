"""Audit and provenance (issue 9): the install report names the phone and the grant must be that phone's (a grant
for phone X reported from phone Y is refused and audited, and stays usable for X); `phonegate sweep` says with
exit 6 when its results could not be delivered and wait in the outbox. (Endpoint changes and agent times in the
future: test_hostile_input.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import AuditEntry, Installation


@pytest.fixture
def provision(factory) -> dict[str, str]:
    plaintext, _ = factory.token(factory.user("it"), "provision")
    return {"Authorization": f"Bearer {plaintext}"}


def _report(serial: str, secret: str, app) -> dict:
    return {"device_serial": serial, "grant_secret": secret, "package": app.package, "version_code": app.version_code,
            "signer_sha256": app.signer_sha256}


def test_a_grant_reported_from_another_phone_is_refused_audited_and_stays_usable(client, provision, gate,
                                                                                catalogue_app, factory):
    gate.approve()
    other = factory.device(serial="OTHER-PHONE")
    grant = client.post("/api/v1/grants", json={"device_serial": gate.device.serial}, headers=provision).get_json()

    wrong = client.post("/api/v1/installations", json=_report(other.serial, grant["secret"], catalogue_app),
                        headers=provision)
    assert wrong.status_code == 403
    assert "for another phone" in wrong.get_json()["message"]
    refusal = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "installation.refused"))
    assert refusal.target_type == "install_grant"
    assert '"reported_serial":"OTHER-PHONE"' in refusal.details
    assert f'"grant_device_id":{gate.device.id}' in refusal.details
    assert db.session.scalar(select(Installation)) is None

    right = client.post("/api/v1/installations", json=_report(gate.device.serial, grant["secret"], catalogue_app),
                        headers=provision)
    assert right.status_code == 201
    assert right.get_json()["device_serial"] == gate.device.serial


def test_an_install_report_without_the_phone_is_refused(client, provision):
    answer = client.post("/api/v1/installations", headers=provision, json={
        "grant_secret": "s" * 43, "package": "com.whatsapp", "version_code": 1, "signer_sha256": "a" * 64})
    assert answer.status_code == 400
    assert "device_serial" in answer.get_json()["errors"]


# --------------------------------------------------------------------------------------------- sweep exit codes


@pytest.fixture
def agent_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, adb_key) -> Path:
    monkeypatch.setenv("PHONEGATE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PHONEGATE_ADB_KEY", str(adb_key.path))
    monkeypatch.delenv("PHONEGATE_TOKEN", raising=False)
    return tmp_path / "instance"


def test_sweep_exits_6_when_the_server_is_unreachable_and_results_wait(phone_simulator, agent_env, monkeypatch, capsys):
    from ports import free_port

    from phonegate.cli import main

    (phone,) = phone_simulator(1, profiles=["google-pixel-9"])
    monkeypatch.setenv("PHONEGATE_TOKEN", "pgt_" + "x" * 43)
    monkeypatch.setenv("PHONEGATE_SERVER", f"http://127.0.0.1:{free_port()}")
    code = main(["sweep", "--tcp", phone.endpoint, "--timeout-per-phone", "10"])
    err = capsys.readouterr().err
    assert code == 6
    assert "wait in the outbox" in err
    assert len(list((agent_env / "outbox").glob("*.jsonl"))) == 2  # results + finish


def test_sweep_exits_6_without_a_token_when_every_phone_is_compliant(phone_simulator, agent_env, capsys):
    from phonegate.cli import main

    (phone,) = phone_simulator(1, profiles=["google-pixel-9"])
    assert main(["sweep", "--tcp", phone.endpoint, "--timeout-per-phone", "10"]) == 6
    assert "not delivered" in capsys.readouterr().err


def test_sweep_exits_0_when_its_results_were_delivered(live_server, factory, phone_simulator, agent_env, monkeypatch,
                                                       capsys):
    from phonegate.cli import main

    (phone,) = phone_simulator(1, profiles=["google-pixel-9"])
    token, _ = factory.token(factory.user("it"), "agent")
    monkeypatch.setenv("PHONEGATE_TOKEN", token)
    monkeypatch.setenv("PHONEGATE_SERVER", live_server.url)
    assert main(["sweep", "--tcp", phone.endpoint, "--timeout-per-phone", "10"]) == 0, capsys.readouterr().err
    assert list((agent_env / "outbox").glob("*.jsonl")) == []
