"""Fixtures for the compliance part: a real SMTP server on loopback that keeps what it receives.

`smtp_server` is aiosmtpd's Controller (its own thread and event loop) on a free 127.0.0.1 port; messages are
parsed with the standard library so tests read them as a person would. `smtp_settings` points the test app's
mailer at it. `sweep_api` drives the compliance API as the sweep agent does.
"""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from ports import free_port


class CollectingHandler:
    """aiosmtpd handler: accepts every message and keeps it with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, host: str, port: int, handler: CollectingHandler) -> None:
        self.host = host
        self.port = port
        self.handler = handler

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self.handler.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, (_, rcpts) in zip(self.handler.messages, self.handler.envelopes) if address in rcpts]

    def clear(self) -> None:
        self.handler.messages.clear()
        self.handler.envelopes.clear()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(app, smtp_server):
    """Points the app's mailer at the loopback SMTP server (and links at a public address); returns the settings."""
    from dataclasses import replace

    from server.settings import SmtpSettings

    smtp = SmtpSettings(host=smtp_server.host, port=smtp_server.port, sender="phonegate@council.example")
    settings = replace(app.config["PHONEGATE"], smtp=smtp, public_url="https://phonegate.council.example")
    app.config["PHONEGATE"] = settings
    return settings


# --------------------------------------------------------------------------------------------- sweeps over the API


class SweepApi:
    """Drives the compliance API the way the sweep agent does, through the Flask test client."""

    def __init__(self, client, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict, expect: int | tuple[int, ...] = 200):
        response = self.client.post(f"/api/v1{path}", json=body, headers=self.headers)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, (response.status_code, response.get_json())
        return response.get_json()

    def get(self, path: str, expect: int = 200):
        response = self.client.get(f"/api/v1{path}", headers=self.headers)
        assert response.status_code == expect, (response.status_code, response.get_json())
        return response.get_json()

    def start(self, sweep_id: str | None = None, source: str = "cli", site: str | None = None) -> dict:
        import uuid

        body = {"sweep_id": sweep_id or str(uuid.uuid4()), "source": source}
        if site is not None:
            body["site"] = site
        return self.post("/sweeps", body, expect=(200, 201))

    def claim(self, sweep_id: str, serials: list[str], worker: str = "worker-1") -> dict:
        return self.post(f"/sweeps/{sweep_id}/claims", {"serials": serials, "worker": worker})

    def results(self, sweep_id: str, results: list[dict], devices: list[dict] | None = None, expect: int = 200) -> dict:
        return self.post(f"/sweeps/{sweep_id}/results", {"results": results, "devices": devices or []}, expect=expect)

    def finish(self, sweep_id: str) -> dict:
        return self.post(f"/sweeps/{sweep_id}/finish", {})


@pytest.fixture
def agent_token(factory) -> str:
    plaintext, _ = factory.token(factory.user("it"), "agent")
    return plaintext


@pytest.fixture
def sweep_api(client, agent_token) -> SweepApi:
    return SweepApi(client, agent_token)


def result(serial: str, rule: str, outcome: str, checked_at, severity: str = "high", observed: str | None = None) -> dict:
    """One result as the agent sends it."""
    return {"serial": serial, "rule": rule, "outcome": outcome, "severity": severity,
            "observed": observed or outcome, "evidence": {}, "checked_at": checked_at.isoformat()}


def sighting(serial: str, seen_at, **facts) -> dict:
    return {"serial": serial, "facts_summary": facts, "seen_at": seen_at.isoformat()}


RULES_FOR_TESTS = """\
schema: 1
rules:
  storage_encrypted:
    severity: critical
    grace_days: 0
    on_failure: {mark: true, email_manager: true, escalate_after_days: 0, suspend: true}
  security_patch_max_age_days:
    severity: high
    grace_days: 3
    on_failure: {mark: true, email_manager: true, escalate_after_days: 5, suspend: false}
  disallowed_apps:
    severity: medium
    grace_days: 7
    on_failure: {mark: true, email_manager: true, escalate_after_days: null, suspend: false}
  acknowledgement_current:
    grace_days: 14
    on_failure: {mark: true, email_manager: true, escalate_after_days: 30, suspend: false}
  training_current:
    grace_days: 14
    on_failure: {mark: true, email_manager: true, escalate_after_days: 30, suspend: false}
    params: {max_age_days: 365}
  seen_recently:
    grace_days: 0
    on_failure: {mark: true, email_manager: false, suspend: false}
    params: {max_days: 7}
"""


@pytest.fixture
def compliance_rules(app):
    """Publishes RULES_FOR_TESTS as the current compliance rules version (short graces, known actions)."""
    from server.extensions import db
    from server.services.actor import Actor
    from server.services.compliance.rules import publish_version

    row = publish_version(db.session, RULES_FOR_TESTS, Actor.system(), comment="test rules")
    db.session.commit()
    return row
