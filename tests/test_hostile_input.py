"""No input gets a 500 (issue 9): each reproduction from the black-box test, on both databases.

Empty optional strings, numbers the database cannot hold (in paths, filters and page numbers, on the API and on
every web route that has a number in its path or a page number), JSON nested 100,000 deep or holding a
5,000-digit number (refused before it is parsed, and before the token check passes, never parsed at all), a lone
surrogate, control characters in identifiers (a clear 400) and in facts (stored escaped), NUL bytes in forms.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

from server.extensions import db
from server.models import AuditEntry, Device

HUGE = str(2**63)  # one past the largest 64-bit integer
HUGER = "9" * 5000
HOSTILE = "E\x1b]0;owned\x07\x1b[2J\x08\u202e"


def _auth(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def provision(factory) -> dict[str, str]:
    plaintext, _ = factory.token(factory.user("it"), "provision")
    return _auth(plaintext)


@pytest.fixture
def agent(factory) -> dict[str, str]:
    plaintext, _ = factory.token(factory.user("admin"), "agent")
    return _auth(plaintext)


# --------------------------------------------------------------------------------------------- empty strings


def test_an_empty_optional_string_counts_as_not_given(client, provision):
    client.post("/api/v1/devices", json={"serial": "E1", "model": "Pixel 9"}, headers=provision)
    again = client.post("/api/v1/devices", json={"serial": "E1", "model": ""}, headers=provision)
    assert again.status_code == 200
    assert again.get_json()["model"] == "Pixel 9"


def test_an_empty_search_is_no_filter(client, provision, factory):
    factory.device(serial="S-1")
    answer = client.get("/api/v1/devices?q=&site=", headers=provision)
    assert answer.status_code == 200
    assert [d["serial"] for d in answer.get_json()] == ["S-1"]


def test_an_empty_staff_email_beside_a_service_is_not_given(client, provision, factory):
    service = factory.service("Broadcast Service")
    factory.team(service=service)
    factory.device(serial="B-1")
    answer = client.post("/api/v1/enrolments", json={"serial": "B-1", "staff_email": "",
                                                     "broadcast_service": service.name}, headers=provision)
    assert answer.status_code == 201, answer.get_json()


def test_an_empty_staff_email_alone_is_a_clear_400(client, provision, factory):
    factory.device(serial="B-2")
    answer = client.post("/api/v1/enrolments", json={"serial": "B-2", "staff_email": ""}, headers=provision)
    assert answer.status_code == 400
    assert "exactly one of staff_email or broadcast_service" in answer.get_json()["errors"]["staff_email"][0]


def test_an_empty_required_serial_is_refused(client, provision):
    answer = client.post("/api/v1/devices", json={"serial": "   "}, headers=provision)
    assert answer.status_code == 400
    assert answer.get_json()["errors"] == {"serial": ["Must not be empty."]}


# --------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("path", [f"/api/v1/enrolments/{HUGE}", f"/api/v1/enrolments/{HUGER}",
                                  f"/api/v1/compliance/rules/{HUGE}", f"/api/v1/compliance/rules/{2**31}"])
def test_an_id_the_database_cannot_hold_is_404(client, provision, agent, path):
    headers = agent if "compliance" in path else provision
    assert client.get(path, headers=headers).status_code == 404


@pytest.mark.parametrize("query", [f"team={HUGE}", f"service={2**31}", f"team={HUGER}", f"page={HUGE}",
                                   f"page_size={HUGE}", "page=0", f"page={HUGER}"])
def test_a_filter_or_page_the_database_cannot_hold_is_400(client, provision, query):
    answer = client.get(f"/api/v1/devices?{query}", headers=provision)
    assert answer.status_code == 400
    assert answer.get_json()["errors"]


def test_a_json_number_the_database_cannot_hold_is_400(client, provision):
    answer = client.post("/api/v1/installations", headers=provision, json={
        "device_serial": "E1", "grant_secret": "s" * 43, "package": "com.whatsapp", "version_code": 2**63,
        "signer_sha256": "a" * 64})
    assert answer.status_code == 400
    assert "version_code" in answer.get_json()["errors"]


def _web_routes_with_ids(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static", "/assets")) or "GET" not in (rule.methods or ()):
            continue
        converters = rule._converters  # noqa: SLF001 (werkzeug keeps them per argument)
        if converters and all(type(c).__name__ == "IdConverter" for c in converters.values()):
            yield rule


def test_every_web_route_with_an_id_answers_404_for_one_too_large(app, client, web):
    web.sign_in(client, web.admin)
    rules = list(_web_routes_with_ids(app))
    assert len(rules) >= 11  # the black-box test found 11 such routes
    for rule in rules:
        for number in (HUGE, HUGER, str(2**31)):
            path = rule.rule
            for name in rule.arguments:
                path = path.replace(f"<int:{name}>", number)
            answer = client.get(path)
            assert answer.status_code == 404, (path[:80], answer.status_code)


def test_every_web_list_answers_404_for_a_page_too_large(app, client, web):
    web.sign_in(client, web.admin)
    lists = [rule.rule for rule in app.url_map.iter_rules() if not rule.arguments and "GET" in (rule.methods or ())
             and not rule.rule.startswith(("/api/", "/static", "/assets", "/logout"))]
    assert "/devices" in lists
    for path in lists:
        for page in (HUGE, HUGER, "0", "-1", "x"):
            answer = client.get(f"{path}?page={page}&per_page={page}")
            assert answer.status_code in (404, 302), (path, page, answer.status_code)


def test_an_id_too_large_in_a_form_field_is_a_form_error(client, web, factory):
    web.sign_in(client, web.admin)
    for value in (HUGE, "\u00b2", HUGER):  # "²" is a digit to str.isdigit, not to int()
        answer = client.post("/staff/new", data={"csrf_token": web.csrf(client, "/staff/new"), "email": "x@example.test",
                                                 "name": "X", "team": value})
        assert answer.status_code == 400, (value[:10], answer.status_code)


# --------------------------------------------------------------------------------------------- JSON bodies


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("path", ["/api/v1/devices", "/api/v1/enrolments", "/api/v1/grants", "/api/v1/installations",
                                  "/api/v1/sweeps", "/api/v1/compliance/rules"])
def test_json_nested_100000_deep_is_refused_cheaply(client, provision, agent, path):
    headers = agent if "sweeps" in path or "compliance" in path else provision
    started = time.process_time()  # CPU, not wall time: a loaded CI machine must not fail a cheap refusal
    tracemalloc.start()
    answer = client.post(path, data=_deep(100_000), headers={**headers, "Content-Type": "application/json"})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert answer.status_code == 400
    assert "nested more than 32 levels" in answer.get_json()["message"]
    assert time.process_time() - started < 1.0
    assert peak < 20 * 1024 * 1024


def test_a_5000_digit_number_is_refused_before_parsing(client, provision):
    answer = client.post("/api/v1/devices", data=b'{"serial": "E1", "sdk": ' + HUGER.encode() + b"}",
                         headers={**provision, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "more than 40 digits" in answer.get_json()["message"]


@pytest.mark.parametrize("body", [b'{"serial": "E1", "sdk": NaN}', b'{"serial": "E1", "sdk": 1e999}', b'{"serial": '])
def test_nan_infinity_and_broken_json_are_400(client, provision, body):
    answer = client.post("/api/v1/devices", data=body, headers={**provision, "Content-Type": "application/json"})
    assert answer.status_code == 400


def test_strings_hold_brackets_and_escaped_quotes_without_counting_as_depth(client, provision):
    serial = "[[[[" * 20 + '\\"{{' * 20
    answer = client.post("/api/v1/devices", json={"serial": serial[:120]}, headers=provision)
    assert answer.status_code == 201


def test_a_body_is_never_parsed_before_the_token_is_checked(client):
    for headers in ({}, {"Authorization": "Bearer pgt_not_a_token"}):
        answer = client.post("/api/v1/sweeps/00000000-0000-0000-0000-000000000009/results", data=_deep(100_000) + b"x" * 1000,
                             headers={**headers, "Content-Type": "application/json"})
        assert answer.status_code == 401
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)) == 0


def test_every_api_endpoint_checks_the_token_before_the_body(app, client):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "api-docs.openapi_json":
            continue
        path = rule.rule
        for name in rule.arguments:
            path = (path.replace(f"<int:{name}>", "1").replace(f"<string:{name}>", "x").replace(f"<{name}>", "x")
                    .replace(f"<uuid:{name}>", "00000000-0000-0000-0000-000000000009"))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = client.open(path, method=method, data=_deep(100_000), headers={"Content-Type": "application/json"})
            assert answer.status_code == 401, (method, path, answer.status_code)


def test_a_lone_surrogate_in_a_serial_is_a_clear_400(client, provision):
    answer = client.post("/api/v1/devices", data=b'{"serial": "E\\ud800"}',
                         headers={**provision, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "\\ud800" in answer.get_json()["errors"]["serial"][0]


# --------------------------------------------------------------------------------------------- control characters


@pytest.mark.parametrize("field", ["serial", "adb_endpoint", "site", "asset_tag"])
def test_control_characters_in_an_identifier_are_a_clear_400(client, provision, field):
    body = {"serial": "E1", field: HOSTILE}
    answer = client.post("/api/v1/devices", json=body, headers=provision)
    assert answer.status_code == 400
    message = answer.get_json()["errors"][field][0]
    assert "control or formatting characters" in message
    assert "\\x1b" in message
    assert db.session.scalar(db.select(db.func.count()).select_from(Device)) == 0


def test_control_characters_in_a_path_are_404(client, provision):
    assert client.get("/api/v1/devices/E%1b%5B2J", headers=provision).status_code == 404
    assert client.get("/api/v1/devices/E%00", headers=provision).status_code == 404


def test_facts_with_control_characters_are_stored_escaped(client, provision):
    answer = client.post("/api/v1/devices", json={"serial": "E1", "model": HOSTILE, "manufacturer": "a\x00b"},
                         headers=provision)
    assert answer.status_code == 201
    device = db.session.scalar(db.select(Device).where(Device.serial == "E1"))
    assert device.model == "E\\x1b]0;owned\\x07\\x1b[2J\\x08\\u202e"
    assert device.manufacturer == "a\\x00b"


def test_sweep_facts_and_observations_are_stored_escaped(client, agent, factory):
    from server.models import ComplianceResult

    factory.device(serial="E1")
    sweep = client.post("/api/v1/sweeps", json={"sweep_id": "00000000-0000-0000-0000-000000000001", "source": "cli"},
                        headers=agent).get_json()
    now = datetime.now(timezone.utc).isoformat()
    answer = client.post(f"/api/v1/sweeps/{sweep['sweep_id']}/results", headers=agent, json={
        "results": [{"serial": "E1", "rule": "storage_encrypted", "outcome": "fail", "observed": HOSTILE,
                     "evidence": {"raw\x1b": ["\x1b[31mred", {"deep": "\x07"}]}, "checked_at": now}],
        "devices": [{"serial": "E1", "seen_at": now, "facts_summary": {"android_release": "14\x1b[2J", "sdk": 2**40}}]})
    assert answer.status_code == 200, answer.get_json()
    row = db.session.scalar(db.select(ComplianceResult))
    assert "\x1b" not in row.observed
    assert "\x1b" not in row.evidence
    assert "\x07" not in row.evidence
    device = db.session.scalar(db.select(Device).where(Device.serial == "E1"))
    assert device.android_release == "14\\x1b[2J"
    assert device.sdk is None  # an impossible API level from a phone is not recorded


@pytest.mark.parametrize("field", ["checked_at", "seen_at"])
def test_agent_times_in_the_future_are_refused(client, agent, factory, field):
    factory.device(serial="E1")
    sweep_id = "00000000-0000-0000-0000-000000000002"
    client.post("/api/v1/sweeps", json={"sweep_id": sweep_id, "source": "cli"}, headers=agent)
    now = datetime.now(timezone.utc)
    times = {"checked_at": now.isoformat(), "seen_at": now.isoformat()}
    times[field] = datetime(9999, 1, 1, tzinfo=timezone.utc).isoformat()
    answer = client.post(f"/api/v1/sweeps/{sweep_id}/results", headers=agent, json={
        "results": [{"serial": "E1", "rule": "storage_encrypted", "outcome": "pass", "checked_at": times["checked_at"]}],
        "devices": [{"serial": "E1", "seen_at": times["seen_at"]}]})
    assert answer.status_code == 400
    errors = answer.get_json()["errors"]
    assert any(field in name for name in errors), errors
    assert "in the future" in str(errors)


def test_agent_times_within_the_clock_skew_are_accepted(client, agent, factory):
    factory.device(serial="E1")
    sweep_id = "00000000-0000-0000-0000-000000000003"
    client.post("/api/v1/sweeps", json={"sweep_id": sweep_id, "source": "cli"}, headers=agent)
    ahead = (datetime.now(timezone.utc) + timedelta(minutes=2)).isoformat()
    answer = client.post(f"/api/v1/sweeps/{sweep_id}/results", headers=agent, json={
        "results": [{"serial": "E1", "rule": "storage_encrypted", "outcome": "pass", "checked_at": ahead}],
        "devices": [{"serial": "E1", "seen_at": ahead}]})
    assert answer.status_code == 200


def test_a_nul_byte_in_a_web_form_or_query_is_a_clear_400(client, web):
    web.sign_in(client, web.admin)
    assert client.get("/devices?q=%00").status_code == 400
    answer = client.post("/staff/new", data={"csrf_token": web.csrf(client, "/staff/new"), "email": "x@example.test",
                                             "name": "Nul\x00Name", "team": str(web.team.id)})
    assert answer.status_code == 400
    assert "NUL" in answer.get_data(as_text=True)


def test_changing_a_phones_adb_endpoint_is_audited_from_and_to(client, provision):
    client.post("/api/v1/devices", json={"serial": "E1", "adb_endpoint": "10.0.0.5:5555"}, headers=provision)
    answer = client.post("/api/v1/devices", json={"serial": "E1", "adb_endpoint": "10.0.0.66:5555"}, headers=provision)
    assert answer.status_code == 200
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "device.endpoint_changed"))
    assert entry.details == '{"from":"10.0.0.5:5555","to":"10.0.0.66:5555"}'


@pytest.mark.parametrize("document, message", [
    ("[" * 5000 + "]" * 5000, "nested far too deeply"),
    ("schema: 1\nrules:\n  storage_encrypted: &a {severity: high}\n  disallowed_apps: *a\n", "aliases"),
])
def test_a_rules_document_too_deep_or_with_aliases_is_a_clear_400(client, agent, document, message):
    answer = client.post("/api/v1/compliance/rules", json={"document": document}, headers=agent)
    assert answer.status_code == 400
    assert message in str(answer.get_json()["errors"])


def test_a_method_a_route_does_not_have_is_405_with_allow(client):
    answer = client.open("/api/v1/catalogue", method="TRACE")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


# --------------------------------------------------------------------------------------------- the mechanisms themselves


def test_an_input_schema_with_a_plain_string_or_integer_is_refused_when_built():
    import marshmallow as ma

    from server.api.common import StrictSchema

    class PlainString(StrictSchema):
        name = ma.fields.String()

    class PlainInteger(StrictSchema):
        count = ma.fields.Integer()

    for schema in (PlainString, PlainInteger):
        with pytest.raises(TypeError, match="server/api/fields.py"):
            schema()


def test_an_api_route_without_declared_scopes_stops_the_server_from_starting():
    from flask import Flask

    from server.api.auth import check_every_endpoint_declares_scopes

    app = Flask(__name__)
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "open to anyone")
    with pytest.raises(RuntimeError, match="has no @token_required"):
        check_every_endpoint_declares_scopes(app)


def test_a_json_body_over_16_mib_is_413_before_it_is_read(client, agent):
    body = b'{"results": [], "devices": [], "padding": "' + b"x" * (16 * 1024 * 1024) + b'"}'
    answer = client.post("/api/v1/sweeps/00000000-0000-0000-0000-000000000009/results", data=body,
                         headers={**agent, "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "too_large"
