"""The `station` token scope allows exactly what a check-in station does, nothing more (server/api/auth.py)."""

from __future__ import annotations

import pytest

from server.api.auth import scopes_of

# What a station does: register a phone, read whether it may have its app, fetch and verify the catalogue's
# APK, take a grant and report the installation (the provisioning flow), report an app found without approval,
# and run sweeps (start, claim as a Celery worker, post results, finish). The flow also reads the rules in force and
# sends the phone's pre-check (what the manager sees before deciding).
STATION_MAY = {
    ("GET", "/api/v1/compliance/rules/current"),
    ("GET", "/api/v1/compliance/policies/current"),
    ("PUT", "/api/v1/devices/<string:serial>/precheck"),
    ("POST", "/api/v1/devices"),
    ("GET", "/api/v1/devices/<string:serial>/install-status"),
    ("GET", "/api/v1/catalogue"),
    ("GET", "/api/v1/catalogue/<string:sha256>/apk"),
    ("GET", "/api/v1/catalogue/<string:sha256>/files/<string:file_sha256>"),  # each file of an APK set
    ("POST", "/api/v1/grants"),
    ("POST", "/api/v1/installations"),
    ("POST", "/api/v1/unauthorised-installs"),
    ("POST", "/api/v1/sweeps"),
    ("POST", "/api/v1/sweeps/<uuid:sweep_id>/claims"),
    ("POST", "/api/v1/sweeps/<uuid:sweep_id>/results"),
    ("POST", "/api/v1/sweeps/<uuid:sweep_id>/finish"),
}


def _station_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    allowed = set()
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/api/"):
                continue
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if "station" in (scopes_of(rule.endpoint, method) or ()):
                    allowed.add((method, rule.rule))
    return allowed


def test_the_station_scope_allows_exactly_the_station_routes(app):  # type: ignore[no-untyped-def]
    assert _station_routes(app) == STATION_MAY


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/enrolments", {"serial": "S1", "staff_email": "a@example.org"}),  # only IT asks for a holder
    ("GET", "/api/v1/devices", None),  # the inventory
    ("GET", "/api/v1/devices/S1", None),
    ("POST", "/api/v1/compliance/rules", {"document": "schema: 1\nrules: {}\n"}),  # publishing rules
    ("GET", "/api/v1/spot-checks/open", None),
])
def test_a_station_token_is_refused_what_a_station_must_not_do(client, factory, method, path, body):  # type: ignore[no-untyped-def]
    token, _ = factory.token(scope="station")
    response = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403, response.get_data(as_text=True)[:300]


def test_a_station_token_may_register_a_phone(client, factory):  # type: ignore[no-untyped-def]
    token, _ = factory.token(scope="station")
    response = client.post("/api/v1/devices", json={"serial": "STATION1", "model": "Pixel"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 201), response.get_data(as_text=True)[:300]


def test_token_create_accepts_the_station_scope(runner, factory):  # type: ignore[no-untyped-def]
    it = factory.user("it")
    result = runner.invoke(["token", "create", "--user", it.email, "--scope", "station"])
    assert result.exit_code == 0, result.output
