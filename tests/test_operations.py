"""/healthz for the load balancer, /metrics for Prometheus, and JSON log lines: answers without personal data."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from server import create_app


def _fresh_app(db_url: str, instance: Path, **settings):
    from fixtures_server import FreshContextClient

    made = create_app({"TESTING": True, "PHONEGATE_DATABASE_URL": db_url, "PHONEGATE_INSTANCE": str(instance),
                       **settings})
    made.test_client_class = FreshContextClient
    return made


# ------------------------------------------------------------------------------------------------ /healthz


def test_healthz_is_ok_on_a_migrated_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_needs_no_log_in_and_sets_no_cookie(client):
    assert "Set-Cookie" not in client.get("/healthz").headers


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_healthz_says_when_migrations_are_behind(db_url, tmp_path):
    import flask_migrate

    from fixtures_server import _dispose

    behind = _fresh_app(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path / "old")
    with behind.app_context():
        flask_migrate.upgrade(directory=behind.extensions["migrate"].directory, revision="dbf00bce6952")
    try:
        response = behind.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "database": "ok", "migrations": "behind"}
    finally:
        _dispose(behind)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_healthz_says_when_the_database_is_unreachable_and_nothing_else(db_url, tmp_path):
    from fixtures_server import _dispose

    gone = _fresh_app(f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}", tmp_path / "gone")
    try:
        response = gone.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "database": "unreachable", "migrations": "unknown"}
    finally:
        _dispose(gone)


# ------------------------------------------------------------------------------------------------ /metrics


def _metrics(client, **kw) -> str:
    response = client.get("/metrics", **kw)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_metrics_count_requests_by_endpoint_and_status(client, web):
    client.get("/login")
    client.get("/no/such/page")
    text = _metrics(client)
    assert 'phonegate_http_requests_total{endpoint="auth.login",method="GET",status="200"} 1.0' in text
    assert 'phonegate_http_requests_total{endpoint="unmatched",method="GET",status="404"} 1.0' in text


def test_metrics_count_phones_by_state(client, web):
    assert 'phonegate_phones{state="pending_approval"} 1.0' in _metrics(client)


def test_metrics_count_refusals(client, web):
    web.login(client, web.manager, password="not the password at all")
    assert 'phonegate_refusals_total{action="user.login_failed"} 1.0' in _metrics(client)


def test_metrics_count_sweeps(client, web):
    assert "phonegate_sweeps_total 0.0" in _metrics(client)


def test_metrics_report_the_outbox_when_told_how(app, client, tmp_path):
    from device_agent.outbox import Outbox, OutboxBatch
    from server import operations

    outbox = Outbox(tmp_path / "outbox")
    outbox.put(OutboxBatch(kind="results", batch_id="b1", sweep_id="s1", source="cli", results=[], devices=[]))
    operations.count_outbox_with(app, outbox.count)
    assert "phonegate_outbox_waiting_batches 1.0" in _metrics(client)


def test_metrics_hold_no_personal_data_or_serials(client, web):
    web.login(client, web.manager)
    client.get("/requests")
    text = _metrics(client)
    for personal in (web.manager.email, web.staff.name, web.staff.email, web.device.serial):
        assert personal not in text


def test_metrics_refused_to_another_address_without_a_token(client):
    response = client.get("/metrics", environ_overrides={"REMOTE_ADDR": "192.0.2.10"})
    assert response.status_code == 403


def test_metrics_refused_through_an_untrusted_proxy(client):
    response = client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.10"})
    assert response.status_code == 403


@pytest.fixture
def token_app(db_url, tmp_path):
    from fixtures_server import _dispose

    made = _fresh_app(db_url, tmp_path / "token", PHONEGATE_METRICS_TOKEN="scrape-token-0123456789")
    yield made
    _dispose(made)


def test_metrics_with_the_token_from_anywhere(token_app):
    response = token_app.test_client().get("/metrics", environ_overrides={"REMOTE_ADDR": "192.0.2.10"},
                                           headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert response.status_code == 200


@pytest.mark.parametrize("given", [None, "Bearer wrong", "Basic scrape-token-0123456789"])
def test_metrics_without_the_right_token_are_refused_even_on_loopback(token_app, given):
    headers = {"Authorization": given} if given else {}
    assert token_app.test_client().get("/metrics", headers=headers).status_code == 403


# ------------------------------------------------------------------------------------------------ JSON logs

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.fixture
def json_log():
    from server.log_format import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root, engine = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    levels = root.level, engine.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    engine.setLevel(logging.DEBUG)  # as if someone turned SQL echo on
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        engine.setLevel(levels[1])


def test_a_log_in_and_approve_cycle_logs_no_email_or_name(client, web, json_log):
    assert web.login(client, web.manager).status_code == 302
    url = f"/requests/{web.request.id}/decision"
    trained = date.today() - timedelta(days=10)
    form = {"policy_sha256": web.policy.sha256, "decision": "approve", "acknowledged": "yes", "training_confirmed": "yes",
            "training-day": str(trained.day), "training-month": str(trained.month),
            "training-year": str(trained.year), "reason": ""}
    assert client.post(url, data={**form, "csrf_token": web.csrf(client, f"/requests/{web.request.id}")}).status_code == 200
    done = client.post(url, data={**form, "confirm": "yes", "csrf_token": web.csrf(client, f"/requests/{web.request.id}")})
    assert done.status_code == 302
    client.post("/logout", data={"csrf_token": web.csrf(client)})
    output = json_log.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(line.get("endpoint") == "pages.request_decision" for line in lines), "request lines were logged"
    assert any("SELECT" in line["message"] for line in lines), "SQL was logged too"
    for personal in (web.manager.email, web.staff.email, web.staff.name, web.password):
        assert personal not in output
    assert EMAIL.search(output) is None


def test_json_format_is_given_to_the_loggers_handlers():
    from server.log_format import JsonFormatter, use_format

    logger = logging.getLogger("phonegate.test-json-format")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        use_format("json", logger)
        assert isinstance(handler.formatter, JsonFormatter)
    finally:
        logger.removeHandler(handler)


def test_an_exception_is_logged_by_type_and_frames_not_by_message():
    from server.log_format import JsonFormatter

    row = ("sam@" + "example.test", "Sam Jones")  # built at run time: the traceback quotes source lines
    try:
        raise ValueError(f"row {row} violates a constraint")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError"
    assert row[0] not in json.dumps(line)
