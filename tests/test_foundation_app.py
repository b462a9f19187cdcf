"""The app factory: settings from the environment, the instance folder, SQLite set-up, routes that must exist."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import text

from phonegate.core.errors import BadInput
from server import create_app
from server.extensions import db
from server.settings import Settings


def _dispose(app):
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_defaults_put_sqlite_and_a_secret_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("PHONEGATE_DATABASE_URL", raising=False)
    monkeypatch.delenv("PHONEGATE_SECRET_KEY", raising=False)
    monkeypatch.setenv("PHONEGATE_INSTANCE", str(tmp_path / "inst"))
    app = create_app()
    settings = app.config["PHONEGATE"]
    assert isinstance(settings, Settings)
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'phonegate.sqlite3'}"
    key_file = tmp_path / "inst" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert app.secret_key == key_file.read_text().strip()
    assert len(app.secret_key) >= 64
    # Generated once: a second app (a restart) reuses it, so sessions survive.
    second = create_app()
    assert second.secret_key == app.secret_key
    _dispose(app)
    _dispose(second)


def test_configured_secret_key_is_used_and_nothing_is_written(tmp_path):
    app = create_app({"PHONEGATE_INSTANCE": str(tmp_path), "PHONEGATE_SECRET_KEY": "k" * 40})
    assert app.secret_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()
    _dispose(app)


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    app = create_app({"PHONEGATE_INSTANCE": str(tmp_path)})
    with app.app_context():
        assert db.session.scalar(text("PRAGMA journal_mode")) == "wal"
        assert db.session.scalar(text("PRAGMA foreign_keys")) == 1
    _dispose(app)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_postgres_urls_use_psycopg3(url, expected, tmp_path):
    settings = Settings.from_environ({"PHONEGATE_DATABASE_URL": url, "PHONEGATE_INSTANCE": str(tmp_path)})
    assert settings.database_url == expected


def test_unsupported_database_url_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="PHONEGATE_DATABASE_URL"):
        Settings.from_environ({"PHONEGATE_DATABASE_URL": "mysql://x/y", "PHONEGATE_INSTANCE": str(tmp_path)})


def test_openapi_document_lists_the_foundation_resources(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    for path in ("/api/v1/devices", "/api/v1/devices/{serial}", "/api/v1/enrolments", "/api/v1/enrolments/{request_id}"):
        assert path in document["paths"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["paths"]["/api/v1/devices"]["post"]["security"] == [{"bearerAuth": []}]


def test_login_page_routes(client):
    assert client.get("/login").status_code == 200


def test_unknown_api_path_answers_json_and_unknown_page_answers_html(client):
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.is_json
    assert set(api.get_json()) >= {"code", "status", "message", "errors"}
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.mimetype == "text/html"


def test_the_app_fixture_starts_from_empty_tables(app, factory):
    from server.models import AuditEntry, Service

    assert db.session.scalar(db.select(db.func.count(Service.id))) == 0
    assert db.session.scalar(db.select(db.func.count(AuditEntry.id))) == 0
    factory.service()
    assert db.session.scalar(db.select(db.func.count(Service.id))) == 1
