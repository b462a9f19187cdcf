"""Security headers on every response, the JSON API included, and HSTS only over HTTPS (a proxy's word for it
only when PHONEGATE_TRUST_PROXY says one is in front)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import create_app


@pytest.fixture
def proxied_app(db_url: str, tmp_path: Path):
    from fixtures_server import FreshContextClient, _dispose

    made = create_app({"TESTING": True, "PHONEGATE_DATABASE_URL": db_url,
                       "PHONEGATE_INSTANCE": str(tmp_path / "proxied"), "PHONEGATE_TRUST_PROXY": "1"})
    made.test_client_class = FreshContextClient
    yield made
    _dispose(made)


API_PATHS = ["/api/v1/devices", "/api/v1/openapi.json", "/api/v1/no-such-thing"]
SAME_ON_EVERY_RESPONSE = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                          "Referrer-Policy": "same-origin"}


@pytest.mark.parametrize("path", API_PATHS)
@pytest.mark.parametrize(("header", "value"), SAME_ON_EVERY_RESPONSE.items())
def test_api_responses_carry_the_security_headers(client, path, header, value):
    assert client.get(path).headers.get(header) == value


@pytest.mark.parametrize("path", API_PATHS)
def test_api_responses_carry_a_csp_that_lets_nothing_run(client, path):
    csp = client.get(path).headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("path", API_PATHS)
def test_api_responses_are_not_stored(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_authenticated_api_responses_are_not_stored(client, factory):
    token, _ = factory.token(scope="provision")
    response = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("header", "value"), SAME_ON_EVERY_RESPONSE.items())
def test_pages_carry_the_same_headers(client, web, header, value):
    web.sign_in(client, web.manager)
    assert client.get("/").headers.get(header) == value


def test_pages_carry_the_page_csp_with_a_nonce(client, web):
    web.sign_in(client, web.manager)
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp


def test_signed_in_pages_are_not_stored(client, web):
    web.sign_in(client, web.manager)
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_static_assets_keep_their_caching(client):
    response = client.get("/assets/phonegate.css")
    response.close()  # a file response: let go of the file
    assert "max-age=3600" in response.headers["Cache-Control"]


def test_no_hsts_over_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.parametrize("path", ["/login", "/api/v1/devices", "/healthz"])
def test_hsts_over_https(client, path):
    response = client.get(path, base_url="https://phonegate.council.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_forwarded_proto_is_ignored_without_a_trusted_proxy(client):
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_forwarded_proto_counts_behind_a_trusted_proxy(proxied_app):
    response = proxied_app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_cookies_are_secure_behind_a_trusted_tls_proxy(proxied_app):
    response = proxied_app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_trusted_proxys_client_address_is_used(proxied_app):
    from flask import request

    seen = []
    proxied_app.before_request(lambda: seen.append(request.remote_addr))
    proxied_app.test_client().get("/healthz", headers={"X-Forwarded-For": "192.0.2.7"})
    assert seen == ["192.0.2.7"]
