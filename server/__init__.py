"""The PhoneGate server: `create_app()` builds the Flask app (web pages at /, JSON API at /api/v1).

Layers: HTTP (server/api/, server/web/) -> services (server/services/: plain functions on a session) -> models
(server/models/). Views stay thin; rules live in services and in database constraints.

Web pages join through `server.web.init_app(app)` and the API through `server.api.init_app(app)`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from phonegate.core.files import private_folder
from server.settings import Settings, load_or_create_secret_key

def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` keys starting with PHONEGATE_ override the environment; others go to app.config."""
    overrides = dict(test_config or {})
    env_overrides = {k: str(v) for k, v in overrides.items() if k.startswith("PHONEGATE_")}
    settings = Settings.from_environ({**os.environ, **env_overrides})
    if not settings.secret_key:
        settings = replace(settings, secret_key=load_or_create_secret_key(settings.instance_path))
    private_folder(settings.instance_path)  # database, secret key, catalogue, uploads: 0700

    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=False)
    app.config.from_mapping(
        PHONEGATE=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        MAX_CONTENT_LENGTH=512 * 1024 * 1024,  # APK uploads are the largest bodies
        API_TITLE="PhoneGate",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update({k: v for k, v in overrides.items() if not k.startswith("PHONEGATE_")})

    from server import database, errors, request_guard, url_converters
    from server.extensions import csrf, db, limiter, migrate

    url_converters.init_app(app)  # before any route is added: rules take the converters they name at that moment

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_directory()))
    csrf.init_app(app)
    limiter.init_app(app)

    from server import api, http_security, operations, web

    http_security.init_app(app)
    operations.init_app(app)
    api.init_app(app)  # registers the API's token check first among the hooks that may read a body
    request_guard.init_app(app)
    web.init_app(app)
    errors.init_app(app)
    return app


def _engine_options(settings: Settings) -> dict[str, Any]:
    # hide_parameters: SQL logged at INFO/DEBUG, and database errors, never show the values (emails, hashes).
    if settings.is_sqlite:
        # Writers wait for each other (up to 30 s) instead of failing with "database is locked".
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    return {"pool_pre_ping": True, "hide_parameters": True}


def _migrations_directory() -> Path:
    return Path(__file__).resolve().parent.parent / "migrations"
