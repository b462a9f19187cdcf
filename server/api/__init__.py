"""The JSON API at /api/v1: one resource module per resource, each exposing `blp`, a server.api.common.Blueprint.

To add a resource: write server/api/<name>.py with `blp = Blueprint(...)` (from server.api.common), input schemas
derived from common.StrictSchema, `@token_required(...)` on every view, and add its module path to RESOURCES.
init_app refuses to start with a blueprint of another class or a view without scopes.
The OpenAPI document (/api/v1/openapi.json) is built from the same marshmallow schemas that validate requests.
"""

from __future__ import annotations

import importlib

from flask import Flask

from server.api import auth, common
from server.extensions import api, csrf
from server.url_converters import PathTextConverter, path_text_schema

RESOURCES: tuple[str, ...] = (
    "server.api.devices",
    "server.api.enrolments",
    "server.api.policies",
    "server.api.catalogue",
    "server.api.grants",
    "server.api.installations",
    "server.api.compliance",
    "server.api.spot_checks",
)

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "An API token from `phonegate token create`."}


def init_app(app: Flask) -> None:
    api.ERROR_SCHEMA = common.ErrorSchema  # what server/errors.py really sends, `error` included
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    api.flask_plugin.register_converter(PathTextConverter, path_text_schema)  # before the paths are documented
    # First of the request hooks that may read a body (server/request_guard.py comes after it).
    app.before_request(auth.authenticate_request)
    for module_name in RESOURCES:
        blp = importlib.import_module(module_name).blp
        if not isinstance(blp, common.Blueprint):
            raise TypeError(f"{module_name}.blp must be a server.api.common.Blueprint")
        csrf.exempt(blp)  # bearer tokens, not cookies: there is no cross-site request to forge
        api.register_blueprint(blp)
    auth.check_every_endpoint_declares_scopes(app)


__all__ = ["api", "init_app"]
