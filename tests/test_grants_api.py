"""The provisioning API: install status, grants, catalogue download, installation and unauthorised-install reports."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest


@pytest.fixture
def api(gate, catalogue_app, factory, client):
    token, _ = factory.token(user=gate.it, scope="provision")
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, path, **kw):
        return getattr(client, method)(path, headers={**headers, **kw.pop("headers", {})}, **kw)

    return call


def test_install_status_before_approval_gives_the_managers_page(api, gate, app):
    body = api("get", f"/api/v1/devices/{gate.device.serial}/install-status").get_json()
    assert body["can_install"] is False
    assert body["approved"] is False
    assert body["device_state"] == "pending_approval"
    assert body["request"]["url"] == f"http://localhost/requests/{gate.request.id}"
    assert body["app"]["package"] == "com.whatsapp"
    app.config["PHONEGATE"] = dataclasses.replace(app.config["PHONEGATE"], public_url="https://phonegate.example.org")
    body = api("get", f"/api/v1/devices/{gate.device.serial}/install-status").get_json()
    assert body["request"]["url"] == f"https://phonegate.example.org/requests/{gate.request.id}"


def test_grant_refused_before_approval(api, gate):
    from sqlalchemy import select

    from server.models import AuditEntry

    response = api("post", "/api/v1/grants", json={"device_serial": gate.device.serial})
    assert response.status_code == 403
    assert response.get_json()["status"]
    assert "approves" in response.get_json()["message"]
    refusal = gate.session.scalars(select(AuditEntry).where(AuditEntry.action == "grant.refused")).one()
    assert refusal.actor.startswith("token:")
    assert refusal.target_id == str(gate.device.id)


def test_grant_download_report_and_used_grant_refused(api, gate, catalogue_app, test_apks):
    gate.approve()
    response = api("post", "/api/v1/grants", json={"device_serial": gate.device.serial})
    assert response.status_code == 201, response.get_json()
    grant = response.get_json()
    assert grant["apk_sha256"] == catalogue_app.sha256
    assert grant["signer_sha256"] == test_apks.key_a.sha256

    download = api("get", grant["download_url"].replace("http://localhost", ""))
    assert download.status_code == 200
    assert download.headers["X-Content-SHA256"] == catalogue_app.sha256
    assert hashlib.sha256(download.get_data()).hexdigest() == catalogue_app.sha256
    download.close()

    report = {"device_serial": gate.device.serial, "grant_secret": grant["secret"], "package": "com.whatsapp", "version_code": catalogue_app.version_code,
              "signer_sha256": catalogue_app.signer_sha256}
    first = api("post", "/api/v1/installations", json=report)
    assert first.status_code == 201
    assert first.get_json()["device_state"] == "provisioned"
    second = api("post", "/api/v1/installations", json=report)
    assert second.status_code == 403
    assert "already been used" in second.get_json()["message"]


@pytest.mark.parametrize("body", [
    {"device_serial": "X", "surprise": 1},
    {"device_serial": "X", "apk_sha256": "not-hex"},
    {},
])
def test_grant_request_validation(api, body):
    response = api("post", "/api/v1/grants", json=body)
    assert response.status_code == 400
    assert response.get_json()["errors"]


def test_installation_report_validation(api):
    response = api("post", "/api/v1/installations", json={"grant_secret": "s" * 43, "package": "not a package",
                                                           "version_code": "12", "signer_sha256": "zz", "extra": True})
    errors = response.get_json()["errors"]
    assert response.status_code == 400
    assert {"package", "version_code", "signer_sha256", "extra"} <= set(errors.get("json", errors))


def test_tokens_and_scopes(client, factory, gate):
    assert client.get("/api/v1/catalogue").status_code == 401
    agent, _ = factory.token(user=gate.it, scope="agent")
    response = client.post("/api/v1/grants", json={"device_serial": gate.device.serial},
                           headers={"Authorization": f"Bearer {agent}"})
    assert response.status_code == 403


def test_catalogue_listing_and_unknown_apk(api, catalogue_app):
    listing = api("get", "/api/v1/catalogue?role=individual").get_json()
    assert [item["sha256"] for item in listing] == [catalogue_app.sha256]
    assert listing[0]["download_url"].endswith(f"/api/v1/catalogue/{catalogue_app.sha256}/apk")
    assert api("get", "/api/v1/catalogue?role=boss").status_code == 400
    assert api("get", f"/api/v1/catalogue/{'0' * 64}/apk").status_code == 404


def test_unauthorised_install_report(api, gate):
    response = api("post", "/api/v1/unauthorised-installs", json={"device_serial": gate.device.serial,
                                                                  "package": "com.whatsapp", "version_code": 5})
    assert response.status_code == 201
    assert response.get_json()["device_state"] == "pending_approval"
    assert api("post", "/api/v1/unauthorised-installs", json={"device_serial": "NOPE", "package": "com.whatsapp"}).status_code == 404


def test_current_policy(api, gate):
    body = api("get", "/api/v1/policies/current").get_json()
    assert body["label"] == "2026-01"
    assert body["sha256"] == gate.policy.sha256
    assert body["text"]


def test_openapi_lists_the_provisioning_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/grants", "/api/v1/installations", "/api/v1/unauthorised-installs", "/api/v1/policies/current",
                 "/api/v1/catalogue", "/api/v1/catalogue/{sha256}/apk", "/api/v1/devices/{serial}/install-status"):
        assert path in paths
