"""The provisioning HTTP client against the real server (waitress): error mapping, retries, downloads; and the renderers."""

from __future__ import annotations

import io
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from device_agent.client import PhoneGateClient, RetryPolicy, ServerUnreachable
from phonegate.core.errors import BadInput, PolicyRefusal
from provisioning.flow import Event, Outcome
from provisioning.progress import PlainRenderer, RichRenderer, renderer_for
from ports import free_port

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # HTTP behaviour, not database rules




@pytest.fixture
def client_for(live_server, gate, factory):
    token, _ = factory.token(user=gate.it, scope="provision")

    def make(**kw):
        return PhoneGateClient(kw.pop("server", live_server.url), kw.pop("token", token), **kw)

    return make


@SQLITE_ONLY
def test_errors_map_to_exit_codes(client_for, gate, catalogue_app):
    with client_for() as client:
        with pytest.raises(PolicyRefusal, match="approves"):  # 403 -> exit 3
            client.create_grant(gate.device.serial)
        with pytest.raises(BadInput) as bad:  # 400 with field errors -> exit 2, the fields named
            client.create_grant("")
        assert "device_serial" in str(bad.value)
        with pytest.raises(BadInput):  # 404 -> exit 2
            client.install_status("NO-SUCH-PHONE")
        status = client.install_status(gate.device.serial)
        assert status["request"]["id"] == gate.request.id
    with client_for(token="wrong") as client, pytest.raises(BadInput, match="PHONEGATE_TOKEN"):  # 401
        client.current_policy()


def test_missing_token_or_bad_server_is_bad_input(monkeypatch):
    monkeypatch.delenv("PHONEGATE_TOKEN", raising=False)
    with pytest.raises(BadInput, match="PHONEGATE_TOKEN"):
        PhoneGateClient("http://127.0.0.1:5000")
    with pytest.raises(BadInput, match="http://"):
        PhoneGateClient("ftp://example", "t")


def test_connection_failures_are_retried_with_backoff_then_reported():
    sleeps: list[float] = []
    client = PhoneGateClient(f"http://127.0.0.1:{free_port()}", "t", retry=RetryPolicy(attempts=4, first_delay_s=0.5),
                             sleep=sleeps.append, timeout_s=2)
    with pytest.raises(ServerUnreachable, match="Cannot reach"):
        client.current_policy()
    assert sleeps == [0.5, 1.0, 2.0]


def test_an_unreachable_server_has_its_own_exit_code():
    client = PhoneGateClient(f"http://127.0.0.1:{free_port()}", "t", retry=RetryPolicy(attempts=1), timeout_s=2)
    with pytest.raises(ServerUnreachable) as caught:
        client.current_policy()
    assert caught.value.exit_code == 7  # the README's "the PhoneGate server could not be reached"


def test_a_server_that_comes_back_during_the_backoff_is_used():
    port = free_port()
    started: list[HTTPServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = json.dumps({"label": "v1", "sha256": "0" * 64, "published_at": "2026-01-01T00:00:00+00:00", "text": "x"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    def start_server(_delay: float) -> None:  # the "sleep": the server restarts while we wait
        if not started:
            server = HTTPServer(("127.0.0.1", port), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            started.append(server)

    client = PhoneGateClient(f"http://127.0.0.1:{port}", "t", sleep=start_server, timeout_s=5)
    try:
        assert client.current_policy()["label"] == "v1"
    finally:
        client.close()
        for server in started:
            server.shutdown()
            server.server_close()


@SQLITE_ONLY
def test_download_checks_the_sha256(client_for, catalogue_app, tmp_path):
    with client_for() as client:
        path = client.download_apk(f"{client.server}/api/v1/catalogue/{catalogue_app.sha256}/apk", tmp_path, catalogue_app.sha256)
        assert path.name == f"{catalogue_app.sha256}.apk"
        with pytest.raises(PolicyRefusal, match="different APK"):
            client.download_apk(f"{client.server}/api/v1/catalogue/{catalogue_app.sha256}/apk", tmp_path / "x", "ab" * 32)
        assert not list((tmp_path / "x").glob("*.apk"))


def _events():
    return [
        ("a", Event("127.0.0.1:5555", "connect", "connecting", 0.0)),
        ("a", Event("SIM1", "enrol", "already carries WhatsApp", 0.3, warning=True)),
        ("a", Event("SIM1", "done", "Not approved yet", 1.0, outcome=Outcome(3, "Not approved yet", "SIM1"))),
        ("b", Event("SIM2", "done", "Installed", 1.0, outcome=Outcome(0, "Installed", "SIM2"))),
    ]


def test_plain_renderer_prints_one_line_per_event():
    stream = io.StringIO()
    renderer = renderer_for(stream)
    assert isinstance(renderer, PlainRenderer)
    for key, event in _events():
        renderer.handle(key, event)
    renderer.close()
    assert stream.getvalue().splitlines() == [
        "127.0.0.1:5555: connecting",
        "SIM1: WARNING already carries WhatsApp",
        "SIM1: STOPPED (exit 3) Not approved yet",
        "SIM2: OK Installed",
    ]


def test_rich_renderer_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    renderer = renderer_for(stream)
    assert isinstance(renderer, RichRenderer)
    for key, event in _events():
        renderer.handle(key, event)
    renderer.close()
    text = stream.getvalue()
    assert "SIM1" in text
    assert "SIM2" in text
    assert "already carries WhatsApp" in text
    assert len(renderer.tasks) == 2
